"""Several server processes on one database: writes through any of them land, once, with
their audit events, and a publish reaches all of them.

Every process keeps its own edge cache and update index; the generation watcher in each
notices writes made by the others (LISTEN/NOTIFY on PostgreSQL, a poll twice a second on
SQLite). These run on both databases: on SQLite the processes share one file.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ferryman.local_s3 import LocalS3
from tests.conftest import server_env
from tests.services import ServerProcess
from tests.support.documents import API_KEY_CREATE, operation
from tests.support.live_server import (
    Server,
    create_app,
    draft_with_artifact,
    graphql,
    publish,
    ready_draft,
)
from tests.support.tauri_files import TARBALL

CHECK = "/my-app/update/linux/x86_64/1.0.0"
VISIBLE_WITHIN = 1.0  # seconds: on SQLite the watcher polls twice a second
IN_FLIGHT = 16  # requests at once, shared out over both processes
AUDIT_EVENTS = """
query ($after: String) {
  auditEvents(first: 100, after: $after) {
    edges { node { id action targetId requestId } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
RELEASES = """
query ($id: ID!) {
  node(id: $id) { ... on App { releases(first: 100) { edges { node { version status } } } } }
}
"""
KEYS = "{ apiKeys { totalCount } }"

Sent = tuple[Server, str, dict[str, Any]]  # where to, the document, its variables


@pytest.fixture
def env(database_url: str, s3: LocalS3, bucket: str, tmp_path: Path) -> dict[str, str]:
    return server_env(database_url, s3, bucket, tmp_path)


def test_a_publish_on_one_process_is_offered_by_the_other_within_a_second(
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


def test_writes_through_two_processes_at_once_all_land_once_with_their_audit_events(
    env: dict[str, str], tmp_path: Path
) -> None:
    first = ServerProcess(env, tmp_path / "first.log")
    second = ServerProcess(env, tmp_path / "second.log")
    key = first.command("keys", "create", "--scope", "admin", "--name", "workers").strip()
    with first, second:
        first.start()
        second.start()
        servers = ((first.url, key), (second.url, key))
        apps = [create_app(servers[0], slug) for slug in ("one", "two")]
        ready = {
            app_id: [
                ready_draft(
                    servers[n % 2], app_id, f"3.0.{n}", platform="darwin-aarch64", filename=TARBALL
                )
                for n in range(5)
            ]
            for app_id in apps
        }
        before = {event["id"] for event in _audit_events(servers[0])}

        # Drafts and keys of both apps, and every ready draft published through both
        # processes at the same moment, all in flight together.
        batches: list[list[Sent]] = []
        for app_id in apps:
            for n in range(12):
                variables = {"appId": app_id, "input": {"version": f"2.0.{n}"}}
                batches.append([(servers[n % 2], operation("ReleaseCreate"), variables)])
            for release_id in ready[app_id]:
                publish_ = (operation("ReleasePublish"), {"id": release_id})
                batches.append([(server, *publish_) for server in servers])
        for n, app_id in enumerate([*apps, None] * 4):
            variables = {"input": {"name": f"ci {n}", "scope": "CI", "appId": app_id}}
            batches.append([(servers[n % 2], API_KEY_CREATE, variables)])
        random.Random(7).shuffle(batches)
        sends = [sent for batch in batches for sent in batch]
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            answers = list(pool.map(_send, sends))

        owed: Counter[tuple[str, str, str]] = Counter()  # audit events: request id, action, target
        published: Counter[str] = Counter()
        for (_, document, variables), (request_id, payload) in zip(sends, answers, strict=True):
            if document == API_KEY_CREATE:
                assert payload["userErrors"] == [], payload
                owed[request_id, "api_key.create", payload["apiKey"]["id"]] += 1
            elif document == operation("ReleaseCreate"):
                assert payload["userErrors"] == [], payload
                owed[request_id, "release.create", payload["release"]["id"]] += 1
            elif payload["userErrors"] == []:  # the publish that got there first
                published[variables["id"]] += 1
                owed[request_id, "release.publish", variables["id"]] += 1
            else:  # the other found it published already
                assert [e["code"] for e in payload["userErrors"]] == ["INVALID_STATE"], payload
        drafts = [release_id for ids in ready.values() for release_id in ids]
        assert published == Counter(drafts), "each ready draft is published exactly once"

        events = [e for e in _audit_events(servers[1]) if e["id"] not in before]
        assert Counter((e["requestId"], e["action"], e["targetId"]) for e in events) == owed
        for n, app_id in enumerate(apps):  # each read through another process
            releases = graphql(servers[n % 2], RELEASES, {"id": app_id})["releases"]["edges"]
            assert sorted((r["node"]["version"], r["node"]["status"]) for r in releases) == sorted(
                [(f"2.0.{v}", "DRAFT") for v in range(12)]
                + [(f"3.0.{v}", "PUBLISHED") for v in range(5)]
            )
        assert graphql(servers[1], KEYS)["totalCount"] == 1 + 12
        logs = first.log_text() + second.log_text()
    assert "database is locked" not in logs


def _send(sent: Sent) -> tuple[str, dict[str, Any]]:
    """One mutation: its request's id and its payload; a top-level error or a 5xx fails."""
    (base, key), document, variables = sent
    response = httpx.post(
        f"{base}/graphql",
        json={"query": document, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return response.headers["x-request-id"], next(iter(body["data"].values()))


def _audit_events(server: Server) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = None
    while True:
        page = graphql(server, AUDIT_EVENTS, {"after": after})
        events += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return events
        after = page["pageInfo"]["endCursor"]


def test_serve_with_two_workers_answers_and_adds_up_their_metrics(
    env: dict[str, str], tmp_path: Path
) -> None:
    with ServerProcess({**env, "FERRYMAN_WORKERS": "2"}, tmp_path / "workers.log") as server:
        server.start()
        requests = 40
        for _ in range(requests):  # a new connection each: the workers share them out
            assert httpx.get(server.url + "/healthz").status_code == 200

        # Every /healthz, and the /readyz polls of start(), whichever worker answered them;
        # the worker that does not answer /metrics adds its counts within about a second.
        deadline = time.monotonic() + 5
        while (counted := _probes(httpx.get(server.url + "/metrics").text)) < requests:
            assert time.monotonic() < deadline, f"{counted} of {requests} requests counted"
            time.sleep(0.1)
    assert "with 2 workers" in Path(tmp_path / "workers.log").read_text()


def _probes(metrics: str) -> float:
    """The answered probes (/healthz, /readyz) that the /metrics text counts."""
    for family in text_string_to_metric_families(metrics):
        if family.name == "ferryman_http_requests":
            return sum(
                sample.value
                for sample in family.samples
                if sample.name == "ferryman_http_requests_total"
                and sample.labels["door"] == "probes"
                and sample.labels["status"] == "200"
            )
    return 0.0
