"""Edge-HIT throughput of ``ferryman serve`` with one worker and with two, in one run.

Seeds a SQLite database as bench/updater.py does and starts ``ferryman serve`` on it twice:
``FERRYMAN_WORKERS=1`` and ``FERRYMAN_WORKERS=2`` (default log level, the per-address limit
on update checks off). wrk asks each for the same update check, answered by the edge
cache; every worker keeps its own edge, so a warm-up run fills them all first. Rounds
alternate between the two servers, so a noisy neighbour hurts both alike; the table gives
each one's median round and the ratio of two workers to one.

    .venv/bin/python bench/workers.py [--seconds 10] [--rounds 3] [--connections 64]

Needs ``wrk`` (Debian package). Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: bench/, tests/
from bench.machine import load_average, machine
from bench.updater import seed, wrk
from tests.services import ServerProcess, sqlite_url

CHECK = "/small/update/linux/x86_64/0.1.0"
THREADS = 2
WARM_UP_SECONDS = 1

Run = tuple[float, str, str]  # requests/s, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
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
                    results[workers].append(
                        wrk(server.url + CHECK, args.seconds, args.connections, threads=THREADS)
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    medians = {workers: sorted(runs)[len(runs) // 2] for workers, runs in results.items()}
    print(f"machine: {machine()}; load average at the start {load}")
    print(
        f"wrk -t{THREADS} -c{args.connections} -d{args.seconds}s, edge HIT, median of "
        f"{args.rounds} interleaved rounds, SQLite\n"
    )
    print(
        "| ferryman serve | requests/s | p50 | p99 | vs 1 worker |\n| --- | --- | --- | --- | --- |"
    )
    for workers, (rps, p50, p99) in medians.items():
        label = "1 worker" if workers == 1 else f"{workers} workers"
        print(f"| {label} | {rps:,.0f} | {p50} | {p99} | {rps / medians[1][0]:.2f}x |")


if __name__ == "__main__":
    main()
