"""Publish-to-visible latency across processes: how long until another server answers it.

Two ``ferryman serve`` processes share one database (a throw-away PostgreSQL cluster, or a
SQLite file with ``--db sqlite``). Each round publishes a draft through the first process's
GraphQL and then asks the *second* process's update check, on a fresh connection every
few milliseconds, until it offers the new version: the time from the publish's answer to
that offer is what an operator running several workers waits for. The second process's
edge cache holds the old answer when each round starts, so the figure includes the purge.

A second figure: publishes per second with ``--publishers`` clients publishing drafts of
different apps at once, all through the first process (writes of different apps should
not queue behind each other).

    .venv/bin/python bench/visibility.py [--db postgres|sqlite] [--rounds 40] [--publishers 8]

Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tortoise import Tortoise, connections

from ferryman.models import App, Artifact, Release
from ferryman.models.ids import new_id
from ferryman.models.registry import migrate, tortoise_config
from ferryman.models.status import ArtifactStatus, ReleaseStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: bench/, tests/
from bench.machine import load_average, machine
from tests.services import PostgresCluster, ServerProcess, sqlite_url

SIGNATURE = Path(__file__).parents[1] / "tests" / "data" / "tauri" / "MyApp.app.tar.gz.sig"
OPERATIONS = Path(__file__).parents[1] / "schema" / "operations"
PUBLISH = (OPERATIONS / "ReleasePublish.graphql").read_text()
CHECK = "/{}/update/linux/x86_64/0.0.1"
LIMIT = 5.0  # seconds: a round that takes longer is reported as lost


async def seed(url: str, drafts: dict[str, int]) -> dict[str, list[str]]:
    """Apps with one published release and N drafts each (READY linux artifacts), oldest first."""
    await migrate(url)
    await Tortoise.init(config=tortoise_config(url))
    signature = SIGNATURE.read_text()
    made: dict[str, list[str]] = {}
    try:
        for slug, count in drafts.items():
            app = await App.create(id=new_id("app"), slug=slug, name=slug)
            releases = [
                Release(
                    id=new_id("rel"),
                    app_id=app.id,
                    version=f"1.{n}.0",
                    status=ReleaseStatus.PUBLISHED if n == 0 else ReleaseStatus.DRAFT,
                    pub_date=datetime.now(UTC),
                )
                for n in range(count + 1)
            ]
            await Release.bulk_create(releases)
            await Artifact.bulk_create(
                [
                    Artifact(
                        id=new_id("art"),
                        release_id=r.id,
                        platform="linux-x86_64",
                        signature=signature,
                        signed_version=None,
                        object_key=f"{slug}/{r.version}",
                        download_url=f"https://dl.example.com/{slug}/{r.version}",
                        status=ArtifactStatus.READY,
                    )
                    for r in releases
                ]
            )
            made[slug] = [r.id for r in releases[1:]]
    finally:
        await connections.close_all()
    return made


def publish(client: httpx.Client, key: str, release_id: str) -> None:
    answer = client.post(
        "/graphql",
        json={"query": PUBLISH, "variables": {"id": release_id}},
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    errors = answer.get("errors") or answer["data"]["releasePublish"]["userErrors"]
    if errors:
        raise RuntimeError(f"publish failed: {errors}")


def offered(url: str) -> str | None:
    with httpx.Client(base_url=url) as fresh:  # a new connection, as an updater makes
        answer = fresh.get(CHECK.format("watched"))
    return answer.json()["version"] if answer.status_code == 200 else None


def latencies(first: str, second: str, key: str, drafts: list[str]) -> list[float]:
    seen: list[float] = []
    with httpx.Client(base_url=first) as client:
        for n, release_id in enumerate(drafts, start=1):
            version = f"1.{n}.0"
            offered(second)  # the old answer, now in the second process's edge cache
            time.sleep(random.uniform(0, 0.5))  # rounds must not fall into step with a poll
            publish(client, key, release_id)
            published = time.monotonic()
            while offered(second) != version:
                if time.monotonic() - published > LIMIT:
                    raise RuntimeError(f"{version} not visible on the second process in {LIMIT} s")
                time.sleep(0.002)
            seen.append(time.monotonic() - published)
    return seen


async def throughput(first: str, key: str, drafts: dict[str, list[str]]) -> float:
    async def one_app(ids: list[str]) -> None:
        async with httpx.AsyncClient(base_url=first) as client:
            for release_id in ids:
                answer = await client.post(
                    "/graphql",
                    json={"query": PUBLISH, "variables": {"id": release_id}},
                    headers={"Authorization": f"Bearer {key}"},
                )
                body: Any = answer.json()
                assert not body["data"]["releasePublish"]["userErrors"], body

    started = time.monotonic()
    await asyncio.gather(*(one_app(ids) for ids in drafts.values()))
    return sum(len(ids) for ids in drafts.values()) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--publishers", type=int, default=8)
    parser.add_argument("--per-publisher", type=int, default=25)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ferryman-bench-"))
    cluster = PostgresCluster.start() if args.db == "postgres" else None
    try:
        if cluster is not None:
            cluster.create_database("bench")
            url = cluster.url("bench")
        else:
            url = sqlite_url(work / "bench.sqlite3")
        apps = {"watched": args.rounds}
        apps |= {f"busy-{n}": args.per_publisher for n in range(args.publishers)}
        drafts = asyncio.run(seed(url, apps))
        env = {
            "FERRYMAN_DATABASE_URL": url,
            "FERRYMAN_LOG_LEVEL": "WARNING",
            "FERRYMAN_RATE_LIMIT_UPDATES": "0",
            "FERRYMAN_RATE_LIMIT_GRAPHQL": "0",
            # Publishing never touches the bucket; the client only needs an endpoint to exist.
            "FERRYMAN_S3_ENDPOINT": "http://127.0.0.1:9",
            "FERRYMAN_S3_ACCESS_KEY_ID": "unused",
            "FERRYMAN_S3_SECRET_ACCESS_KEY": "unused",
        }
        first = ServerProcess(env, work / "first.log")
        second = ServerProcess(env, work / "second.log")
        key = first.command("keys", "create", "--scope", "admin", "--name", "bench").strip()
        with first, second:
            first.start()
            second.start()
            seen = latencies(first.url, second.url, key, drafts.pop("watched"))
            rate = asyncio.run(throughput(first.url, key, drafts))
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)

    ms = sorted(1000 * s for s in seen)
    print(f"machine: {machine()}; load average {load_average()}; database: {args.db}")
    print()
    print("| publish → second process offers it | median | p90 | max | publishes/s |")
    print("|---|---|---|---|---|")
    p90 = ms[int(0.9 * (len(ms) - 1))]
    print(
        f"| {len(ms)} rounds, {args.publishers} publishers | {statistics.median(ms):.0f} ms "
        f"| {p90:.0f} ms | {ms[-1]:.0f} ms | {rate:.0f} |"
    )


if __name__ == "__main__":
    main()
