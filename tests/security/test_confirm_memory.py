"""Checking a file costs the same memory whatever its size (security review, issue 12,
finding 5).

A legacy (``Ed``, 2020-21 Tauri) signature signs the raw file, so verifying one means
holding the whole file; a CI key with a fabricated legacy signature could make confirm
buffer hundreds of MiB before failing on the key id. Everything that can be checked
without the bytes is checked first, legacy signatures are refused on large files, and
the server's peak memory is measured on a real ``ferryman serve`` process.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferryman.local_s3 import LocalS3
from ferryman.signatures import LEGACY_MAX_BYTES, Signature, Verifier
from tests.conftest import server_env
from tests.services import ServerProcess
from tests.signing import Signer
from tests.support.documents import (
    APP_CREATE,
    ARTIFACT_UPLOAD_CONFIRM,
    ARTIFACT_UPLOAD_CREATE,
    CI_RELEASE_SUBMIT,
    operation,
)

MIB = 1024 * 1024
SIZE = 200 * MIB
GROWTH_LIMIT = 50 * MIB
LINUX = "linux-x86_64"
NAME = "MyApp_1.0.0_amd64.AppImage"


class Server:
    """A ``ferryman serve`` child process, its admin key and its memory."""

    def __init__(self, process: ServerProcess, key: str) -> None:
        self.process = process
        self.key = key
        assert process.process is not None
        self.pid = process.process.pid

    def gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{self.process.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=120,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        return body["data"]  # type: ignore[no-any-return]

    def _status(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"{field} not in /proc/{self.pid}/status")

    def reset_peak(self) -> int:
        """Start measuring: the peak is set back to what is resident now (returned)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        return self._status("VmRSS")

    def peak(self) -> int:
        return self._status("VmHWM")


@pytest.fixture
def server(database_url: str, s3: LocalS3, bucket: str, tmp_path: Path) -> Iterator[Server]:
    process = ServerProcess(server_env(database_url, s3, bucket, tmp_path), tmp_path / "log")
    key = process.command("keys", "create", "--scope", "admin", "--name", "memory").strip()
    with process:
        process.start()
        yield Server(process, key)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 MiB on disk, mostly a hole: never held in the test's memory."""
    path = tmp_path_factory.mktemp("big") / NAME
    with path.open("wb") as file:
        file.write(b"the start of a large update\n")
        file.truncate(SIZE - MIB)
        file.seek(0, os.SEEK_END)
        file.write(os.urandom(MIB))  # something to hash that no other file has
    assert path.stat().st_size == SIZE
    return path


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def fabricated_legacy_signature(key_id: bytes) -> str:
    """A well-formed legacy (``Ed``) signature that verifies nothing."""
    text = (
        "untrusted comment: signature from tauri secret key\n"
        f"{b64(b'Ed' + key_id + os.urandom(64))}\n"
        f"trusted comment: timestamp:{int(time.time())}\tfile:{NAME}\n"
        f"{b64(os.urandom(64))}\n"
    )
    return b64(text.encode())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def draft(server: Server, signer: Signer) -> str:
    app = server.gql(
        APP_CREATE, {"input": {"slug": "big-app", "name": "Big", "publicKey": signer.public_key}}
    )["appCreate"]["app"]
    created = server.gql(
        operation("ReleaseCreate"), {"appId": app["id"], "input": {"version": "1.0.0"}}
    )
    release_id: str = created["releaseCreate"]["release"]["id"]
    return release_id


def presigned_upload(server: Server, release_id: str, signature: str, path: Path) -> str:
    """Create the upload and PUT the file, streamed from disk; returns the artifact id."""
    fields = {
        "platform": LINUX,
        "filename": NAME,
        "signature": signature,
        "fileSize": path.stat().st_size,
    }
    created = server.gql(ARTIFACT_UPLOAD_CREATE, {"releaseId": release_id, "input": fields})
    payload = created["artifactUploadCreate"]
    assert payload["userErrors"] == [], payload
    headers = {h["name"]: h["value"] for h in payload["uploadHeaders"]}
    headers["Content-Length"] = str(path.stat().st_size)
    with path.open("rb") as file:
        response = httpx.put(payload["uploadUrl"], content=file, headers=headers, timeout=300)
    assert response.status_code == 200, response.text
    artifact_id: str = payload["artifact"]["id"]
    return artifact_id


def confirm(server: Server, artifact_id: str) -> tuple[dict[str, Any], int, float]:
    """Confirm; returns the artifact, the server's peak memory growth, and the seconds."""
    before = server.reset_peak()
    started = time.monotonic()
    confirmed = server.gql(ARTIFACT_UPLOAD_CONFIRM, {"id": artifact_id})["artifactUploadConfirm"]
    took = time.monotonic() - started
    artifact: dict[str, Any] = confirmed["artifact"]
    return artifact, server.peak() - before, took


def put_as_pipeline(s3: LocalS3, bucket: str, key: str, path: Path) -> None:
    with path.open("rb") as file:
        s3.client.upload_fileobj(file, bucket, key)


def test_a_legacy_signature_on_a_large_upload_is_refused_before_anything_is_uploaded(
    server: Server, big_file: Path
) -> None:
    signer = Signer()
    release_id = draft(server, signer)
    fields = {
        "platform": LINUX,
        "filename": NAME,
        "signature": fabricated_legacy_signature(signer.key_id),
        "fileSize": SIZE,
    }

    created = server.gql(ARTIFACT_UPLOAD_CREATE, {"releaseId": release_id, "input": fields})

    payload = created["artifactUploadCreate"]
    assert payload["artifact"] is None
    assert payload["uploadUrl"] is None
    [error] = payload["userErrors"]
    assert error["field"] == ["input", "signature"]
    assert "legacy" in error["message"]
    assert "16 MiB" in error["message"]
    assert "re-sign" in error["message"]
    assert "Tauri CLI" in error["message"]


@pytest.mark.parametrize("key", ["the app's", "another"])
def test_a_pipeline_object_with_a_fabricated_legacy_signature_fails_without_being_read(
    server: Server, big_file: Path, s3: LocalS3, bucket: str, key: str
) -> None:
    signer = Signer()
    draft(server, signer)
    key_id = signer.key_id if key == "the app's" else os.urandom(8)
    r2_key = f"big-app/releases/1.0.0/{NAME}"
    put_as_pipeline(s3, bucket, r2_key, big_file)
    submission = {
        "version": "1.0.0",
        "artifacts": [
            {
                "platform": LINUX,
                "signature": fabricated_legacy_signature(key_id),
                "r2Key": r2_key,
            }
        ],
    }

    variables = {"slug": "big-app", "input": submission}
    before = server.reset_peak()
    submitted = server.gql(CI_RELEASE_SUBMIT, variables)["ciReleaseSubmit"]
    growth = server.peak() - before

    [artifact] = submitted["release"]["artifacts"]
    assert artifact["status"] == "FAILED"
    reason = artifact["failureReason"]
    if key == "the app's":
        for says in ("legacy", "16 MiB", "re-sign"):
            assert says in reason, reason
    else:
        assert reason.startswith("signature was made by key"), reason
    assert artifact["checksum"] is None  # never read
    assert growth < GROWTH_LIMIT, f"the server grew by {growth / MIB:.0f} MiB"


def test_a_large_upload_signed_by_another_key_fails_without_being_read(
    server: Server, big_file: Path
) -> None:
    release_id = draft(server, Signer())
    stranger = Signer()
    artifact_id = presigned_upload(server, release_id, stranger.sign_file(big_file), big_file)

    artifact, growth, _ = confirm(server, artifact_id)

    assert artifact["status"] == "FAILED"
    assert artifact["failureReason"].startswith("signature was made by key")
    assert artifact["checksum"] is None  # never read
    assert growth < GROWTH_LIMIT, f"the server grew by {growth / MIB:.0f} MiB"


def test_a_large_genuine_upload_is_verified_in_flat_memory(server: Server, big_file: Path) -> None:
    signer = Signer()
    release_id = draft(server, signer)
    artifact_id = presigned_upload(server, release_id, signer.sign_file(big_file), big_file)

    artifact, growth, took = confirm(server, artifact_id)

    assert artifact["status"] == "READY", artifact
    assert (artifact["fileSize"], artifact["checksum"]) == (SIZE, sha256_of(big_file))
    assert growth < GROWTH_LIMIT, f"the server grew by {growth / MIB:.0f} MiB in {took:.1f} s"


def test_a_direct_upload_with_a_legacy_signature_is_refused_before_it_is_stored(
    server: Server, tmp_path: Path, s3: LocalS3, bucket: str
) -> None:
    signer = Signer()
    release_id = draft(server, signer)
    path = tmp_path / NAME
    with path.open("wb") as file:
        file.truncate(150 * MIB)
    operations = {
        "query": (
            "mutation ($r: ID!, $s: String!, $f: Upload!) { artifactUpload(releaseId: $r, "
            'platform: "linux-x86_64", signature: $s, file: $f) '
            "{ artifact { status } userErrors { field message } } }"
        ),
        "variables": {
            "r": release_id,
            "s": fabricated_legacy_signature(signer.key_id),
            "f": None,
        },
    }

    before = server.reset_peak()
    with path.open("rb") as file:
        response = httpx.post(
            f"{server.process.url}/graphql",
            data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
            files={"0": (NAME, file, "application/octet-stream")},
            headers={"Authorization": f"Bearer {server.key}"},
            timeout=300,
        )
    growth = server.peak() - before

    assert response.status_code == 200, response.text
    payload = response.json()["data"]["artifactUpload"]
    assert payload["artifact"] is None
    [error] = payload["userErrors"]
    assert error["field"] == ["signature"]
    assert "legacy" in error["message"]
    assert "re-sign" in error["message"]
    assert s3.client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert growth < GROWTH_LIMIT, f"the server grew by {growth / MIB:.0f} MiB"


def test_a_legacy_verifier_keeps_at_most_the_legacy_limit_of_a_file_of_unknown_size() -> None:
    """When no size is known in advance, the bytes past the limit are never kept."""
    signer = Signer()
    verifier = Verifier(Signature.parse(fabricated_legacy_signature(signer.key_id)))
    chunk = bytes(MIB)
    tracemalloc.start()
    try:
        for _ in range(LEGACY_MAX_BYTES // MIB + 8):
            verifier.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < LEGACY_MAX_BYTES + 4 * MIB, f"{peak / MIB:.0f} MiB"
    failure = verifier.failure(signer.public_key)
    assert failure is not None
    assert "legacy" in failure
    assert "re-sign" in failure
