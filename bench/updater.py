"""Update-check throughput and latency with wrk, all in one run so the ratios mean something.

Measures, against uvicorn (one worker) on loopback:

1. a bare ASGI app that returns the same bytes as an update answer (the ceiling), and the
   same app sending the HIT's own headers too (uvicorn spends about half a microsecond on
   each header it writes);
2. the update check answered by the edge cache (HIT);
3. the update check with the edge cache off and a warm manifest index (the origin path);
4. the same two for an app with 10 000 published releases instead of 10;
5. edge HITs of a LICENSED app (the licence judged before the lookup) and of an app with a
   partial rollout (the install id bucketed before the lookup).

    .venv/bin/python bench/updater.py [--seconds 5] [--rounds 3] [--connections 32]

Besides wrk's figures, the table gives the server's CPU time per request (its user and
system time from ``/proc`` over the run, divided by the requests served): on a busy machine
it moves far less than requests per second do.

Needs ``wrk`` (Debian package) and Linux. Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from tortoise import Tortoise, connections

from ferryman import auth
from ferryman.models import App, Artifact, CoveragePeriod, License, Release
from ferryman.models.ids import new_id
from ferryman.models.registry import migrate, tortoise_config
from ferryman.models.status import ArtifactStatus, Distribution, ReleaseStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench/
from bench.machine import machine

SIGNATURE = Path(__file__).parents[1] / "tests" / "data" / "tauri" / "MyApp.app.tar.gz.sig"
BARE_APP = """
import json, sys
BODY = open(sys.argv[1], "rb").read()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
if len(sys.argv) > 3:
    HEADERS = [(n.encode(), v.encode()) for n, v in json.load(open(sys.argv[3]))]
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
import uvicorn
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


CHECK = "/{}/update/linux/x86_64/0.1.0"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # /proc counts CPU time in these


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


LICENSE = auth.mint(auth.LICENSE_PREFIX)


async def seed(url: str, apps: dict[str, int]) -> None:
    """Apps with N published releases each, every release with a READY linux artifact.

    The app ``paid`` is LICENSED (with one licence, ``LICENSE``); ``staged`` has its
    newest release rolled out to 10 %.
    """
    await migrate(url)
    await Tortoise.init(config=tortoise_config(url))
    signature = SIGNATURE.read_text()
    now = datetime.now(UTC)
    try:
        for slug, count in apps.items():
            licensed = Distribution.LICENSED if slug == "paid" else Distribution.OPEN
            app = await App.create(id=new_id("app"), slug=slug, name=slug, distribution=licensed)
            releases = [
                Release(
                    id=new_id("rel"),
                    app_id=app.id,
                    version=f"1.{n}.0",
                    status=ReleaseStatus.PUBLISHED,
                    pub_date=now,
                    rollout_percent=10 if slug == "staged" and n == count - 1 else 100,
                )
                for n in range(count)
            ]
            await Release.bulk_create(releases, batch_size=1000)
            await Artifact.bulk_create(
                [
                    Artifact(
                        id=new_id("art"),
                        release_id=r.id,
                        platform="linux-x86_64",
                        signature=signature,
                        object_key=f"{slug}/{r.version}",
                        download_url=f"https://dl.example.com/{slug}/{r.version}",
                        status=ArtifactStatus.READY,
                    )
                    for r in releases
                ],
                batch_size=1000,
            )
            if licensed is Distribution.LICENSED:
                license = await License.create(
                    id=new_id("lic"), app=app, key_hash=LICENSE.key_hash, prefix=LICENSE.prefix
                )
                await CoveragePeriod.create(
                    id=new_id("per"),
                    license=license,
                    starts_at=now - timedelta(days=30),
                    ends_at=now + timedelta(days=335),
                )
    finally:
        await connections.close_all()


def server_env(database: str, port: int, edge: bool = True) -> dict[str, str]:
    """``ferryman serve`` on its default settings (log level, request ids, metrics) but for
    what a benchmark from one address needs."""
    env = {
        **os.environ,
        "FERRYMAN_DATABASE_URL": database,
        "FERRYMAN_PORT": str(port),
        # wrk asks from one address: the per-address limit on origin checks would answer 429.
        "FERRYMAN_RATE_LIMIT_UPDATES": "0",
        # The check never touches the bucket; the client only needs an endpoint to exist.
        "FERRYMAN_S3_ENDPOINT": "http://127.0.0.1:9",
        "FERRYMAN_S3_ACCESS_KEY_ID": "unused",
        "FERRYMAN_S3_SECRET_ACCESS_KEY": "unused",
    }
    if not edge:
        env["FERRYMAN_EDGE_CACHE_BYTES"] = "0"
    return env


@contextmanager
def running(
    command: list[str], env: dict[str, str], port: int
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{command} did not start") from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def read_wrk(output: str) -> tuple[float, str, str]:
    """Requests per second, p50 and p99 latency from wrk's ``--latency`` report; a run that
    saw errors is no measurement."""
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    return rps, p50, p99


def warm(url: str, header: tuple[str, str] | None = None) -> None:
    """One check first, so the index is built and the edge filled before measuring."""
    headers = dict([header]) if header else {}
    answer = urllib.request.urlopen(urllib.request.Request(url, headers=headers))
    assert answer.status == 200, answer.status
    answer.read()


def wrk(
    url: str,
    seconds: int,
    connections: int,
    header: tuple[str, str] | None = None,
    threads: int = 1,
    script: Path | None = None,
) -> tuple[float, str, str]:
    """Load ``url`` (warmed first) and read wrk's report; ``script``: wrk's Lua script."""
    warm(url, header)
    sent = ["-H", f"{header[0]}: {header[1]}"] if header else []
    if script is not None:
        sent += ["-s", str(script)]
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", *sent, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return read_wrk(output)


def cpu_seconds(pid: int) -> float:
    """User plus system time the process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def hit_headers(url: str) -> list[tuple[str, str]]:
    """The headers of an edge HIT as the app sends them (uvicorn adds date and server)."""
    warm(url)
    with urllib.request.urlopen(url) as answer:
        assert answer.headers["CF-Cache-Status"] == "HIT", answer.headers
        return [(n.lower(), v) for n, v in answer.headers.items() if n.lower() not in UVICORNS]


UVICORNS = frozenset({"date", "server", "connection"})  # uvicorn's, and urllib's close


def loop_lag(url: str) -> dict[float, float]:
    """The server's ``ferryman_event_loop_lag_seconds`` buckets (upper bound: count so far)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.path == "/":
        return {}  # the bare app has no metrics
    text = urllib.request.urlopen(f"{parsed.scheme}://{parsed.netloc}/metrics").read().decode()
    return {
        float(sample.labels["le"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "ferryman_event_loop_lag_seconds"
        for sample in family.samples
        if sample.name.endswith("_bucket")
    }


def lag_summary(before: dict[float, float], after: dict[float, float]) -> str:
    """p99 and worst of the loop's lag between two readings, as bucket upper bounds."""
    ticks = {le: after[le] - before.get(le, 0.0) for le in after}
    total = ticks.get(math.inf, 0.0)
    if not total:
        return "n/a"
    bounds = sorted(ticks)
    p99 = next(le for le in bounds if ticks[le] >= 0.99 * total)
    worst = next(le for le in bounds if ticks[le] >= total)
    return f"≤{p99 * 1000:g} / ≤{worst * 1000:g} ms"


def wrk_options(doc: str | None) -> argparse.Namespace:
    """The options of a benchmark driven by wrk (how long, how many connections, how many
    rounds), once wrk is known to be installed."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    return args


def median_run(runs: list[tuple[float, str, str]]) -> tuple[float, str, str]:
    """The run with the median requests/s, with its own latencies."""
    return sorted(runs)[len(runs) // 2]


def main() -> None:
    args = wrk_options(__doc__)
    work = Path(tempfile.mkdtemp(prefix="ferryman-bench-"))
    database = f"sqlite://{work / 'bench.sqlite3'}"
    asyncio.run(seed(database, {"small": 10, "large": 10_000, "paid": 10, "staged": 10}))
    check = CHECK
    ferryman = [sys.executable, "-m", "ferryman", "serve"]
    edge_port, origin_port = free_port(), free_port()
    bare_port, headed_port = free_port(), free_port()
    edge_env = server_env(database, edge_port)
    origin_env = server_env(database, origin_port, edge=False)
    with (
        running(ferryman, edge_env, edge_port) as edge_server,
        running(ferryman, origin_env, origin_port) as origin_server,
    ):
        edge = f"http://127.0.0.1:{edge_port}"
        body = urllib.request.urlopen(edge + check.format("small"))
        (work / "body.json").write_bytes(body.read())
        (work / "headers.json").write_text(json.dumps(hit_headers(edge + check.format("small"))))
        bare = [sys.executable, "-c", BARE_APP, str(work / "body.json"), str(bare_port)]
        headed = [*bare[:-1], str(headed_port), str(work / "headers.json")]
        cases: dict[str, tuple[str, tuple[str, str] | None]] = {
            "bare ASGI app, same bytes": (f"http://127.0.0.1:{bare_port}/", None),
            "bare ASGI app, same bytes and headers": (f"http://127.0.0.1:{headed_port}/", None),
            "update check, edge HIT (10 releases)": (edge + check.format("small"), None),
            "update check, edge HIT (10 000 releases)": (edge + check.format("large"), None),
            "update check, edge off, warm index (10 releases)": (
                f"http://127.0.0.1:{origin_port}" + check.format("small"),
                None,
            ),
            "update check, edge off, warm index (10 000 releases)": (
                f"http://127.0.0.1:{origin_port}" + check.format("large"),
                None,
            ),
            "LICENSED app, edge HIT (licence judged first)": (
                edge + check.format("paid"),
                ("X-License-Key", LICENSE.secret),
            ),
            "partial rollout, edge HIT (install id bucketed first)": (
                edge + check.format("staged"),
                ("X-Install-Id", "5f0c6e2a-8d1b-4c3e-9a7f-2b6d4e8c1a90"),
            ),
        }
        results: dict[str, list[tuple[float, str, str]]] = {label: [] for label in cases}
        lags: dict[str, list[str]] = {label: [] for label in cases}
        cpu: dict[str, list[float]] = {label: [] for label in cases}
        with (
            running(bare, edge_env, bare_port) as bare_server,
            running(headed, edge_env, headed_port) as headed_server,
        ):
            pids = {edge: edge_server.pid, f"http://127.0.0.1:{origin_port}": origin_server.pid}
            pids[f"http://127.0.0.1:{bare_port}"] = bare_server.pid
            pids[f"http://127.0.0.1:{headed_port}"] = headed_server.pid
            # Rounds interleave the cases, so a noisy neighbour hurts them all alike.
            for _ in range(args.rounds):
                for label, (url, header) in cases.items():
                    warm(url, header)  # a cold index build is not the steady state
                    lag = loop_lag(url)
                    pid = next(pid for base, pid in pids.items() if url.startswith(base + "/"))
                    before = cpu_seconds(pid)
                    run = wrk(url, args.seconds, args.connections, header)
                    cpu[label].append((cpu_seconds(pid) - before) / (run[0] * args.seconds))
                    results[label].append(run)
                    lags[label].append(lag_summary(lag, loop_lag(url)))
    shutil.rmtree(work, ignore_errors=True)
    rows = [(label, *median_run(runs)) for label, runs in results.items()]
    worst_lag = {label: max(runs, key=_lag_order) for label, runs in lags.items()}

    print(
        f"machine: {machine()}\nwrk -t1 -c{args.connections} -d{args.seconds}s, median of "
        f"{args.rounds} interleaved rounds, uvicorn 1 worker\n"
    )
    print(
        "| case | requests/s | vs bare | p50 | p99 | p99 vs bare | server CPU per request "
        "| event-loop lag p99 / worst |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    bare_rps, bare_p99 = rows[0][1], _ms(rows[0][3])
    for label, rps, p50, p99 in rows:
        print(
            f"| {label} | {rps:,.0f} | {rps / bare_rps:.2f}x | {p50} | {p99} "
            f"| {_ms(p99) / bare_p99:.2f}x | {statistics.median(cpu[label]) * 1e6:.1f} µs "
            f"| {worst_lag[label]} |"
        )


def _ms(latency: str) -> float:
    """wrk's ``812.00us``, ``4.21ms`` or ``1.02s`` in milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", latency).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _lag_order(summary: str) -> tuple[float, float]:
    """Worst lag first (the rounds' summaries compared by their p99, then their worst)."""
    if summary == "n/a":
        return (-1.0, -1.0)
    p99, worst = re.findall(r"≤([\d.e+]+)", summary)
    return float(p99), float(worst)


if __name__ == "__main__":
    main()
