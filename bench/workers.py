"""Edge-HIT throughput of ``ferryman serve`` with one worker and with two, in one run.

Seeds a SQLite database as bench/updater.py does and starts ``ferryman serve`` on it twice:
``FERRYMAN_WORKERS=1`` and ``FERRYMAN_WORKERS=2`` (default log level, the per-address limit
on update checks off). wrk asks each for the same update check, answered by the edge
cache; every worker keeps its own edge, so a warm-up run fills them all first. Rounds
alternate between the two servers, so a noisy neighbour hurts both alike; the table gives
each one's median round and the ratio of two workers to one.

wrk runs on the same cores as the servers, so two workers never have two cores to
themselves: the table also gives the CPU time per request of the server (every process of
it) and of wrk, the most two workers could reach beside wrk (two cores divided by both
costs, against one worker's rate), and what two workers would reach on two cores of their
own (twice one worker's CPU cost per request over two workers' cost). With
``--pipeline N`` wrk writes N requests at a time on each connection (as in TechEmpower's
plaintext test), which spends far less of its CPU per request and leaves the cores to the
servers.

    .venv/bin/python bench/workers.py [--seconds 10] [--rounds 3] [--connections 64]
        [--pipeline 16]

Needs ``wrk`` (Debian package). Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: bench/, tests/
from bench.machine import load_average, machine
from bench.updater import cpu_seconds, seed, wrk
from tests.services import ServerProcess, sqlite_url

CHECK = "/small/update/linux/x86_64/0.1.0"
THREADS = 2
WARM_UP_SECONDS = 1

Run = tuple[float, str, str, float, float]  # requests/s, p50, p99, CPU µs/request: server, wrk


# wrk's Lua hooks: every write sends DEPTH requests for the URL wrk was given.
PIPELINE = """
init = function(args)
  local batch = {}
  for i = 1, DEPTH do batch[i] = wrk.format() end
  request_batch = table.concat(batch)
end
request = function() return request_batch end
"""


def measured(server: ServerProcess, seconds: int, connections: int, script: Path | None) -> Run:
    """One wrk run, with the CPU time the server's processes and wrk spent per request."""
    assert server.process is not None
    processes = family(server.process.pid)
    before = sum(map(cpu_seconds, processes))
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    url = server.url + CHECK
    rps, p50, p99 = wrk(url, seconds, connections, threads=THREADS, script=script)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    served = rps * seconds
    loader = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    server_cpu = sum(map(cpu_seconds, processes)) - before
    return rps, p50, p99, server_cpu / served * 1e6, loader / served * 1e6


def family(pid: int) -> list[int]:
    """The process and its descendants (uvicorn's supervisor and its workers)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue  # ended meanwhile
            parents.setdefault(int(stat.rpartition(")")[2].split()[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += parents.get(current, [])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--pipeline", type=int, default=1, help="requests per write")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    load = load_average()  # before the servers and wrk add theirs
    work = Path(tempfile.mkdtemp(prefix="ferryman-bench-"))
    database = sqlite_url(work / "bench.sqlite3")
    asyncio.run(seed(database, {"small": 10}))
    env = {
        "FERRYMAN_DATABASE_URL": database,
        # wrk asks from one address: the per-address limit on origin checks would answer 429.
        "FERRYMAN_RATE_LIMIT_UPDATES": "0",
        # The check never touches the bucket; the client only needs an endpoint to exist.
        "FERRYMAN_S3_ENDPOINT": "http://127.0.0.1:9",
        "FERRYMAN_S3_ACCESS_KEY_ID": "unused",
        "FERRYMAN_S3_SECRET_ACCESS_KEY": "unused",
    }
    script = None
    if args.pipeline > 1:
        script = work / "pipeline.lua"
        script.write_text(PIPELINE.replace("DEPTH", str(args.pipeline)))
    servers = {
        workers: ServerProcess({**env, "FERRYMAN_WORKERS": str(workers)}, work / f"{workers}.log")
        for workers in (1, 2)
    }
    results: dict[int, list[Run]] = {workers: [] for workers in servers}
    try:
        with servers[1], servers[2]:
            for server in servers.values():
                server.start()
                wrk(server.url + CHECK, WARM_UP_SECONDS, args.connections, threads=THREADS)
            for _ in range(args.rounds):
                for workers, server in servers.items():
                    run = measured(server, args.seconds, args.connections, script)
                    results[workers].append(run)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    medians = {workers: sorted(runs)[len(runs) // 2] for workers, runs in results.items()}
    print(f"machine: {machine()}; load average at the start {load}")
    print(
        f"wrk -t{THREADS} -c{args.connections} -d{args.seconds}s"
        f"{f', {args.pipeline} requests per write' if script else ''}, edge HIT, median of "
        f"{args.rounds} interleaved rounds, SQLite\n"
    )
    print(
        "| ferryman serve | requests/s | p50 | p99 | vs 1 worker | server CPU per request "
        "| wrk CPU per request |\n| --- | --- | --- | --- | --- | --- | --- |"
    )
    for workers, (rps, p50, p99, server_cpu, loader) in medians.items():
        label = "1 worker" if workers == 1 else f"{workers} workers"
        print(
            f"| {label} | {rps:,.0f} | {p50} | {p99} | {rps / medians[1][0]:.2f}x "
            f"| {server_cpu:.1f} µs | {loader:.1f} µs |"
        )
    one, two = medians[1], medians[2]
    cores = len(os.sched_getaffinity(0))
    beside_wrk = cores / (two[3] + statistics.mean((one[4], two[4]))) * 1e6 / one[0]
    print(
        f"\nThe most two workers could serve beside wrk on these {cores} cores: "
        f"{beside_wrk:.2f}x one worker; on two cores of their own: {2 * one[3] / two[3]:.2f}x."
    )


if __name__ == "__main__":
    main()
