"""Where an update check's time goes: py-spy samples the server while wrk loads it.

Starts ``ferryman serve`` on the default settings (request ids, metrics, the access log at
its default level) over a seeded SQLite database, loads one case with wrk and samples the
process with py-spy for the same seconds. Prints the functions that were on the CPU most
(own time) and the project functions that were on the stack most (own time plus callees),
as shares of all samples.

    .venv/bin/python bench/profile.py [--case hit|licensed|origin] [--seconds 10] [--top 15]

``hit`` is an edge-cache HIT; ``licensed`` a HIT of a LICENSED app's check carrying its
licence; ``origin`` the check with the edge cache off (a warm index).
With ``--idle`` samples where the process waits are kept too (what it waits on).
Needs ``wrk`` (Debian package) and py-spy (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench/
from bench.machine import load_average, machine
from bench.updater import CHECK, LICENSE, free_port, running, seed, server_env, warm

# A project frame: "name (src/module.py:line)" from a checkout, "(ferryman/…)" when installed.
PROJECT = re.compile(r"\((?:src|ferryman)/")
LINE = re.compile(r":\d+\)$")  # functions are counted whole, not line by line


def profile(pid: int, seconds: int, idle: bool, output: Path) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250"]
    command += ["--format", "raw", "--output", str(output), "--nonblocking"]
    if idle:
        command.append("--idle")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def tally(raw: Path) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """All samples, samples per leaf frame, and samples with a project frame on the stack."""
    total = 0
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        frames = [LINE.sub(")", frame) for frame in stack.split(";")]
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            if PROJECT.search(frame):
                inclusive[frame] += samples
    return total, own, inclusive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("hit", "licensed", "origin"), default="hit")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--idle", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep py-spy's raw samples")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="ferryman-profile-"))
    database = f"sqlite://{work / 'bench.sqlite3'}"
    slug = "paid" if args.case == "licensed" else "small"
    asyncio.run(seed(database, {slug: 10}))
    port = free_port()
    env = server_env(database, port, edge=args.case != "origin")
    command = [sys.executable, "-m", "ferryman", "serve"]
    url = f"http://127.0.0.1:{port}" + CHECK.format(slug)
    sent = ["-H", f"X-License-Key: {LICENSE.secret}"] if args.case == "licensed" else []
    raw = work / "profile.txt"
    with running(command, env, port) as server:
        warm(url, ("X-License-Key", LICENSE.secret) if sent else None)
        spy = profile(server.pid, args.seconds, args.idle, raw)
        load = threading.Thread(
            target=subprocess.run,
            args=(["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", *sent, url],),
            kwargs={"capture_output": True, "check": True},
        )
        load.start()
        load.join()
        spy.wait()
    total, own, inclusive = tally(raw)
    if args.keep:
        print(f"raw samples kept in {raw}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {machine()}\nload average: {load_average()}")
    print(f"case: {args.case}, wrk -t1 -c{args.connections} -d{args.seconds}s, {total} samples\n")
    print("| own time | function |\n| --- | --- |")
    for frame, samples in own.most_common(args.top):
        print(f"| {samples / total:.1%} | `{frame}` |")
    print("\n| on the stack | project function |\n| --- | --- |")
    for frame, samples in inclusive.most_common(args.top):
        print(f"| {samples / total:.1%} | `{frame}` |")


if __name__ == "__main__":
    main()
