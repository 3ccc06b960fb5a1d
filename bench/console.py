"""The console's heaviest lists: server time per page, and what a page weighs.

One ``ferryman serve`` (one worker, SQLite) on a database of ``--apps`` apps with a few
published releases each, one of which (``tenant-00000``) has ``--releases`` releases. A person
signs in through a one-time link, then ``wrk -t1 -c1`` asks for each page with their session
cookie, one request at a time, so the latency is the server's time per page (loopback adds
tens of microseconds). Reported: requests/s, p50, p95 and p99 for each page, and the weight of
each page with the CSS and JavaScript it loads (bytes as sent, and gzip-compressed).

    .venv/bin/python bench/console.py [--apps 200] [--releases 10000] [--seconds 10]

Needs ``wrk`` (Debian package). Prints Markdown tables for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx

from ferryman.models.ids import new_id
from ferryman.models.status import ArtifactStatus, ReleaseStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: bench/, tests/
from bench.machine import load_average, machine
from bench.tenants import PLATFORMS, SIGNATURE, seed, slugs
from tests.services import ServerProcess, sqlite_url

PASSWORD = "a long enough benchmark passphrase"
# wrk's latency percentiles (microseconds), which --latency prints only at 50/75/90/99.
PERCENTILES = """
done = function(summary, latency, requests)
  io.write(string.format("PERCENTILES %d %d %d %d %d\\n", summary.requests,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), summary.duration))
end
"""
ASSET = re.compile(r'(?:href|src)="(/console/static/[^"]+)"')


def add_releases(path: Path, slug: str, count: int) -> None:
    """``count`` more published releases of ``slug``, each with a READY artifact."""
    now = str(datetime.now(UTC))
    database = sqlite3.connect(path)
    try:
        (app_id,) = database.execute("SELECT id FROM apps WHERE slug = ?", (slug,)).fetchone()
        rows = [(new_id("rel"), f"2.{n // 1000}.{n % 1000}") for n in range(count)]
        with database:
            database.executemany(
                "INSERT INTO releases (id, app_id, version, status, pub_date, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((rel, app_id, v, ReleaseStatus.PUBLISHED.value, now, now, now) for rel, v in rows),
            )
            database.executemany(
                "INSERT INTO artifacts (id, release_id, platform, signature, object_key, "
                "status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        new_id("art"),
                        rel,
                        PLATFORMS[0],
                        SIGNATURE.read_text(),
                        f"{slug}/{v}",
                        ArtifactStatus.READY.value,
                        now,
                        now,
                    )
                    for rel, v in rows
                ),
            )
    finally:
        database.close()


def sign_in(server: ServerProcess) -> tuple[str, str]:
    """A new owner's session cookie (name, value), through their one-time link."""
    link = server.command("users", "create", "--email", "bench@example.com", "--role", "owner")
    with httpx.Client(base_url=server.url) as client:
        answer = client.post(
            link.strip().removeprefix(server.url),
            data={"password": PASSWORD, "confirm": PASSWORD},
            headers={"Origin": server.url},
        )
        assert answer.status_code == 303, answer.text
        (name, value), *_ = client.cookies.items()
        return name, value


def wrk(url: str, cookie: tuple[str, str], seconds: int, script: Path) -> dict[str, float]:
    command = ["wrk", "-t1", "-c1", f"-d{seconds}s", "-s", str(script)]
    command += ["-H", f"Cookie: {cookie[0]}={cookie[1]}", url]
    output = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors on {url}:\n{output}")
    found = re.search(r"PERCENTILES (\d+) (\d+) (\d+) (\d+) (\d+)", output)
    assert found is not None, output
    requests, p50, p95, p99, duration = map(int, found.groups())
    return {"rps": requests / (duration / 1e6), "p50": p50, "p95": p95, "p99": p99}


def weight(client: httpx.Client, path: str) -> tuple[int, int, int]:
    """The page and the CSS and JavaScript it loads: (page bytes, asset bytes, all gzipped)."""
    page = client.get(path)
    page.raise_for_status()
    assets = [client.get(asset).content for asset in sorted(set(ASSET.findall(page.text)))]
    total = page.content + b"".join(assets)
    return len(page.content), sum(map(len, assets)), len(gzip.compress(total))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--releases", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    big = slugs(args.apps)[0]
    pages = {
        f"app list, {args.apps} apps": "/console/apps",
        f"release list, {args.releases:,} releases (first page)": f"/console/apps/{big}/releases",
        "release list, filtered by a search": f"/console/apps/{big}/releases?q=2.9.9",
        f"app overview, {args.releases:,} releases": f"/console/apps/{big}",
    }
    with tempfile.TemporaryDirectory(prefix="ferryman-bench-") as work:
        path = Path(work) / "console.sqlite3"
        seed(path, args.apps, 3, 2)
        add_releases(path, big, args.releases - 3)
        script = Path(work) / "percentiles.lua"
        script.write_text(PERCENTILES)
        env = {
            "FERRYMAN_DATABASE_URL": sqlite_url(path),
            "FERRYMAN_RATE_LIMIT_CONSOLE": "0",
            # The pages never touch the bucket; the client only needs an endpoint to exist.
            "FERRYMAN_S3_ENDPOINT": "http://127.0.0.1:9",
            "FERRYMAN_S3_ACCESS_KEY_ID": "unused",
            "FERRYMAN_S3_SECRET_ACCESS_KEY": "unused",
        }
        with ServerProcess(env, Path(work) / "server.log") as server:
            server.start()
            cookie = sign_in(server)
            with httpx.Client(base_url=server.url, cookies=dict([cookie])) as client:
                weights = {name: weight(client, page) for name, page in pages.items()}
            figures = {
                name: wrk(server.url + page, cookie, args.seconds, script)
                for name, page in pages.items()
            }
    print(f"{datetime.now(UTC):%Y-%m-%d}, {machine()}, load average {load_average()}\n")
    print("| page | req/s | p50 | p95 | p99 | HTML | CSS + JS | all, gzip |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, f in figures.items():
        html, assets, zipped = weights[name]
        print(
            f"| {name} | {f['rps']:,.0f} | {f['p50'] / 1000:.1f} ms | {f['p95'] / 1000:.1f} ms "
            f"| {f['p99'] / 1000:.1f} ms | {html / 1024:.1f} KiB | {assets / 1024:.1f} KiB "
            f"| {zipped / 1024:.1f} KiB |"
        )


if __name__ == "__main__":
    main()
