"""Several server processes on one PostgreSQL database: a publish reaches all of them.

Every process keeps its own edge cache and update index; the generation watcher in each
notices writes made by the others. These run in the PostgreSQL pass of the suite (several
processes on one SQLite file is not a supported deployment).
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ferryman.local_s3 import LocalS3
from tests.conftest import Databases, server_env
from tests.services import ServerProcess
from tests.support.live_server import draft_with_artifact, publish

CHECK = "/my-app/update/linux/x86_64/1.0.0"
VISIBLE_WITHIN = 1.0  # seconds: the watcher polls twice a second


@pytest.fixture
def env(
    databases: Databases, database_url: str, s3: LocalS3, bucket: str, tmp_path: Path
) -> dict[str, str]:
    if databases.engine != "postgres":
        pytest.skip("several processes share one PostgreSQL database: runs with --db postgres")
    return server_env(database_url, s3, bucket, tmp_path)


def test_a_publish_on_one_process_is_seen_by_the_others_next_check(
    env: dict[str, str], tmp_path: Path
) -> None:
    first = ServerProcess(env, tmp_path / "first.log")
    second = ServerProcess(env, tmp_path / "second.log")
    key = first.command("keys", "create", "--scope", "admin", "--name", "workers").strip()
    with first, second:
        first.start()
        second.start()
        release_id = draft_with_artifact((first.url, key))
        for server in (first, second):  # both edges now hold "no update"
            assert httpx.get(server.url + CHECK).status_code == 204
            assert httpx.get(server.url + CHECK).headers["cf-cache-status"] == "HIT"

        publish((first.url, key), release_id)
        published = time.monotonic()

        seen = {}
        while len(seen) < 2 and time.monotonic() - published < VISIBLE_WITHIN:
            for server in (first, second):
                if server.url not in seen and httpx.get(server.url + CHECK).status_code == 200:
                    seen[server.url] = time.monotonic() - published
            time.sleep(0.02)

        assert set(seen) == {first.url, second.url}, (
            f"not every process saw the publish within {VISIBLE_WITHIN} s: {seen}\n"
            f"{second.log_tail()}"
        )
        assert httpx.get(second.url + CHECK).json()["version"] == "1.2.3"


def test_serve_with_two_workers_answers_and_adds_up_their_metrics(
    env: dict[str, str], tmp_path: Path
) -> None:
    with ServerProcess({**env, "FERRYMAN_WORKERS": "2"}, tmp_path / "workers.log") as server:
        server.start()
        requests = 40
        for _ in range(requests):  # a new connection each: the workers share them out
            assert httpx.get(server.url + "/healthz").status_code == 200

        text = httpx.get(server.url + "/metrics").text

    counted = 0.0
    for family in text_string_to_metric_families(text):
        if family.name == "ferryman_http_requests":
            counted = sum(
                sample.value
                for sample in family.samples
                if sample.name == "ferryman_http_requests_total"
                and sample.labels["door"] == "probes"
                and sample.labels["status"] == "200"
            )
    # Every /healthz, and the /readyz polls of start(), whichever worker answered them.
    assert counted >= requests
    assert "with 2 workers" in Path(tmp_path / "workers.log").read_text()
