"""What counting every update check costs the edge HIT path: the same checks against a
server with analytics on (the default) and one with ``FERRYMAN_ANALYTICS=none``, in
interleaved rounds of one run, so the ratio means something on a shared machine.

Two loads:

1. the same check again and again (one address, one user agent): the benchmark every
   other HIT figure uses;
2. every request a different install (a fresh ``X-Install-Id``) that says when it last
   checked (``X-Last-Check-Day``): each one is a new token for the sketch and an exact
   daily active, the most counting a check can cost.

    .venv/bin/python bench/analytics.py [--seconds 5] [--rounds 3] [--connections 32]

Needs ``wrk`` (Debian package) and Linux. Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench/
from bench.machine import machine
from bench.updater import (
    CHECK,
    cpu_seconds,
    free_port,
    median_run,
    running,
    seed,
    server_env,
    wrk,
    wrk_options,
)

# A new install on every request: an id made from a counter wrk's Lua keeps per thread,
# and yesterday as the day of its last check.
NEW_INSTALLS = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", nil, {
    ["X-Install-Id"] = string.format("bench-%d-%d", math.random(1, 1000000000), counter),
    ["X-Last-Check-Day"] = "YESTERDAY",
  })
end
"""


def main() -> None:
    args = wrk_options(__doc__)
    work = Path(tempfile.mkdtemp(prefix="ferryman-bench-"))
    database = f"sqlite://{work / 'bench.sqlite3'}"
    asyncio.run(seed(database, {"small": 10}))
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    script = work / "installs.lua"
    script.write_text(NEW_INSTALLS.replace("YESTERDAY", yesterday))
    ferryman = [sys.executable, "-m", "ferryman", "serve"]
    on_port, off_port = free_port(), free_port()
    on_env = server_env(database, on_port)
    off_env = {**server_env(database, off_port), "FERRYMAN_ANALYTICS": "none"}
    loads: dict[str, Path | None] = {"same check": None, "a new install each": script}
    servers = {"counting": on_port, "not counting": off_port}
    results: dict[tuple[str, str], list[tuple[float, str, str]]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    with (
        running(ferryman, on_env, on_port) as on_server,
        running(ferryman, off_env, off_port) as off_server,
    ):
        pids = {on_port: on_server.pid, off_port: off_server.pid}
        for _ in range(args.rounds):  # interleaved: a noisy neighbour hurts all alike
            for load, lua in loads.items():
                for server, port in servers.items():
                    url = f"http://127.0.0.1:{port}" + CHECK.format("small")
                    before = cpu_seconds(pids[port])
                    run = wrk(url, args.seconds, args.connections, script=lua)
                    spent = (cpu_seconds(pids[port]) - before) / (run[0] * args.seconds)
                    results.setdefault((load, server), []).append(run)
                    cpu.setdefault((load, server), []).append(spent)
    shutil.rmtree(work, ignore_errors=True)

    print(
        f"machine: {machine()}\nwrk -t1 -c{args.connections} -d{args.seconds}s, median of "
        f"{args.rounds} interleaved rounds, uvicorn 1 worker, edge HITs\n"
    )
    print(
        "| load | requests/s not counting | requests/s counting | kept "
        "| CPU per request not counting | counting |\n"
        "| --- | --- | --- | --- | --- | --- |"
    )
    for load in loads:
        off = median_run(results[load, "not counting"])[0]
        on = median_run(results[load, "counting"])[0]
        off_cpu = statistics.median(cpu[load, "not counting"]) * 1e6
        on_cpu = statistics.median(cpu[load, "counting"]) * 1e6
        print(
            f"| {load} | {off:,.0f} | {on:,.0f} | {on / off:.1%} "
            f"| {off_cpu:.1f} µs | {on_cpu:.1f} µs |"
        )


if __name__ == "__main__":
    main()
