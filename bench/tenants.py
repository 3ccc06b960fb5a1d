"""Many tenants: resident memory, cold first answers and HIT throughput with every app loaded.

One ``ferryman serve`` (one worker, SQLite, the default log level, the update rate limit off)
on a database of ``--apps`` apps, each with ``--releases`` published releases carrying a READY
artifact on each of ``--platforms`` platform keys. Every app is then checked once, from an old
version on linux-x86_64, each check on a fresh connection, as an install's first check of the
day is. Measured:

1. the server's resident memory (VmRSS) at start and after every app was checked once, and
   the growth per 1,000 artifacts loaded; the same again for each of ``--steps`` (fewer
   releases per app, same apps and platforms, each in a fresh database and server), so the
   growth can be seen to be linear in releases x platforms;
2. the time to the first answer of an app nobody asked for yet (its index built from the
   database), median and p90, against a check of a warm app on a fresh connection;
3. ``wrk -t1 -c64 --latency`` on a warm app's edge HIT alone, then while a client keeps
   making first checks of cold apps, then alone again.

    .venv/bin/python bench/tenants.py [--apps 1000] [--releases 100] [--platforms 6]
        [--steps 25,50] [--seconds 10] [--connections 64]

Needs ``wrk`` (Debian package). Prints Markdown tables for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import http.client
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from ferryman.models.ids import new_id
from ferryman.models.registry import migrate
from ferryman.models.status import ArtifactStatus, ReleaseStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: bench/, tests/
from bench.machine import load_average, machine
from bench.updater import read_wrk
from tests.services import ServerProcess, sqlite_url

SIGNATURE = Path(__file__).parents[1] / "tests" / "data" / "tauri" / "MyApp.app.tar.gz.sig"
# Tauri's keys, most common first; --platforms takes the first N.
PLATFORMS = (
    "linux-x86_64",
    "windows-x86_64",
    "darwin-aarch64",
    "darwin-x86_64",
    "linux-aarch64",
    "windows-aarch64",
    "windows-i686",
    "linux-armv7",
    "linux-x86_64-deb",
    "linux-x86_64-rpm",
    "windows-x86_64-msi",
    "linux-riscv64",
)
CHECK = "/{}/update/linux/x86_64/0.1.0"
MIB = 1024 * 1024


def slugs(apps: int) -> list[str]:
    return [f"tenant-{n:05d}" for n in range(apps)]


def seed(path: Path, apps: int, releases: int, platforms: int) -> None:
    """Migrate, then write every row with ``executemany`` in one transaction, without
    model instances, so 600,000 artifacts take seconds. The rows are those the ORM writes
    (timestamps as Tortoise stores them on SQLite)."""
    asyncio.run(migrate(sqlite_url(path)))
    signature = SIGNATURE.read_text()
    now = str(datetime.now(UTC))
    ready, published = ArtifactStatus.READY.value, ReleaseStatus.PUBLISHED.value
    keys = PLATFORMS[:platforms]
    made = [(new_id("app"), slug) for slug in slugs(apps)]
    # (app id, slug, release id, version) for every release, oldest first within an app.
    rows = [
        (app_id, slug, new_id("rel"), f"1.{n}.0") for app_id, slug in made for n in range(releases)
    ]
    database = sqlite3.connect(path)
    try:
        database.execute("PRAGMA synchronous = OFF")
        with database:
            database.executemany(
                "INSERT INTO apps (id, slug, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                ((app_id, slug, slug, now, now) for app_id, slug in made),
            )
            database.executemany(
                "INSERT INTO releases (id, app_id, version, status, pub_date, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((rel, app, version, published, now, now, now) for app, _, rel, version in rows),
            )
            database.executemany(
                "INSERT INTO artifacts (id, release_id, platform, signature, object_key, "
                "download_url, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        new_id("art"),
                        rel,
                        key,
                        signature,
                        f"{slug}/{version}/{key}/MyApp.app.tar.gz",
                        f"https://updates.example.com/dl/{app}/{version}/{key}",
                        ready,
                        now,
                        now,
                    )
                    for app, slug, rel, version in rows
                    for key in keys
                ),
            )
    finally:
        database.close()


def rss(pid: int) -> int:
    """The process's resident memory in bytes (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_check(port: int, slug: str) -> float:
    """Seconds from connecting to the whole answer: one check on a connection of its own."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", CHECK.format(slug))
        answer = connection.getresponse()
        body = answer.read()
    finally:
        connection.close()
    elapsed = time.perf_counter() - started
    if answer.status != 200 or b'"version"' not in body:
        raise RuntimeError(f"{slug}: {answer.status} {body[:200]!r}")
    return elapsed


@dataclasses.dataclass
class Wrk:
    rps: float
    p50: str
    p99: str


def wrk(url: str, seconds: int, connections: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        stdout=subprocess.PIPE,
        text=True,
    )


def wrk_result(process: subprocess.Popen[str]) -> Wrk:
    output, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed:\n{output}")
    return Wrk(*read_wrk(output))


@dataclasses.dataclass
class Size:
    """What one database size measured."""

    releases: int
    artifacts: int
    seed_seconds: float
    database_mib: float
    start: int  # bytes
    loaded: int  # bytes, after every app was checked once
    cold: list[float]  # seconds, first checks on an otherwise idle server
    warm: list[float]  # seconds, checks of a warm app on a fresh connection
    idle_cpu: float  # percent of one CPU, the loaded server doing nothing

    @property
    def growth(self) -> int:
        return self.loaded - self.start


@dataclasses.dataclass
class Throughput:
    alone: list[Wrk]  # before and after
    loading: Wrk
    cold: list[float]  # the first checks made while wrk ran
    covered: float  # the share of wrk's run during which first checks were being made


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[int(share * (len(ordered) - 1))]


def ms(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{1000 * statistics.median(values):.1f} / {1000 * percentile(values, 0.9):.1f} ms"


def measure(
    work: Path, args: argparse.Namespace, releases: int, throughput: bool
) -> tuple[Size, Throughput | None]:
    path = work / f"tenants-{releases}.sqlite3"
    started = time.monotonic()
    seed(path, args.apps, releases, args.platforms)
    seeded = time.monotonic() - started
    env = {
        "FERRYMAN_DATABASE_URL": sqlite_url(path),
        # One client address makes every check: the per-address limit would answer 429.
        "FERRYMAN_RATE_LIMIT_UPDATES": "0",
        # The check never touches the bucket; the client only needs an endpoint to exist.
        "FERRYMAN_S3_ENDPOINT": "http://127.0.0.1:9",
        "FERRYMAN_S3_ACCESS_KEY_ID": "unused",
        "FERRYMAN_S3_SECRET_ACCESS_KEY": "unused",
    }
    names = slugs(args.apps)
    warm_app, rest = names[0], names[1:]
    result: Throughput | None = None
    with ServerProcess(env, work / f"server-{releases}.log") as server:
        server.start()
        assert server.process is not None
        pid = server.process.pid
        time.sleep(1)  # the first generation poll has read every app's row
        start = rss(pid)
        cold = [first_check(server.port, warm_app)]
        warm = [first_check(server.port, warm_app) for _ in range(100)]
        if throughput:
            # A quarter of the apps first checked on an idle server; the others while wrk runs.
            idle, rest = rest[: len(rest) // 4], rest[len(rest) // 4 :]
            cold += [first_check(server.port, slug) for slug in idle]
            result = hits_while_loading(server.port, warm_app, rest, args)
            rest = rest[len(result.cold) :]
        cold += [first_check(server.port, slug) for slug in rest]
        time.sleep(1)
        loaded = rss(pid)
        before = cpu_seconds(pid)
        time.sleep(3)
        idle_cpu = 100 * (cpu_seconds(pid) - before) / 3
    size = Size(
        releases=releases,
        artifacts=args.apps * releases * args.platforms,
        seed_seconds=seeded,
        database_mib=path.stat().st_size / MIB,
        start=start,
        loaded=loaded,
        cold=cold,
        warm=warm,
        idle_cpu=idle_cpu,
    )
    for leftover in work.glob(f"tenants-{releases}.sqlite3*"):
        leftover.unlink()
    return size, result


def hits_while_loading(
    port: int, warm_app: str, cold_apps: list[str], args: argparse.Namespace
) -> Throughput:
    url = f"http://127.0.0.1:{port}" + CHECK.format(warm_app)
    before = wrk_result(wrk(url, args.seconds, args.connections))
    seen: list[float] = []
    running = threading.Event()
    running.set()
    ended = [0.0]

    def load() -> None:
        for slug in cold_apps:
            if not running.is_set():
                return
            seen.append(first_check(port, slug))
        ended[0] = time.monotonic()

    process = wrk(url, args.seconds, args.connections)
    began = time.monotonic()
    loader = threading.Thread(target=load)
    loader.start()
    loading = wrk_result(process)
    finished = time.monotonic()
    running.clear()
    loader.join()
    covered = 1.0 if not ended[0] else (ended[0] - began) / (finished - began)
    after = wrk_result(wrk(url, args.seconds, args.connections))
    return Throughput([before, after], loading, seen, min(covered, 1.0))


def fit(sizes: list[Size], apps: int) -> str:
    """Least squares of growth on artifacts (same apps in every size): MiB per 1,000
    artifacts at the margin, and what is left per app."""
    if len(sizes) < 2:
        return ""
    xs = [s.artifacts for s in sizes]
    ys = [s.growth for s in sizes]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    intercept = mean_y - slope * mean_x
    worst = max(abs(y - (intercept + slope * x)) / y for x, y in zip(xs, ys, strict=True))
    return (
        f"Least squares over the {len(sizes)} sizes: {slope * 1000 / MIB:.3f} MiB per 1,000 "
        f"artifacts at the margin, {intercept / apps / 1024:.1f} KiB per app besides; "
        f"the worst size is {100 * worst:.2f} % off the line."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--releases", type=int, default=100)
    parser.add_argument("--platforms", type=int, default=6, choices=range(1, len(PLATFORMS) + 1))
    parser.add_argument(
        "--steps",
        default="25,50",
        help="smaller release counts measured for memory and cold answers ('' for none)",
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    steps = sorted({int(s) for s in args.steps.split(",") if s.strip()} - {args.releases})
    launched = load_average()
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="ferryman-bench-"))
    try:
        measured = [measure(work, args, releases, False)[0] for releases in steps]
        largest, throughput = measure(work, args, args.releases, True)
        measured.append(largest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wall = time.monotonic() - began
    assert throughput is not None

    print(f"machine: {machine()}")
    print(
        f"load average {launched} at launch, {load_average()} after; {args.apps} apps x "
        f"{args.platforms} platforms ({', '.join(PLATFORMS[: args.platforms])}); one worker, "
        f"SQLite, log level INFO; wall time {wall:.0f} s"
    )
    print()
    print(
        "| releases per app | artifacts | seed | database | RSS at start | RSS, every app "
        "checked | growth | per 1,000 artifacts | first answer, cold app (median / p90) "
        "| warm app, fresh connection | idle CPU |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in measured:
        print(
            f"| {s.releases} | {s.artifacts:,} | {s.seed_seconds:.1f} s "
            f"| {s.database_mib:,.0f} MiB | {s.start / MIB:.1f} MiB | {s.loaded / MIB:.1f} MiB "
            f"| {s.growth / MIB:.1f} MiB | {s.growth / s.artifacts * 1000 / MIB:.3f} MiB "
            f"| {ms(s.cold)} | {ms(s.warm)} | {s.idle_cpu:.1f} % |"
        )
    line = fit(measured, args.apps)
    if line:
        print(f"\n{line}")
    t = throughput
    alone = statistics.fmean(w.rps for w in t.alone)
    print()
    print(
        f"| wrk -t1 -c{args.connections} -d{args.seconds}s, warm app's edge HIT "
        f"({args.releases} releases per app) | requests/s | vs alone | p50 | p99 |"
    )
    print("| --- | --- | --- | --- | --- |")
    cases = [
        ("alone, before", t.alone[0]),
        (
            f"while {len(t.cold)} cold apps get their first check "
            f"({len(t.cold) / args.seconds:.1f}/s, {ms(t.cold)} each, "
            f"for {100 * t.covered:.0f} % of the run)",
            t.loading,
        ),
        ("alone, after", t.alone[1]),
    ]
    for label, w in cases:
        print(f"| {label} | {w.rps:,.0f} | {w.rps / alone:.2f}x | {w.p50} | {w.p99} |")


if __name__ == "__main__":
    main()
