"""Mixed load: update checks under wrk while CI and an admin keep publishing, and nothing is lost.

Starts everything itself on loopback, on free ports: a private SeaweedFS (LocalS3), a database
(a SQLite file; ``--postgres``: a throwaway PostgreSQL cluster and ``ferryman serve`` with two
workers), ``ferryman migrate`` and ``ferryman serve`` with the rate limits off. It creates an app
holding a throw-away Tauri key, a CI key for it, and a published 1.0.0 (linux-x86_64 only).

Then, for ``--seconds``, at the same time:

* ``wrk --latency`` rotates over update checks of installs on old versions (a 200 manifest) and
  on a version past every release (204), for ``linux/x86_64`` and ``darwin/aarch64``; its Lua
  script counts the answers by status and by ``CF-Cache-Status``;
* a driver submits releases 1.0.1, 1.0.2, ... at a steady pace: through ``POST /ci/apps/{slug}/
  releases`` with ``auto_publish`` (both files uploaded to the bucket first and signed for real),
  and as admin drafts published with ``releasePublish`` (files uploaded through GraphQL's
  presigned URLs, or submitted by CI without ``auto_publish``). Every release has a linux-x86_64
  and a darwin-aarch64 artifact. Every answer's status is recorded.

Afterwards it checks: no 5xx anywhere, every submission acknowledged, every acknowledged version
there exactly once, PUBLISHED, with READY artifacts (through GraphQL's paged ``releases`` and in
the database itself), the update check offers the newest acknowledged version, and the server
logged no error (the edge cache answers STALE when the origin raises, so a bug behind it shows
only in the log). Prints a Markdown table for bench/RESULTS.md; exits 1 when a check failed,
keeping the work folder (server.log, the database, the bucket).

    .venv/bin/python bench/load.py [--seconds 60] [--postgres] [--threads 1] [--connections 16]
        [--ci-rate 3] [--draft-rate 1] [--no-edge-cache] [--keep]

Needs ``wrk`` (Debian package) and, with ``--postgres``, the PostgreSQL server binaries.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tortoise import Tortoise, connections

from ferryman.local_s3 import LocalS3
from ferryman.models import App, Artifact, Release
from ferryman.models.registry import tortoise_config
from ferryman.versions import Version

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: bench/, tests/
from bench.machine import load_average, machine
from tests.conftest import server_env
from tests.services import PostgresCluster, ServerProcess, sqlite_url
from tests.signing import Signer

SLUG = "load-app"
BUCKET = "ferryman-load"
PLATFORMS = {  # platform key -> (the update check's os/arch, the file's name for a version)
    "linux-x86_64": ("linux/x86_64", "LoadApp_{}_amd64.AppImage"),
    "darwin-aarch64": ("darwin/aarch64", "LoadApp.app_{}_aarch64.tar.gz"),
}
OLD_VERSIONS = ("0.8.0", "0.9.0", "0.9.5", "1.0.0")  # every release is newer: a 200 manifest
PAST_NEWEST = "2.0.0"  # newer than any release the run makes: 204, nothing to offer
ID = re.compile(r"\b(app|rel|art|key|evt)_[0-9A-Z]{26}\b")  # ids differ, bugs repeat
MAX_IN_FLIGHT = 8  # per stream; a stream that reaches it waits, so its pace drops
PROPAGATION_SECONDS = 1.5  # other workers notice a write within a second (manifest.py)
RATE_LIMITS_OFF = {
    f"FERRYMAN_RATE_LIMIT_{name}": "0"
    for name in ("GRAPHQL", "CI", "DOWNLOADS", "UPDATES", "AUTH_FAILURES")
}

# wrk runs one Lua state per thread: each counts in its own globals, and done() (in the main
# state) reads every thread's table through the thread objects kept by setup().
WRK_SCRIPT = """
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  counts = {}
  requests = {}
  for i, path in ipairs(args) do
    requests[i] = wrk.format("GET", path)
  end
  position = id - 1
end

function request()
  position = position % #requests + 1
  return requests[position]
end

local function bump(name)
  counts[name] = (counts[name] or 0) + 1
end

function response(status, headers, body)
  bump("status " .. status)
  bump("cache " .. (headers["cf-cache-status"] or headers["CF-Cache-Status"] or "none"))
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for name, count in pairs(thread:get("counts")) do
      io.write(string.format("ferryman-count %s %d\\n", name, count))
    end
  end
end
"""

OPERATIONS = """
mutation AppCreate($input: AppCreateInput!) {
  appCreate(input: $input) { app { id } userErrors { field message code } }
}
mutation ReleaseCreate($appId: ID!, $input: ReleaseCreateInput!) {
  releaseCreate(appId: $appId, input: $input) { release { id } userErrors { field message code } }
}
mutation ArtifactUploadCreate($releaseId: ID!, $input: ArtifactUploadCreateInput!) {
  artifactUploadCreate(releaseId: $releaseId, input: $input) {
    artifact { id } uploadUrl uploadHeaders { name value } userErrors { field message code }
  }
}
mutation ArtifactUploadConfirm($id: ID!) {
  artifactUploadConfirm(id: $id) {
    artifact { status failureReason } userErrors { field message code }
  }
}
mutation ReleasePublish($id: ID!) {
  releasePublish(id: $id) { release { status } userErrors { field message code } }
}
query Releases($slug: String!, $after: String) {
  app(slug: $slug) {
    releases(first: 100, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { version status artifacts { platform status } } }
    }
  }
}
"""


def ci_key(version: str, filename: str) -> str:
    """Where a CI pipeline with bucket credentials puts a file before it submits the
    release (the original CI contract; Ferryman serves a verified copy of it)."""
    return f"{SLUG}/releases/{version}/{filename}"


class Refused(Exception):
    """One step of a release was not acknowledged; the message says which and how."""


@dataclasses.dataclass
class Stack:
    """What the benchmark started: the server, its bucket, its database, and the keys."""

    server: ServerProcess
    s3: LocalS3
    database_url: str
    admin_key: str
    ci_key: str = ""
    app_id: str = ""


@dataclasses.dataclass
class WrkResult:
    output: str
    rps: float
    total: int
    latency: dict[str, str]
    statuses: Counter[str]
    cache: Counter[str]
    socket_errors: str


class Driver:
    """Keeps releasing new versions through both doors and records every answer."""

    def __init__(self, stack: Stack, signer: Signer) -> None:
        self.stack = stack
        self.signer = signer
        self.http = httpx.AsyncClient(base_url=stack.server.url, timeout=30)
        self.versions = itertools.count(1)
        self.answers: defaultdict[str, Counter[str]] = defaultdict(Counter)  # call -> status
        self.timings: defaultdict[str, list[float]] = defaultdict(list)  # call -> seconds
        self.made: Counter[str] = Counter()  # stream -> releases attempted
        self.failures: defaultdict[str, Counter[str]] = defaultdict(Counter)  # stream -> why
        self.acknowledged: dict[str, str] = {}  # version -> stream
        self.durations: defaultdict[str, list[float]] = defaultdict(list)  # acknowledged ones
        self.window = 0.0  # seconds the streams ran
        self.first_acknowledged = asyncio.Event()
        self.publishes = 0  # releasePublish calls

    async def close(self) -> None:
        await self.http.aclose()

    # The two streams: one release each call.

    async def ci_release(self) -> None:
        """A CI pipeline: upload both files to the bucket, then submit with auto_publish."""

        async def steps(version: str) -> None:
            await self._submit(version, auto_publish=True)

        await self._release("CI submit, auto_publish", steps)

    async def admin_draft(self) -> None:
        """A draft made ready one of two ways, then published by the admin key."""
        through_graphql = self.made["admin draft + releasePublish"] % 2 == 0

        async def steps(version: str) -> None:
            if through_graphql:
                release_id = await self._graphql_draft(version)
            else:
                release_id = await self._submit(version, auto_publish=False)
            self.publishes += 1
            payload = await self.graphql("ReleasePublish", self.stack.admin_key, id=release_id)
            status = (payload.get("release") or {}).get("status")
            if status != "PUBLISHED":
                raise Refused(f"releasePublish: release is {status}")

        await self._release("admin draft + releasePublish", steps)

    async def _release(self, stream: str, steps: Callable[[str], Awaitable[None]]) -> None:
        version = f"1.0.{next(self.versions)}"
        self.made[stream] += 1
        began = time.perf_counter()
        try:
            await steps(version)
        except Refused as refusal:
            self.failures[stream][str(refusal)] += 1
            return
        self.durations[stream].append(time.perf_counter() - began)
        self.acknowledged[version] = stream
        self.first_acknowledged.set()

    async def _submit(self, version: str, *, auto_publish: bool) -> str:
        """``POST /ci/apps/{slug}/releases``; the release id once the server acknowledged it."""
        artifacts: list[dict[str, str]] = []
        for platform, (_, pattern) in PLATFORMS.items():
            filename = pattern.format(version)
            body = os.urandom(1024 * (1 + len(artifacts) + int(version.rsplit(".", 1)[1]) % 32))
            key = ci_key(version, filename)
            try:
                await asyncio.to_thread(
                    self.stack.s3.client.put_object, Bucket=BUCKET, Key=key, Body=body
                )
            except Exception as error:  # the bucket's failure, not the server's
                raise Refused(f"S3 put_object: {type(error).__name__}") from None
            signature = self.signer.sign(body, filename, version)
            artifacts.append({"platform": platform, "signature": signature, "r2_key": key})
        label = "POST /ci/apps/{slug}/releases"
        response = await self.call(
            label,
            "POST",
            f"/ci/apps/{SLUG}/releases",
            json={
                "version": version,
                "notes": f"Release {version}, made under load.",
                "artifacts": artifacts,
                "auto_publish": auto_publish,
            },
            headers={"Authorization": f"Bearer {self.stack.ci_key}"},
        )
        if not response.is_success:
            raise Refused(f"{label}: {response.status_code} {_error_code(response)}")
        answer = response.json()
        if auto_publish and answer.get("status") != "published":
            raise Refused(f"{label}: {response.status_code}, {answer.get('notice')}")
        if any(a.get("status") != "READY" for a in answer.get("artifacts", [])):
            raise Refused(f"{label}: {response.status_code}, an artifact is not READY")
        return str(answer["id"])

    async def _graphql_draft(self, version: str) -> str:
        """releaseCreate, then per platform artifactUploadCreate, PUT to the bucket, confirm."""
        key = self.stack.admin_key
        created = await self.graphql(
            "ReleaseCreate", key, appId=self.stack.app_id, input={"version": version}
        )
        release_id = str(created["release"]["id"])
        for platform, (_, pattern) in PLATFORMS.items():
            filename = pattern.format(version)
            body = os.urandom(4096)
            upload = await self.graphql(
                "ArtifactUploadCreate",
                key,
                releaseId=release_id,
                input={
                    "platform": platform,
                    "filename": filename,
                    "signature": self.signer.sign(body, filename, version),
                    "fileSize": len(body),
                },
            )
            headers = {h["name"]: h["value"] for h in upload["uploadHeaders"]}
            put = await self.call(
                "PUT presigned upload URL",
                "PUT",
                upload["uploadUrl"],
                content=body,
                headers=headers,
            )
            if not put.is_success:
                raise Refused(f"PUT presigned upload URL: {put.status_code}")
            confirmed = await self.graphql(
                "ArtifactUploadConfirm", key, id=upload["artifact"]["id"]
            )
            artifact = confirmed["artifact"]
            if artifact["status"] != "READY":
                raise Refused(
                    f"artifactUploadConfirm: {artifact['status']} {artifact['failureReason']}"
                )
        return release_id

    # HTTP with every answer recorded.

    async def call(self, label: str, method: str, url: str, **options: Any) -> httpx.Response:
        began = time.perf_counter()
        try:
            response = await self.http.request(method, url, **options)
        except httpx.HTTPError as error:
            self.answers[label][f"no answer ({type(error).__name__})"] += 1
            raise Refused(f"{label}: no answer ({type(error).__name__})") from None
        self.answers[label][str(response.status_code)] += 1
        self.timings[label].append(time.perf_counter() - began)
        return response

    async def graphql(self, operation: str, key: str, **variables: Any) -> dict[str, Any]:
        """The payload of one mutation, or Refused naming the error or userError."""
        label = f"POST /graphql {operation}"
        response = await self.call(
            label,
            "POST",
            "/graphql",
            json={"query": OPERATIONS, "operationName": operation, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
        if response.status_code != 200:
            raise Refused(f"{label}: {response.status_code}")
        body = response.json()
        if body.get("errors"):
            codes = sorted({str(e.get("extensions", {}).get("code")) for e in body["errors"]})
            raise Refused(f"{label}: errors {', '.join(codes)}")
        payload: dict[str, Any] = next(iter(body["data"].values()))
        if payload.get("userErrors"):
            first = payload["userErrors"][0]
            raise Refused(f"{label}: userError {first['code']}: {first['message'][:120]}")
        return payload


async def paced(rate: float, stop: asyncio.Event, start: Callable[[], Awaitable[None]]) -> None:
    """Start ``start()`` ``rate`` times a second until ``stop``; each runs on its own, at most
    MAX_IN_FLIGHT at once. A stream that falls behind does not burst to catch up."""
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)
    running: set[asyncio.Task[None]] = set()

    async def one() -> None:
        try:
            await start()
        finally:
            slots.release()

    due = loop.time()
    while not stop.is_set():
        await slots.acquire()
        if stop.is_set():
            slots.release()
            break
        task = asyncio.create_task(one())
        running.add(task)
        task.add_done_callback(running.discard)
        due = max(due + 1 / rate, loop.time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), due - loop.time())
    await asyncio.gather(*running)


def check_paths() -> list[str]:
    """The update checks wrk rotates over: mostly old installs, some past the newest."""
    paths = []
    for current in (*OLD_VERSIONS, PAST_NEWEST):
        for target, _ in PLATFORMS.values():
            paths.append(f"/{SLUG}/update/{target}/{current}")
    return paths


async def run_wrk(url: str, script: Path, seconds: int, threads: int, conns: int) -> WrkResult:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{conns}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url,
        "--",
        *check_paths(),
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    output = out.decode()
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with {process.returncode}: {err.decode()}{output}")
    statuses: Counter[str] = Counter()
    cache: Counter[str] = Counter()
    for kind, name, count in re.findall(
        r"^ferryman-count (status|cache) (\S+) (\d+)$", output, re.M
    ):
        (statuses if kind == "status" else cache)[name] += int(count)
    latency = {
        p: m.group(1)
        for p in ("50", "75", "90", "99")
        if (m := re.search(rf"^\s+{p}%\s+(\S+)", output, re.M))
    }
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return WrkResult(
        output=output,
        rps=float(rps.group(1)) if rps else 0.0,
        total=int(total.group(1)) if total else 0,
        latency=latency,
        statuses=statuses,
        cache=cache,
        socket_errors=errors.group(1) if errors else "none",
    )


@dataclasses.dataclass
class Verdict:
    """Each check's outcome, and the numbers behind the release checks."""

    checks: dict[str, tuple[bool, str]] = dataclasses.field(default_factory=dict)
    releases_listed: int = 0
    unacknowledged: list[str] = dataclasses.field(default_factory=list)

    def add(self, name: str, passed: bool, detail: str) -> None:
        self.checks[name] = (passed, detail)

    @property
    def passed(self) -> bool:
        return all(passed for passed, _ in self.checks.values())


async def listed_releases(http: httpx.AsyncClient, key: str) -> tuple[list[dict[str, Any]], int]:
    """Every release of the app through GraphQL, a page of 100 at a time; and totalCount."""
    nodes: list[dict[str, Any]] = []
    after: str | None = None
    total = 0
    while True:
        response = await http.post(
            "/graphql",
            json={
                "query": OPERATIONS,
                "operationName": "Releases",
                "variables": {"slug": SLUG, "after": after},
            },
            headers={"Authorization": f"Bearer {key}"},
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"releases query: {body['errors']}")
        page = body["data"]["app"]["releases"]
        total = page["totalCount"]
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, total
        after = page["pageInfo"]["endCursor"]


async def stored_releases(database_url: str) -> dict[str, list[tuple[str, list[tuple[str, str]]]]]:
    """Straight from the database: version -> [(status, [(platform, status)]) per row]."""
    await Tortoise.init(config=tortoise_config(database_url))
    try:
        app = await App.get(slug=SLUG)
        rows = await Release.filter(app_id=app.id).values_list("id", "version", "status")
        files = await Artifact.filter(release_id__in=[row[0] for row in rows]).values_list(
            "release_id", "platform", "status"
        )
    finally:
        await connections.close_all()
    by_release: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
    for release_id, platform, status in files:
        by_release[str(release_id)].append((str(platform), _value(status)))
    stored: defaultdict[str, list[tuple[str, list[tuple[str, str]]]]] = defaultdict(list)
    for release_id, version, status in rows:
        stored[str(version)].append((_value(status).upper(), sorted(by_release[str(release_id)])))
    return stored


def _error_code(response: httpx.Response) -> str:
    """The ``error.code`` of a REST error body, or the start of whatever came instead."""
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return response.text[:120]


def _value(status: Any) -> str:
    return str(getattr(status, "value", status))


async def verify(stack: Stack, driver: Driver, wrk: WrkResult) -> Verdict:
    verdict = Verdict()
    wrk_5xx = sum(n for status, n in wrk.statuses.items() if status.startswith("5"))
    verdict.add("no 5xx from update checks", wrk_5xx == 0, f"{wrk_5xx} of {wrk.total}")
    answers = Counter[str]()
    for counts in driver.answers.values():
        answers.update(counts)
    driver_5xx = sum(n for status, n in answers.items() if status.startswith("5"))
    unanswered = sum(n for status, n in answers.items() if status.startswith("no answer"))
    verdict.add("no 5xx from the driver", driver_5xx == 0, f"{driver_5xx} of {answers.total()}")
    verdict.add("every driver request answered", unanswered == 0, f"{unanswered} unanswered")
    failed = sum(c.total() for c in driver.failures.values())
    verdict.add(
        "every release acknowledged", failed == 0, f"{failed} of {driver.made.total()} failed"
    )

    errors = server_errors(stack.server.log_text())
    verdict.add(
        "no errors in the server log",
        not errors,
        "; ".join(f"{what}: {count}" for what, count, _ in errors) or "none",
    )

    await asyncio.sleep(PROPAGATION_SECONDS)
    expected = sorted(PLATFORMS)
    listed, total = await listed_releases(driver.http, stack.admin_key)
    stored = await stored_releases(stack.database_url)
    verdict.releases_listed = len(listed)
    seen = Counter(node["version"] for node in listed)
    duplicated = sorted(
        {v for v, n in seen.items() if n > 1} | {v for v, rows in stored.items() if len(rows) > 1}
    )
    listing = {node["version"]: node for node in listed}
    lost = []
    for version in driver.acknowledged:
        node = listing.get(version)
        rows = stored.get(version, [])
        listed_ok = (
            node is not None
            and node["status"] == "PUBLISHED"
            and sorted((a["platform"], a["status"]) for a in node["artifacts"])
            == [(p, "READY") for p in expected]
        )
        stored_ok = len(rows) >= 1 and all(
            status == "PUBLISHED" and files == [(p, "READY") for p in expected]
            for status, files in rows
        )
        if not (listed_ok and stored_ok):
            lost.append(version)
    verdict.unacknowledged = sorted(
        set(stored) - set(driver.acknowledged) - {"1.0.0"}, key=Version.parse
    )
    verdict.add(
        "no lost release",
        not lost,
        f"{len(lost)} of {len(driver.acknowledged)} acknowledged"
        + (f": {', '.join(sorted(lost, key=Version.parse)[:10])}" if lost else ""),
    )
    verdict.add(
        "no duplicated release",
        not duplicated,
        f"{len(duplicated)}" + (f": {', '.join(duplicated[:10])}" if duplicated else ""),
    )
    consistent = total == len(listed) == len(seen) == len(stored)
    verdict.add(
        "GraphQL listing matches the database",
        consistent and set(seen) == set(stored),
        f"totalCount {total}, listed {len(listed)}, distinct {len(seen)}, in the database "
        f"{len(stored)}",
    )

    newest = max(driver.acknowledged, key=Version.parse, default="1.0.0")
    offered = Counter[str]()
    for _ in range(4):  # more than once: with two workers, both should be asked
        for target, _pattern in PLATFORMS.values():
            response = await driver.http.get(f"/{SLUG}/update/{target}/1.0.0")
            offered[
                response.json()["version"]
                if response.status_code == 200
                else str(response.status_code)
            ] += 1
            latest = await driver.http.get(f"/{SLUG}/update/{target}/{newest}")
            offered[f"{latest.status_code} when on it"] += 1
    verdict.add(
        "the update check offers the newest acknowledged version",
        set(offered) == {newest, "204 when on it"},
        f"newest {newest}; answers " + ", ".join(f"{k}: {n}" for k, n in sorted(offered.items())),
    )
    return verdict


async def set_up(stack: Stack, signer: Signer) -> None:
    """The app (with the signer's key, CI may publish), its CI key, and a published 1.0.0."""
    async with httpx.AsyncClient(base_url=stack.server.url, timeout=30) as http:
        response = await http.post(
            "/graphql",
            json={
                "query": OPERATIONS,
                "operationName": "AppCreate",
                "variables": {
                    "input": {
                        "slug": SLUG,
                        "name": "Load App",
                        "publicKey": signer.public_key,
                        "ciMayPublish": True,
                    }
                },
            },
            headers={"Authorization": f"Bearer {stack.admin_key}"},
        )
        payload = response.json()["data"]["appCreate"]
        if payload["userErrors"]:
            raise RuntimeError(f"appCreate: {payload['userErrors']}")
        stack.app_id = payload["app"]["id"]
    stack.ci_key = stack.server.command(
        "keys", "create", "--scope", "ci", "--app", SLUG, "--name", "load ci"
    ).strip()
    filename = PLATFORMS["linux-x86_64"][1].format("1.0.0")
    body = os.urandom(4096)
    key = ci_key("1.0.0", filename)
    stack.s3.client.put_object(Bucket=BUCKET, Key=key, Body=body)
    async with httpx.AsyncClient(base_url=stack.server.url, timeout=30) as http:
        response = await http.post(
            f"/ci/apps/{SLUG}/releases",
            json={
                "version": "1.0.0",
                "artifacts": [
                    {
                        "platform": "linux-x86_64",
                        "signature": signer.sign(body, filename, "1.0.0"),
                        "r2_key": key,
                    }
                ],
                "auto_publish": True,
            },
            headers={"Authorization": f"Bearer {stack.ci_key}"},
        )
        if response.status_code != 201 or response.json()["status"] != "published":
            raise RuntimeError(f"seeding 1.0.0: {response.status_code} {response.text}")


async def measure(
    stack: Stack, args: argparse.Namespace, script: Path
) -> tuple[Driver, WrkResult, Verdict, str]:
    signer = Signer()
    await set_up(stack, signer)
    driver = Driver(stack, signer)
    stop = asyncio.Event()
    started_load = load_average()
    began = time.monotonic()
    try:
        streams = [
            asyncio.create_task(paced(args.ci_rate, stop, driver.ci_release)),
            asyncio.create_task(paced(args.draft_rate, stop, driver.admin_draft)),
        ]
        try:
            # Checks begin once a release with both platforms is out: the mix is steady.
            first = asyncio.create_task(driver.first_acknowledged.wait())
            await asyncio.wait([first, *streams], timeout=120, return_when=asyncio.FIRST_COMPLETED)
            first.cancel()
            wrk = await run_wrk(
                stack.server.url, script, args.seconds, args.threads, args.connections
            )
        finally:
            stop.set()
            driver.window = time.monotonic() - began
            await asyncio.gather(*streams)
        verdict = await verify(stack, driver, wrk)
    finally:
        await driver.close()
    return driver, wrk, verdict, started_load


def spread(seconds: list[float]) -> str:
    """Median, p90 and max of some durations, in seconds."""
    ordered = sorted(seconds)
    p90 = ordered[round(0.9 * (len(ordered) - 1))]
    return f"{statistics.median(ordered):.2f} / {p90:.2f} / {ordered[-1]:.2f} s (median/p90/max)"


def report(
    args: argparse.Namespace,
    driver: Driver,
    wrk: WrkResult,
    verdict: Verdict,
    loads: tuple[str, str, str],
) -> str:
    def share(count: int) -> str:
        return f"{count:,} ({100 * count / wrk.total:.1f} %)" if wrk.total else str(count)

    statuses = ", ".join(f"{s}: {share(n)}" for s, n in sorted(wrk.statuses.items()))
    classes = Counter[str]()
    for status, count in wrk.statuses.items():
        classes[f"{status[0]}xx"] += count
    cache = ", ".join(f"{s}: {share(n)}" for s, n in wrk.cache.most_common())
    answers = Counter[str]()
    for counts in driver.answers.values():
        answers.update(counts)
    answer_classes = Counter[str]()
    for status, count in answers.items():
        answer_classes[f"{status[0]}xx" if status[0].isdigit() else "no answer"] += count
    lat = wrk.latency
    database = "PostgreSQL, 2 workers" if args.postgres else "SQLite, 1 worker"
    if args.no_edge_cache:
        database += ", edge cache off"
    rows = [
        ("database, server", f"{database}; rate limits off; log level WARNING"),
        (
            "update checks",
            f"{wrk.total:,} in {args.seconds} s: **{wrk.rps:,.0f} req/s** "
            f"(wrk -t{args.threads} -c{args.connections}, {len(check_paths())} URLs)",
        ),
        ("latency p50 / p90 / p99", f"{lat.get('50')} / {lat.get('90')} / {lat.get('99')}"),
        (
            "checks by status class",
            ", ".join(f"{c}: {share(n)}" for c, n in sorted(classes.items())),
        ),
        ("checks by status", statuses),
        ("CF-Cache-Status", cache),
        ("wrk socket errors", wrk.socket_errors),
    ]
    asked = {
        "CI submit, auto_publish": args.ci_rate,
        "admin draft + releasePublish": args.draft_rate,
    }
    for stream, rate in asked.items():
        made = driver.made[stream]
        acked = sum(1 for s in driver.acknowledged.values() if s == stream)
        failed = driver.failures[stream]
        why = "; ".join(f"{reason}: {n}" for reason, n in failed.most_common()) or "none"
        took = driver.durations[stream]
        timing = f"; each took {spread(took)}" if took else ""
        rows.append(
            (
                stream,
                f"{made} made ({made / driver.window:.1f}/s over {driver.window:.0f} s, "
                f"{rate:g}/s asked, at most {MAX_IN_FLIGHT} at once), "
                f"{acked} acknowledged, {failed.total()} failed ({why}){timing}",
            )
        )
    rows += [
        ("releasePublish calls", str(driver.publishes)),
        (
            "driver answers by status class",
            ", ".join(f"{c}: {n}" for c, n in sorted(answer_classes.items())),
        ),
        (
            "driver answers by call",
            "; ".join(
                f"{label} " + ", ".join(f"{s}: {n}" for s, n in sorted(counts.items()))
                for label, counts in sorted(driver.answers.items())
            ),
        ),
        (
            "driver call latency",
            "; ".join(
                f"{label} {spread(times)}"
                for label, times in sorted(driver.timings.items())
                if label.startswith("POST")
            ),
        ),
        (
            "releases afterwards",
            f"{verdict.releases_listed} listed (1.0.0 + {len(driver.acknowledged)} acknowledged"
            + (
                f" + {len(verdict.unacknowledged)} unacknowledged)"
                if verdict.unacknowledged
                else ")"
            ),
        ),
    ]
    rows += [
        (f"check: {name}", ("pass" if passed else "**FAIL**") + f" ({detail})")
        for name, (passed, detail) in verdict.checks.items()
    ]
    rows += [
        (
            "load average (1, 5, 15 min)",
            f"{loads[0]} at launch, {loads[1]} as the load began, {loads[2]} after",
        ),
        ("machine", machine()),
    ]
    lines = ["| measure | value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


@contextlib.contextmanager
def started(args: argparse.Namespace, work: Path) -> Iterator[Stack]:
    """LocalS3, the database, migrations, an admin key and ``ferryman serve``; stopped after."""
    with contextlib.ExitStack() as cleanup:
        s3 = LocalS3(work / "s3")
        s3.start(BUCKET)
        cleanup.callback(s3.stop)
        if args.postgres:
            cluster = PostgresCluster.start()
            cleanup.callback(cluster.stop)
            cluster.create_database("ferryman_load")
            database_url = cluster.url("ferryman_load")
        else:
            database_url = sqlite_url(work / "ferryman.sqlite3")
        env = {
            **server_env(database_url, s3, BUCKET, work),
            **RATE_LIMITS_OFF,
            "FERRYMAN_LOG_LEVEL": "WARNING",
            "FERRYMAN_WORKERS": "2" if args.postgres else "1",
            **({"FERRYMAN_EDGE_CACHE_BYTES": "0"} if args.no_edge_cache else {}),
        }
        server = cleanup.enter_context(ServerProcess(env, work / "server.log"))
        server.command("migrate")
        admin_key = server.command(
            "keys", "create", "--scope", "admin", "--name", "load admin"
        ).strip()
        server.start(timeout=60)
        yield Stack(server=server, s3=s3, database_url=database_url, admin_key=admin_key)


def server_errors(log: str) -> list[tuple[str, int, str]]:
    """The server's log records at ERROR or above, grouped by logger and exception:
    (what, how many, the first one's message and the end of its traceback)."""
    groups: dict[str, tuple[int, str]] = {}
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # not a log record (uvicorn's own start-up lines)
        if not isinstance(record, dict) or record.get("level") not in ("ERROR", "CRITICAL"):
            continue
        trace = str(record.get("exc_info") or "").strip().splitlines()
        last = trace[-1] if trace else str(record.get("message"))
        what = f"{record.get('logger')}: {ID.sub(lambda m: m.group(1) + '_…', last)}"
        count, example = groups.get(what, (0, ""))
        if not example:
            example = "\n".join([f"{record.get('time')} {record.get('message')}", *trace[-12:]])
        groups[what] = (count + 1, example)
    return [(what, count, example) for what, (count, example) in groups.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=60, help="length of the load (60)")
    parser.add_argument(
        "--postgres", action="store_true", help="a throwaway PostgreSQL and 2 server workers"
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--ci-rate", type=float, default=3.0, help="CI submissions a second (3)")
    parser.add_argument(
        "--draft-rate", type=float, default=1.0, help="admin drafts published a second (1)"
    )
    parser.add_argument(
        "--no-edge-cache",
        action="store_true",
        help="FERRYMAN_EDGE_CACHE_BYTES=0: every check goes to the origin",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, data)")
    args = parser.parse_args()
    if args.seconds < 1 or args.threads < 1 or args.connections < args.threads:
        parser.error("--seconds and --threads must be at least 1, --connections >= --threads")
    if args.ci_rate <= 0 or args.draft_rate <= 0:
        parser.error("--ci-rate and --draft-rate must be positive")
    if not shutil.which("wrk"):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            print("wrk is missing: apt-get install wrk", file=sys.stderr)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
        else:
            sys.exit("wrk is not installed: as root, apt-get install wrk (Debian package wrk)")

    launch_load = load_average()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    work = Path(tempfile.mkdtemp(prefix="ferryman-load-"))
    script = work / "checks.lua"
    script.write_text(WRK_SCRIPT)
    passed = False
    try:
        with started(args, work) as stack:
            began = time.monotonic()
            driver, wrk, verdict, load_began = asyncio.run(measure(stack, args, script))
            elapsed = time.monotonic() - began
            log = stack.server.log_text()
        passed = verdict.passed
        print(f"{date}: {shlex.join(['.venv/bin/python', 'bench/load.py', *sys.argv[1:]])}")
        print(f"load average at start: {launch_load} (1, 5, 15 min); {elapsed:.0f} s in all\n")
        print(report(args, driver, wrk, verdict, (launch_load, load_began, load_average())))
        for what, count, example in server_errors(log):
            print(f"\nserver log: {count} record(s) at ERROR, {what}; the first:\n{example}")
        if not passed:
            print(f"\nFAILED: {', '.join(n for n, (ok, _) in verdict.checks.items() if not ok)}")
            print(f"wrk's own output:\n{wrk.output}")
    finally:
        if passed and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"\nwork folder kept: {work} (server.log, s3/, the database)", file=sys.stderr)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
