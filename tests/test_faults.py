"""Faults in the middle of work, as real runs: the server SIGKILLed during a burst of CI
submissions, and the object store taken away (its own weed SIGKILLed, then started again
on the same ports and data) while an upload streams and while a confirm reads a file back.

Everything is real and on loopback: ``ferryman serve`` as a child process (ServerProcess),
the pass's database (SQLite, or PostgreSQL with ``--db postgres``), SeaweedFS, and Tauri
signatures over the very bytes uploaded, made here with a throw-away key in the format
``tauri signer sign`` writes (prehashed minisign; the private key lives only in memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferryman.local_s3 import LocalS3
from ferryman.models import Artifact, AuditEvent, Release
from ferryman.models.actor import KeyScope
from ferryman.models.status import ArtifactStatus
from ferryman.settings import Settings
from ferryman.storage import Storage
from tests.conftest import GraphQL, make_key, peer, server_env, serving
from tests.services import ServerProcess
from tests.signing import Signer
from tests.support.database import bound, snapshot
from tests.support.documents import (
    API_KEY_CREATE,
    APP_CREATE,
    ARTIFACT_UPLOAD_CONFIRM,
    CI_RELEASE_SUBMIT,
)
from tests.support.refusals import top_error
from tests.support.uploads import draft, multipart, put, unfinished_uploads, upload_create

MiB = 1024 * 1024
LINUX = "linux-x86_64"
MAC = "darwin-aarch64"
# Rate limits far above what a test sends (unknown variables are ignored by older servers).
NO_RATE_LIMITS = {
    "FERRYMAN_RATE_LIMIT_CI": "1000000",
    "FERRYMAN_RATE_LIMIT_GRAPHQL": "1000000",
}


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


# --- the server SIGKILLed during a burst of CI submissions ----------------------------------

BURST = 40
KILL_AFTER = 12  # acknowledged submissions before the SIGKILL may come
KILL_LATEST = 8  # acknowledged after KILL_AFTER when no submission was ever seen midway
SPREAD = 0.05  # seconds between the starts of two submissions: all start within 2 s
FILE_BYTES = 512 * 1024


@dataclasses.dataclass(frozen=True)
class File:
    key: str
    body: bytes
    signature: str


@dataclasses.dataclass(frozen=True)
class Planned:
    """One CI submission: a version, the door it goes through, and its files by platform."""

    version: str
    door: str  # "rest" (POST /ci/apps/{slug}/releases) or "graphql" (ciReleaseSubmit)
    files: dict[str, File]
    request_id: str

    @property
    def notes(self) -> str:
        return f"What's new in {self.version}"

    async def send(self, client: httpx.AsyncClient, key: str, request_id: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}", "X-Request-ID": request_id}
        if self.door == "rest":
            body = {
                "version": self.version,
                "notes": self.notes,
                "artifacts": [
                    {"platform": platform, "signature": f.signature, "r2_key": f.key}
                    for platform, f in self.files.items()
                ],
            }
            return await client.post("/ci/apps/my-app/releases", json=body, headers=headers)
        variables = {
            "slug": "my-app",
            "input": {
                "version": self.version,
                "notes": self.notes,
                "artifacts": [
                    {"platform": platform, "signature": f.signature, "r2Key": f.key}
                    for platform, f in self.files.items()
                ],
            },
        }
        return await client.post(
            "/graphql", json={"query": CI_RELEASE_SUBMIT, "variables": variables}, headers=headers
        )

    def accepted(self, response: httpx.Response) -> Answer | None:
        """What the answer said when it says the submission succeeded, else None."""
        if self.door == "rest":
            if response.status_code not in (200, 201):
                return None
            rest = response.json()
            return Answer(
                rest["id"],
                response.status_code == 201,
                rest["status"],
                {a["platform"]: a["status"] for a in rest["artifacts"]},
            )
        if response.status_code != 200:
            return None
        body = response.json()
        payload = (body.get("data") or {}).get("ciReleaseSubmit")
        if body.get("errors") or not payload or payload["userErrors"]:
            return None
        release = payload["release"]
        return Answer(
            release["id"],
            payload["created"],
            release["status"].lower(),
            {a["platform"]: a["status"] for a in release["artifacts"]},
        )


@dataclasses.dataclass(frozen=True)
class Answer:
    """A successful submission's answer: the release, whether it was new, and its state."""

    release_id: str
    created: bool
    status: str
    artifacts: dict[str, str]  # platform -> status


def plan(signer: Signer, versions: list[str], request_prefix: str) -> list[Planned]:
    """Submissions through both doors; most carry two signed files, every fifth none."""
    planned = []
    for index, version in enumerate(versions):
        files = {}
        if index % 5 != 4:
            for platform, name in (
                (LINUX, f"MyApp_{version}_amd64.AppImage"),
                (MAC, "MyApp.app.tar.gz"),
            ):
                body = os.urandom(FILE_BYTES)
                files[platform] = File(
                    f"my-app/releases/{version}/{name}", body, signer.sign(body, name, version)
                )
        door = "rest" if index % 2 == 0 else "graphql"
        planned.append(Planned(version, door, files, f"{request_prefix}-{index:03d}"))
    return planned


@dataclasses.dataclass
class Written:
    """What the database holds for one version after the fact."""

    release: Release | None
    artifacts: list[Artifact]
    events: list[AuditEvent]

    @classmethod
    async def read(cls, app_id: str, version: str) -> Written:
        release = await Release.get_or_none(app_id=app_id, version=version)
        if release is None:
            return cls(None, [], [])
        artifacts = await Artifact.filter(release_id=release.id).order_by("platform")
        targets = [release.id, *(a.id for a in artifacts)]
        events = await AuditEvent.filter(target_id__in=targets).order_by("id")
        return cls(release, artifacts, events)

    def problems(self, planned: Planned) -> list[str]:
        """How this differs from a release its submission left complete (empty: complete)."""
        if self.release is None:
            return ["no release row"]
        found = []
        if self.release.status.value != "draft":
            found.append(f"status {self.release.status.value}")
        if self.release.notes != planned.notes:
            found.append(f"notes {self.release.notes!r}")
        by_platform = {a.platform: a for a in self.artifacts}
        if set(by_platform) != set(planned.files):
            found.append(f"artifacts for {sorted(by_platform)}, submitted {sorted(planned.files)}")
        for platform, file in planned.files.items():
            artifact = by_platform.get(platform)
            if artifact is None:
                continue
            state = (
                artifact.status,
                artifact.upload_key,
                artifact.checksum,
                artifact.file_size,
                artifact.signature,
            )
            expected = (
                ArtifactStatus.READY,
                file.key,
                sha256(file.body),
                len(file.body),
                file.signature.strip(),
            )
            if state != expected:
                found.append(f"{platform} artifact is {artifact.status.value}: {state[1:4]}")
        return found

    def actions(self) -> Counter[str]:
        return Counter(event.action for event in self.events)


async def test_kill_9_during_a_burst_of_ci_submissions_then_restart(
    database_url: str, s3: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """SIGKILL ``ferryman serve`` while CI submissions are in flight, restart it on the same
    database, and check what survived: every acknowledged submission whole, no release
    half-written, and every unacknowledged one accepted when CI sends it again."""
    signer = Signer()
    env = {
        **server_env(database_url, s3, bucket, tmp_path),
        **NO_RATE_LIMITS,
        # The test plays the proxy in front: the request ids it sends are the ones audited.
        "FERRYMAN_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    async with bound(database_url):
        admin = await make_key(KeyScope.ADMIN, name="faults")
    with ServerProcess(env, tmp_path / "server.log") as server:
        server.start()
        controls = plan(signer, [f"1.{n}.0" for n in range(5)], "control")
        burst = plan(signer, [f"2.{n}.0" for n in range(BURST)], "burst")
        for planned in [*controls, *burst]:
            for file in planned.files.values():
                s3.client.put_object(Bucket=bucket, Key=file.key, Body=file.body)
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            app_id, ci_key, ci_key_id = await ci_app(client, admin, signer.public_key)
            for planned in controls:  # the normal path, before any fault
                response = await planned.send(client, ci_key, planned.request_id)
                assert planned.accepted(response), response.text

        async with bound(database_url):  # to watch the burst from beside the server
            answers, in_flight = await burst_then_kill(server, ci_key, burst, app_id)

        acknowledged: dict[str, Answer] = {}
        refused: dict[str, str] = {}
        for planned in burst:
            if planned.version in answers:
                response = answers[planned.version]
                answer = planned.accepted(response)
                if answer is None:
                    refused[planned.version] = f"{response.status_code} {response.text}"
                else:
                    acknowledged[planned.version] = answer
        assert refused == {}, f"refused before the kill: {refused}\n{server.log_tail()}"
        assert len(acknowledged) >= KILL_AFTER
        assert in_flight, "no submission was in flight at the kill: nothing was tested"
        unacknowledged = [p for p in burst if p.version not in acknowledged]

        server.restart()  # the same database, the same port

        async with bound(database_url):
            normal = {
                bool(p.files): (await Written.read(app_id, p.version)).actions() for p in controls
            }
            assert normal == {
                True: Counter({"release.create": 1, "artifact.upload": 2, "artifact.confirm": 2}),
                False: Counter({"release.create": 1}),
            }

            # Every acknowledged submission is there as its answer said, with its audit trail.
            for planned in burst:
                answer = acknowledged.get(planned.version)
                if answer is None:
                    continue
                written = await Written.read(app_id, planned.version)
                assert written.problems(planned) == [], (planned.version, written.problems(planned))
                assert written.release is not None
                assert (written.release.id, written.release.status.value) == (
                    answer.release_id,
                    answer.status,
                )
                assert answer.artifacts == dict.fromkeys(planned.files, "READY"), answer
                assert written.actions() == normal[bool(planned.files)], planned.version
                assert {(e.key_id, e.request_id) for e in written.events} == {
                    (ci_key_id, planned.request_id)
                }, planned.version

            # An unacknowledged one is absent or complete (committed, answer lost): never between.
            existed: set[str] = set()
            half_written: dict[str, list[str]] = {}
            for planned in unacknowledged:
                written = await Written.read(app_id, planned.version)
                if written.release is not None:
                    existed.add(planned.version)
                    if written.problems(planned):
                        half_written[planned.version] = written.problems(planned)
            # And nothing anywhere points at a release or an artifact that is not there.
            kept = {str(i) for i in await Release.all().values_list("id", flat=True)}
            kept |= {str(i) for i in await Artifact.all().values_list("id", flat=True)}
            targets = [str(t) for t in await AuditEvent.all().values_list("target_id", flat=True)]
            assert [t for t in targets if t.startswith(("rel_", "art_")) and t not in kept] == []

        # CI sends the unacknowledged submissions again: every one is accepted.
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            retried = await asyncio.gather(
                *(p.send(client, ci_key, f"{p.request_id}-retry") for p in unacknowledged)
            )
            for planned, response in zip(unacknowledged, retried, strict=True):
                answer = planned.accepted(response)
                assert answer is not None, (planned.version, response.text, server.log_tail())
                assert answer.created is (planned.version not in existed), planned.version
                assert answer.artifacts == dict.fromkeys(planned.files, "READY"), answer
            # An acknowledged one sent again is the same release, unchanged (idempotent).
            async with bound(database_url):
                events_before = await AuditEvent.all().count()
            for planned in [p for p in burst if p.version in acknowledged][:4]:
                response = await planned.send(client, ci_key, f"{planned.request_id}-again")
                answer = planned.accepted(response)
                assert answer is not None, response.text
                assert (answer.release_id, answer.created) == (
                    acknowledged[planned.version].release_id,
                    False,
                )

        async with bound(database_url):
            assert await AuditEvent.all().count() == events_before
            assert await Release.filter(app_id=app_id).count() == len(controls) + BURST
            for planned in burst:
                written = await Written.read(app_id, planned.version)
                assert written.problems(planned) == [], (planned.version, written.problems(planned))
                if planned.version not in acknowledged and planned.version not in existed:
                    # A retry of a submission that left nothing writes what the normal path does.
                    assert written.actions() == normal[bool(planned.files)], planned.version
                    assert {e.request_id for e in written.events} == {f"{planned.request_id}-retry"}

    examples = "; ".join(f"{v}: {', '.join(found)}" for v, found in list(half_written.items())[:3])
    assert not half_written, (
        f"the SIGKILL left {len(half_written)} of {len(unacknowledged)} unacknowledged "
        f"submissions ({len(existed)} with a release row) half-written: a committed release "
        f"without the artifacts its submission carried, or with them still PENDING; {examples}"
    )


async def burst_then_kill(
    server: ServerProcess, ci_key: str, burst: list[Planned], app_id: str
) -> tuple[dict[str, httpx.Response], set[str]]:
    """Send every submission and SIGKILL the server in the middle of them.

    The kill comes once KILL_AFTER were acknowledged, at the first moment the database
    shows a submission midway (a release whose submitted files are not all there and
    READY): the worst moment for a server that commits a submission in steps. A server
    that never shows one is killed once KILL_AFTER + KILL_LATEST were acknowledged, or when
    the last submission has been sent, always with some still in flight.
    Returns the answers that arrived (the others were cut off by the kill), by version,
    and the versions that were in flight at the kill.
    """
    answers: dict[str, httpx.Response] = {}
    in_flight: set[str] = set()
    finished: set[str] = set()
    acknowledged = 0
    limits = httpx.Limits(max_connections=len(burst), max_keepalive_connections=len(burst))
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:

        async def submit(planned: Planned, delay: float) -> None:
            nonlocal acknowledged
            await asyncio.sleep(delay)  # CI jobs start within moments of each other
            in_flight.add(planned.version)
            try:
                response = await planned.send(client, ci_key, planned.request_id)
            except httpx.TransportError:  # cut off by the kill
                return
            finally:
                in_flight.discard(planned.version)
                finished.add(planned.version)
            answers[planned.version] = response
            if planned.accepted(response):
                acknowledged += 1

        tasks = [
            asyncio.create_task(submit(planned, index * SPREAD))
            for index, planned in enumerate(burst)
        ]
        try:
            deadline = time.monotonic() + 60
            while len(finished) < len(burst):
                assert time.monotonic() < deadline, f"only {acknowledged} acknowledged in 60 s"
                if acknowledged >= KILL_AFTER and in_flight:
                    late = acknowledged >= KILL_AFTER + KILL_LATEST
                    all_sent = len(finished) + len(in_flight) == len(burst)
                    if late or all_sent or await midway(app_id, burst):
                        break
                await asyncio.sleep(0.01)
            at_kill = set(in_flight)
        finally:
            server.kill()
            await asyncio.gather(*tasks)
    return answers, at_kill


async def midway(app_id: str, burst: list[Planned]) -> bool:
    """Whether the database shows a release of ``burst`` without all its files READY."""
    expected = {p.version: len(p.files) for p in burst if p.files}
    releases = await Release.filter(app_id=app_id, version__in=list(expected)).values_list(
        "id", "version"
    )
    ready = Counter(
        str(release_id)
        for release_id in await Artifact.filter(
            release_id__in=[r for r, _ in releases], status=ArtifactStatus.READY
        ).values_list("release_id", flat=True)
    )
    return any(ready[str(r)] < expected[str(v)] for r, v in releases)


def by_version(planned: list[Planned], version: str) -> Planned:
    return next(p for p in planned if p.version == version)


async def ci_app(client: httpx.AsyncClient, admin: str, public_key: str) -> tuple[str, str, str]:
    """The app my-app with ``public_key`` and a CI key for it: (app id, secret, key id)."""

    async def mutate(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {admin}"},
        )
        payload: dict[str, Any] = next(iter(response.json()["data"].values()))
        assert payload["userErrors"] == [], payload
        return payload

    created = await mutate(
        APP_CREATE, {"input": {"slug": "my-app", "name": "My App", "publicKey": public_key}}
    )
    app_id: str = created["app"]["id"]
    key = await mutate(API_KEY_CREATE, {"input": {"name": "CI", "scope": "CI", "appId": app_id}})
    return app_id, key["secret"], key["apiKey"]["id"]


# --- the object store stopped in the middle of a transfer ---------------------------------

BIG = 32 * MiB  # four 8 MiB parts of a multipart upload, 32 chunks of a read-back
STOP_AFTER = 12 * MiB  # one part is in the store, or 12 MiB were read, when it stops
PRIVATE_BUCKET = "faults"


class StopMidway:
    """The app's own Storage with a trigger: when armed, once ``after`` bytes of an upload
    or of a read-back have passed, ``stop()`` runs right there, in the middle of the stream.

    Only the moment is the test's choice: every byte still travels to and from the real
    SeaweedFS through the app's real client, and every failure is the real one.
    """

    def __init__(self, storage: Storage, stop: Callable[[], None], after: int) -> None:
        self.storage = storage
        self.stop = stop
        self.after = after
        self.armed = False
        self.stopped_at: float | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)

    async def upload(
        self, key: str, chunks: AsyncIterator[bytes], content_type: str | None
    ) -> None:
        await self.storage.upload(key, self._watched(chunks), content_type)

    def chunks(self, key: str) -> AsyncIterator[bytes]:
        return self._watched(self.storage.chunks(key))

    async def _watched(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        passed = 0
        async for chunk in chunks:
            passed += len(chunk)
            if self.armed and passed >= self.after:
                self.armed = False
                self.stop()
                self.stopped_at = time.monotonic()
            yield chunk


@dataclasses.dataclass
class Served:
    """The app in process: clients, a global admin key, and its watched storage."""

    gql: GraphQL
    client: httpx.AsyncClient
    admin_key: str
    storage: StopMidway

    async def post(self, query: str, variables: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A GraphQL call whose HTTP status is the test's to check."""
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.admin_key}"},
        )
        body: dict[str, Any] = response.json()
        return response.status_code, body


@pytest.fixture
def private_s3(tmp_path: Path) -> Iterator[LocalS3]:
    """A SeaweedFS of this test's own, so it can be stopped under the app."""
    local = LocalS3(tmp_path / "own-s3")
    local.start(PRIVATE_BUCKET)
    yield local
    local.stop()


@contextlib.asynccontextmanager
async def serve_on(settings: Settings, local: LocalS3) -> AsyncIterator[Served]:
    """The app, in process, on ``local``'s bucket, its storage wrapped in a StopMidway."""
    async with serving(
        settings,
        s3_endpoint=local.endpoint,
        s3_region=local.region,
        s3_bucket=PRIVATE_BUCKET,
        s3_access_key_id=local.credentials.access_key_id,
        s3_secret_access_key=local.credentials.secret_access_key,
    ) as application:
        watched = StopMidway(application.state.storage, lambda: crash(local), STOP_AFTER)
        application.state.storage = watched
        async with peer(application) as client:
            key = await make_key(KeyScope.ADMIN, name="admin")
            yield Served(GraphQL(client), client, key, watched)


def crash(local: LocalS3) -> None:
    """Take the store away at once: SIGKILL to this test's own weed, by its pid.

    (A SIGTERM lets weed finish the transfers it is serving before it exits, so it could
    never cut one in the middle.)
    """
    assert local.process is not None
    local.process.kill()
    local.process.wait()


def unavailable(status: int, answer: dict[str, Any]) -> None:
    """The answer to a call cut off by the outage: try again, nothing else."""
    # In GraphQL execution the answer is 200 with the error; before it (authentication), 503.
    assert status in (200, 503), (status, answer)
    error = top_error(answer, "SERVICE_UNAVAILABLE")
    assert "object storage is unavailable" in error["message"], error
    assert answer["data"] is None, answer


def stored(local: LocalS3) -> dict[str, str]:
    """Every object in the private bucket, with the SHA-256 of its content."""
    listed = local.client.list_objects_v2(Bucket=PRIVATE_BUCKET).get("Contents", [])
    return {
        item["Key"]: sha256(
            local.client.get_object(Bucket=PRIVATE_BUCKET, Key=item["Key"])["Body"].read()
        )
        for item in listed
    }


async def test_s3_stopped_while_a_direct_upload_streams(
    settings: Settings, private_s3: LocalS3
) -> None:
    """artifactUpload of 32 MiB; the store dies after its first 8 MiB part was stored."""
    signer = Signer()
    body = os.urandom(BIG)
    name = "MyApp.app.tar.gz"
    signature = signer.sign(body, name, "1.2.3")
    async with serve_on(settings, private_s3) as served:
        release_id = await draft(served.gql, served.admin_key, public_key=signer.public_key)
        before = await snapshot()

        served.storage.armed = True
        response = await asyncio.wait_for(
            multipart(
                served.client,
                served.admin_key,
                release_id,
                name,
                platform=MAC,
                signature=signature,
                body=body,
            ),
            60,
        )

        assert served.storage.stopped_at is not None, "the store was not stopped mid-stream"
        assert time.monotonic() - served.storage.stopped_at < 10, "no prompt answer"
        unavailable(response.status_code, response.json())
        assert await snapshot() == before  # no artifact row, no audit event

        private_s3.start(PRIVATE_BUCKET)  # same ports, same data
        assert stored(private_s3) == {}  # nothing half-uploaded became an object
        leftovers = unfinished_uploads(private_s3, PRIVATE_BUCKET)

        again = await multipart(
            served.client,
            served.admin_key,
            release_id,
            name,
            platform=MAC,
            signature=signature,
            body=body,
        )
        assert again.status_code == 200, again.text
        artifact = again.json()["data"]["artifactUpload"]["artifact"]
        assert artifact["status"] == "READY", artifact
        assert (artifact["checksum"], artifact["fileSize"]) == (sha256(body), BIG)
        assert stored(private_s3) == {artifact["objectKey"]: sha256(body)}
        # The multipart upload the outage cut off could not be aborted then; once the store
        # is back and the same key was uploaded again, its parts must not stay behind.
        assert unfinished_uploads(private_s3, PRIVATE_BUCKET) == [], (
            f"parts of the cut-off upload stay in the bucket for good: {leftovers}"
        )


async def test_s3_stopped_while_a_confirm_reads_the_file_back(
    settings: Settings, private_s3: LocalS3
) -> None:
    """artifactUploadConfirm of a 32 MiB presigned upload; the store dies while the file is
    read back, hashed and verified, 12 MiB in."""
    signer = Signer()
    body = os.urandom(BIG)
    name = "MyApp_1.2.3_amd64.AppImage"
    signature = signer.sign(body, name, "1.2.3")
    async with serve_on(settings, private_s3) as served:
        release_id = await draft(served.gql, served.admin_key, public_key=signer.public_key)
        created = await upload_create(
            served.gql,
            served.admin_key,
            release_id,
            name,
            platform=LINUX,
            signature=signature,
            fileSize=BIG,
        )
        assert created["userErrors"] == [], created
        assert (await put(created, body)).status_code == 200
        artifact_id = created["artifact"]["id"]
        key = created["artifact"]["objectKey"]
        before = await snapshot()

        served.storage.armed = True
        status, answer = await asyncio.wait_for(
            served.post(ARTIFACT_UPLOAD_CONFIRM, {"id": artifact_id}), 60
        )

        assert served.storage.stopped_at is not None, "the store was not stopped mid-read"
        assert time.monotonic() - served.storage.stopped_at < 10, "no prompt answer"
        unavailable(status, answer)
        assert await snapshot() == before  # still PENDING, no checksum, no audit event
        assert (await Artifact.get(id=artifact_id)).status is ArtifactStatus.PENDING

        private_s3.start(PRIVATE_BUCKET)
        # The upload itself, and at most the copy whose check was cut short: under the
        # artifact's own prefix, never served, swept away by the next confirm.
        left = stored(private_s3)
        assert left.pop(key) == sha256(body)
        assert all(k.startswith(f"my-app/files/1.2.3/{LINUX}/{artifact_id}/") for k in left), left

        status, again = await served.post(ARTIFACT_UPLOAD_CONFIRM, {"id": artifact_id})
        assert status == 200, again
        artifact = again["data"]["artifactUploadConfirm"]["artifact"]
        assert artifact["status"] == "READY", artifact
        assert (artifact["checksum"], artifact["fileSize"]) == (sha256(body), BIG)
        assert stored(private_s3) == {artifact["objectKey"]: sha256(body)}
