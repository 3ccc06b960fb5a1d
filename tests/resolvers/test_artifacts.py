"""artifactUploadCreate / artifactUploadConfirm / artifactUpload / artifactDelete.

Every test runs against the session's SeaweedFS (credentials enforced) and uses files
signed by the real Tauri CLI (tests/data/tauri). A refused request must leave every
table, and the bucket, exactly as they were.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferryman.app import create_app
from ferryman.local_s3 import LocalS3
from ferryman.models import Artifact, AuditEvent, Release
from ferryman.models.actor import KeyScope
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from ferryman.settings import Settings
from ferryman.signatures import PublicKey
from tests.conftest import GraphQL, make_key
from tests.support.api import create_release
from tests.support.database import snapshot
from tests.support.documents import (
    APP_UPDATE,
    ARTIFACT_DELETE,
    ARTIFACT_UPLOAD,
    ARTIFACT_UPLOAD_CONFIRM,
    operation,
)
from tests.support.refusals import top_error, user_error
from tests.support.tauri_files import APP_PUB, APPIMAGE, TARBALL, data, text
from tests.support.uploads import (
    LINUX,
    MAC,
    app_with_key,
    confirm,
    draft,
    multipart,
    objects,
    put,
    unfinished_uploads,
    upload_create,
)

OTHER = "other-key.AppImage"  # signed by other.pub, version:1.2.3
NINES = "version-9.9.9.AppImage"  # signed by app.pub, version:9.9.9
APP_KEY_ID = PublicKey.parse(APP_PUB).key_id_hex
OTHER_KEY_ID = PublicKey.parse(text("other.pub")).key_id_hex


# --- set-up and calls ------------------------------------------------------------------


async def presigned(
    gql: GraphQL, key: str, release_id: str, filename: str = APPIMAGE, body: bytes | None = None
) -> dict[str, Any]:
    """Create, PUT and confirm; returns the confirmed artifact."""
    created = await upload_create(gql, key, release_id, filename)
    assert created["userErrors"] == [], created
    response = await put(created, data(filename) if body is None else body)
    assert response.status_code == 200, response.text
    confirmed = await confirm(gql, key, created["artifact"]["id"])
    assert confirmed["userErrors"] == [], confirmed
    artifact: dict[str, Any] = confirmed["artifact"]
    return artifact


async def direct(
    client: httpx.AsyncClient, key: str, release_id: str, filename: str = TARBALL, **options: Any
) -> dict[str, Any]:
    """artifactUpload through HTTP; returns its payload (or the whole body on errors)."""
    response = await multipart(client, key, release_id, filename, **options)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        return body
    payload: dict[str, Any] = body["data"]["artifactUpload"]
    return payload


async def publish(gql: GraphQL, key: str, release_id: str) -> dict[str, Any]:
    result = await gql(operation("ReleasePublish"), {"id": release_id}, key=key)
    payload: dict[str, Any] = result["data"]["releasePublish"]
    return payload


async def actions(target_id: str) -> list[str]:
    rows = await AuditEvent.filter(target_id=target_id).order_by("id").values_list("action")
    return [str(action) for (action,) in rows]


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def private_key() -> str:
    """A Tauri private key as `tauri signer generate` writes it: base64 of a minisign secret
    key file, whose second line is a 158-byte encrypted key (Ed, Sc(rypt), B2, salt, limits,
    key id + secret + checksum). Made up here: no real private key is kept in the repo."""
    blob = b"EdScB2" + os.urandom(32) + (1 << 25).to_bytes(8, "little")
    blob += (1 << 30).to_bytes(8, "little") + os.urandom(104)
    assert len(blob) == 158
    secret_file = "untrusted comment: rsign encrypted secret key\n"
    secret_file += base64.b64encode(blob).decode() + "\n"
    return base64.b64encode(secret_file.encode()).decode()


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[tuple[GraphQL, httpx.AsyncClient, str]]:
    """The app for settings of the test's own, with a client and a global admin key."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://ferryman.test") as c:
            yield GraphQL(c), c, await make_key(KeyScope.ADMIN, name="admin")


# --- the presigned flow ----------------------------------------------------------------


async def test_presigned_upload_of_a_tauri_signed_file(
    gql: GraphQL,
    client: httpx.AsyncClient,
    admin_key: str,
    settings: Settings,
    s3: LocalS3,
    bucket: str,
) -> None:
    release_id = await draft(gql, admin_key, "1.2.3")
    body = data(APPIMAGE)

    created = await upload_create(
        gql,
        admin_key,
        release_id,
        fileSize=len(body),
        contentType="application/octet-stream",
    )

    assert created["userErrors"] == []
    artifact = created["artifact"]
    key = f"_uploads/my-app/{artifact['id']}/{APPIMAGE}"  # the artifact's own, never served
    assert artifact["id"].startswith("art_")
    assert artifact["status"] == "PENDING"
    assert artifact["objectKey"] == key
    assert artifact["filename"] == APPIMAGE
    assert artifact["signature"] == text(APPIMAGE + ".sig").strip()
    assert (artifact["checksum"], artifact["downloadUrl"], artifact["failureReason"]) == (
        None,
        None,
        None,
    )
    assert created["uploadUrl"].startswith(f"{s3.endpoint}/{bucket}/{key}?")
    assert "X-Amz-Signature=" in created["uploadUrl"]
    assert created["uploadHeaders"] == [
        {"name": "Content-Length", "value": str(len(body))},
        {"name": "Content-Type", "value": "application/octet-stream"},
    ]
    assert created["expiresIn"] == settings.presign_seconds == 3600
    assert objects(s3, bucket) == {}

    response = await put(created, body)
    assert response.status_code == 200, response.text
    confirmed = await confirm(gql, admin_key, artifact["id"])

    assert confirmed["userErrors"] == []
    ready = confirmed["artifact"]
    assert ready["status"] == "READY"
    assert ready["checksum"] == sha256(body)
    assert ready["fileSize"] == len(body)
    assert ready["failureReason"] is None
    assert ready["warning"] is None
    app_id = (await Release.get(id=release_id)).app_id
    assert ready["downloadUrl"] == f"{settings.base_url}/dl/{app_id}/1.2.3/{LINUX}"
    # Served from a copy of its own: the upload's object is gone, its URL writes nothing
    # installs see.
    served = ready["objectKey"]
    assert served.startswith("my-app/files/1.2.3/")
    assert served.endswith(f"/{APPIMAGE}")
    assert objects(s3, bucket) == {served: body}
    stored = await Artifact.get(id=artifact["id"])
    assert (stored.status, stored.checksum, stored.file_size) == (
        ArtifactStatus.READY,
        sha256(body),
        len(body),
    )
    assert await actions(artifact["id"]) == ["artifact.upload", "artifact.confirm"]

    # Confirming again is idempotent: same answer, nothing written, no new audit event.
    before = await snapshot()
    again = await confirm(gql, admin_key, artifact["id"])
    assert again == confirmed
    assert await snapshot() == before

    published = await publish(gql, admin_key, release_id)
    assert published["userErrors"] == []
    assert published["release"]["status"] == "PUBLISHED"

    # The download URL works: Ferryman's redirect leads to these very bytes.
    redirect = await client.get(f"/dl/{app_id}/1.2.3/{LINUX}")
    assert redirect.status_code == 302
    async with httpx.AsyncClient() as outside:
        fetched = await outside.get(redirect.headers["location"])
    assert fetched.status_code == 200
    assert fetched.content == body


async def test_a_file_signed_without_version_verifies_on_any_release(
    gql: GraphQL, admin_key: str
) -> None:
    release_id = await draft(gql, admin_key, "4.5.6")

    artifact = await presigned(gql, admin_key, release_id, TARBALL)

    assert artifact["status"] == "READY", artifact
    assert artifact["objectKey"].startswith("my-app/files/4.5.6/")
    assert artifact["objectKey"].endswith(f"/{TARBALL}")
    assert artifact["checksum"] == sha256(data(TARBALL))


async def test_the_signed_version_may_be_spelled_differently(gql: GraphQL, admin_key: str) -> None:
    # version:1.2.3 in the trusted comment matches a release created as v1.2.3.
    release_id = await draft(gql, admin_key, "v1.2.3")

    artifact = await presigned(gql, admin_key, release_id, APPIMAGE)

    assert artifact["status"] == "READY", artifact


async def test_a_signature_for_another_file_name_is_a_warning(gql: GraphQL, admin_key: str) -> None:
    release_id = await draft(gql, admin_key, "1.2.3")
    created = await upload_create(
        gql,
        admin_key,
        release_id,
        "MyApp_1.2.3_x86_64.AppImage",
        signature=text(APPIMAGE + ".sig"),
        fileSize=len(data(APPIMAGE)),
    )
    assert created["userErrors"] == []
    assert (await put(created, data(APPIMAGE))).status_code == 200

    confirmed = await confirm(gql, admin_key, created["artifact"]["id"])

    artifact = confirmed["artifact"]
    assert artifact["status"] == "READY"
    assert artifact["warning"] == (
        f"the signature was made for the file {APPIMAGE!r}, uploaded as "
        "'MyApp_1.2.3_x86_64.AppImage'"
    )


async def test_confirm_of_a_failed_artifact_runs_again_once_the_file_is_there(
    gql: GraphQL, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    release_id = await draft(gql, admin_key)
    created = await upload_create(gql, admin_key, release_id)
    artifact_id = created["artifact"]["id"]

    first = await confirm(gql, admin_key, artifact_id)
    assert first["artifact"]["status"] == "FAILED"
    assert (await put(created, data(APPIMAGE))).status_code == 200
    second = await confirm(gql, admin_key, artifact_id)

    assert second["artifact"]["status"] == "READY"
    assert second["artifact"]["failureReason"] is None
    assert second["artifact"]["downloadUrl"]
    assert await actions(artifact_id) == [
        "artifact.upload",
        "artifact.confirm",
        "artifact.confirm",
    ]


# --- direct (multipart) upload ----------------------------------------------------------


async def test_direct_upload_of_a_tauri_signed_file(
    gql: GraphQL,
    client: httpx.AsyncClient,
    admin_key: str,
    settings: Settings,
    s3: LocalS3,
    bucket: str,
) -> None:
    release_id = await draft(gql, admin_key, "2.0.0")
    body = data(TARBALL)

    payload = await direct(client, admin_key, release_id, TARBALL, platform=MAC)

    assert payload["userErrors"] == [], payload
    artifact = payload["artifact"]
    key = artifact["objectKey"]  # written once, by this request
    assert key.startswith("my-app/files/2.0.0/")
    assert key.endswith(f"/{TARBALL}")
    assert artifact["status"] == "READY"
    assert artifact["platform"] == MAC
    assert artifact["filename"] == TARBALL
    assert artifact["checksum"] == sha256(body)
    assert artifact["fileSize"] == len(body)
    app_id = (await Release.get(id=release_id)).app_id
    assert artifact["downloadUrl"] == f"{settings.base_url}/dl/{app_id}/2.0.0/{MAC}"
    assert artifact["release"] == {"id": release_id, "status": "DRAFT"}
    assert objects(s3, bucket) == {key: body}
    assert s3.client.head_object(Bucket=bucket, Key=key)["ContentType"] == "application/gzip"
    assert unfinished_uploads(s3, bucket) == []
    assert await actions(artifact["id"]) == ["artifact.upload", "artifact.confirm"]
    assert (await publish(gql, admin_key, release_id))["userErrors"] == []


async def test_direct_upload_needs_an_authorization_header(
    gql: GraphQL, client: httpx.AsyncClient, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    release_id = await draft(gql, admin_key)
    before = await snapshot()

    response = await multipart(client, None, release_id)

    assert response.status_code == 401  # refused before the body is read
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Authorization" in response.text
    assert await snapshot() == before
    assert objects(s3, bucket) == {}


async def test_direct_upload_with_a_bad_key_is_unauthenticated(
    gql: GraphQL, client: httpx.AsyncClient, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    release_id = await draft(gql, admin_key)
    before = await snapshot()

    response = await multipart(client, "fm_not-a-key", release_id)

    assert response.status_code == 401  # refused before the body is read
    top_error(response.json(), "UNAUTHENTICATED")
    assert await snapshot() == before
    assert objects(s3, bucket) == {}


async def test_direct_upload_over_the_size_limit(
    settings: Settings, s3: LocalS3, bucket: str
) -> None:
    small = dataclasses.replace(settings, max_upload_bytes=len(data(APPIMAGE)))
    async with serve(small) as (gql, client, admin_key):
        release_id = await draft(gql, admin_key)
        before = await snapshot()

        refused = await direct(client, admin_key, release_id, TARBALL, platform=MAC)

        assert refused["artifact"] is None
        message = user_error(refused, "INVALID_INPUT", ["file"])
        assert f"larger than {len(data(APPIMAGE))} bytes" in message
        assert "artifactUploadCreate" in message
        assert await snapshot() == before
        assert objects(s3, bucket) == {}
        assert unfinished_uploads(s3, bucket) == []

        # A file of exactly the limit is fine.
        accepted = await direct(client, admin_key, release_id, APPIMAGE, platform=LINUX)
        assert accepted["artifact"]["status"] == "READY", accepted


async def test_direct_upload_of_a_body_far_over_the_limit_is_cut_off(
    settings: Settings, s3: LocalS3, bucket: str
) -> None:
    small = dataclasses.replace(settings, max_upload_bytes=1000)
    async with serve(small) as (gql, client, admin_key):
        release_id = await draft(gql, admin_key)
        before = await snapshot()

        response = await multipart(
            client, admin_key, release_id, TARBALL, body=b"\0" * (3 * 1024 * 1024)
        )

        assert response.status_code == 413
        assert await snapshot() == before
        assert objects(s3, bucket) == {}


async def test_direct_upload_of_a_tampered_file_is_failed(
    gql: GraphQL, client: httpx.AsyncClient, admin_key: str
) -> None:
    release_id = await draft(gql, admin_key)
    tampered = bytearray(data(TARBALL))
    tampered[-1] ^= 0x01

    payload = await direct(client, admin_key, release_id, TARBALL, body=bytes(tampered))

    artifact = payload["artifact"]
    assert artifact["status"] == "FAILED"
    assert artifact["failureReason"].startswith("the file does not match its signature")
    assert artifact["checksum"] == sha256(bytes(tampered))
    assert artifact["downloadUrl"] is None
    assert "FAILED" in (await publish(gql, admin_key, release_id))["userErrors"][0]["message"]


async def test_direct_upload_signed_by_another_key_is_failed(
    gql: GraphQL, client: httpx.AsyncClient, admin_key: str
) -> None:
    release_id = await draft(gql, admin_key)

    payload = await direct(client, admin_key, release_id, OTHER, platform=LINUX)

    assert payload["artifact"]["status"] == "FAILED"
    assert payload["artifact"]["failureReason"].startswith(
        f"signature was made by key {OTHER_KEY_ID} but the app's key is {APP_KEY_ID}"
    )


async def test_direct_upload_refuses_a_bad_signature_before_storing_anything(
    gql: GraphQL, client: httpx.AsyncClient, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    release_id = await draft(gql, admin_key)
    before = await snapshot()

    nines = await direct(client, admin_key, release_id, NINES, platform=LINUX)
    secret = await direct(client, admin_key, release_id, signature=private_key())
    garbage = await direct(client, admin_key, release_id, signature="not base64 at all!")
    platform = await direct(client, admin_key, release_id, platform="darwin-universal")

    assert "version 9.9.9" in user_error(nines, "INVALID_INPUT", ["signature"])
    assert "private key" in user_error(secret, "INVALID_INPUT", ["signature"])
    assert "not base64" in user_error(garbage, "INVALID_INPUT", ["signature"])
    assert "not a platform" in user_error(platform, "INVALID_INPUT", ["platform"])
    assert await snapshot() == before
    assert objects(s3, bucket) == {}


@pytest.mark.parametrize(
    ("filename", "problem"),
    [
        ("../x", "contains a folder separator"),
        ("a/b", "contains a folder separator"),
        ("..", "is empty"),
    ],
)
async def test_direct_upload_refuses_a_path_as_file_name(
    gql: GraphQL,
    client: httpx.AsyncClient,
    admin_key: str,
    s3: LocalS3,
    bucket: str,
    filename: str,
    problem: str,
) -> None:
    release_id = await draft(gql, admin_key)
    before = await snapshot()
    operations = {
        "query": ARTIFACT_UPLOAD,
        "variables": {
            "releaseId": release_id,
            "platform": MAC,
            "signature": text(TARBALL + ".sig"),
            "file": None,
        },
    }
    # httpx would clean the name; write the multipart body by hand, as an attacker would.
    boundary = "ferrymanboundary"
    parts = [
        ("operations", None, json.dumps(operations).encode()),
        ("map", None, json.dumps({"0": ["variables.file"]}).encode()),
        ("0", filename, data(TARBALL)),
    ]
    body = b""
    for name, file, content in parts:
        disposition = f'form-data; name="{name}"'
        if file is not None:
            disposition += f'; filename="{file}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()

    response = await client.post(
        "/graphql",
        content=body,
        headers={
            "Authorization": f"Bearer {admin_key}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )

    assert response.status_code == 200, response.text
    payload = response.json()["data"]["artifactUpload"]
    message = user_error(payload, "INVALID_INPUT", ["file"])
    assert f"filename {filename!r} {problem}" in message
    assert await snapshot() == before
    assert objects(s3, bucket) == {}


# --- bad cases of the presigned flow -----------------------------------------------------


async def test_confirm_when_the_upload_never_happened(
    gql: GraphQL, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    release_id = await draft(gql, admin_key)
    created = await upload_create(gql, admin_key, release_id)

    confirmed = await confirm(gql, admin_key, created["artifact"]["id"])

    assert confirmed["userErrors"] == []
    artifact = confirmed["artifact"]
    assert artifact["status"] == "FAILED"
    assert artifact["failureReason"].startswith("object not found")
    assert "uploadUrl" in artifact["failureReason"]
    assert (artifact["checksum"], artifact["downloadUrl"]) == (None, None)
    assert artifact["release"] == {"id": release_id, "status": "DRAFT"}
    assert (await Release.get(id=release_id)).status is ReleaseStatus.DRAFT
    assert objects(s3, bucket) == {}


async def test_confirm_of_a_file_of_another_size(
    gql: GraphQL, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    release_id = await draft(gql, admin_key)
    body = data(APPIMAGE)
    created = await upload_create(gql, admin_key, release_id, fileSize=len(body) + 1)
    # The store refuses it: the URL's signature covers the declared length.
    async with httpx.AsyncClient() as uploader:
        refused = await uploader.put(created["uploadUrl"], content=body)
    assert refused.status_code == 403, refused.text
    # One that got there another way (a URL of a version that signed no length) is
    # refused by confirm.
    s3.client.put_object(Bucket=bucket, Key=created["artifact"]["objectKey"], Body=body)

    confirmed = await confirm(gql, admin_key, created["artifact"]["id"])

    artifact = confirmed["artifact"]
    assert artifact["status"] == "FAILED"
    assert artifact["failureReason"] == (
        f"the stored file is {len(body)} bytes but fileSize said {len(body) + 1}: "
        "upload the whole file again"
    )
    assert artifact["checksum"] is None


async def test_confirm_of_a_file_tampered_after_signing(gql: GraphQL, admin_key: str) -> None:
    release_id = await draft(gql, admin_key)
    tampered = data(APPIMAGE).replace(b"1.2.3", b"1.2.4") + b"\n"
    assert tampered != data(APPIMAGE)
    created = await upload_create(gql, admin_key, release_id, fileSize=len(tampered))
    assert (await put(created, tampered)).status_code == 200

    confirmed = await confirm(gql, admin_key, created["artifact"]["id"])

    artifact = confirmed["artifact"]
    assert artifact["status"] == "FAILED"
    assert artifact["failureReason"] == (
        "the file does not match its signature: it changed after signing, or the "
        "signature belongs to another build"
    )
    assert artifact["checksum"] == sha256(tampered)
    assert artifact["downloadUrl"] is None


async def test_confirm_of_a_file_signed_by_another_key(gql: GraphQL, admin_key: str) -> None:
    release_id = await draft(gql, admin_key)
    created = await upload_create(gql, admin_key, release_id, OTHER)
    assert created["userErrors"] == []
    assert (await put(created, data(OTHER))).status_code == 200

    confirmed = await confirm(gql, admin_key, created["artifact"]["id"])

    artifact = confirmed["artifact"]
    assert artifact["status"] == "FAILED"
    assert artifact["failureReason"].startswith(
        f"signature was made by key {OTHER_KEY_ID} but the app's key is {APP_KEY_ID}: "
    )
    assert OTHER_KEY_ID != APP_KEY_ID


async def test_a_signature_for_another_version_is_refused_at_once(
    gql: GraphQL, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    release_id = await draft(gql, admin_key, "1.2.3")
    before = await snapshot()

    created = await upload_create(gql, admin_key, release_id, NINES)

    assert (created["artifact"], created["uploadUrl"], created["uploadHeaders"]) == (
        None,
        None,
        [],
    )
    message = user_error(created, "INVALID_INPUT", ["input", "signature"])
    assert message.startswith("the signature is for version 9.9.9 but the release is 1.2.3")
    assert "--app-version 1.2.3" in message
    assert await snapshot() == before
    assert objects(s3, bucket) == {}


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        (private_key(), "this is a private key, not a signature"),
        ("not base64 at all!", "signature is not base64"),
        ("%%%%", "signature is not base64"),
        ("./MyApp_1.2.3_amd64.AppImage.sig", "(it looks like a file path)"),
        ("https://example.com/MyApp.AppImage.sig", "signature is a URL"),
        (base64.b64encode(b"\xff\xfe\x00binary").decode(), "decodes to binary data"),
        (base64.b64encode(b"just some text\n").decode(), "is not a minisign signature"),
        (APP_PUB, "is not a minisign signature"),
        ("", "signature is empty"),
        ("A" * 5000, "longer than 4096 characters"),
    ],
    ids=[
        "private-key",
        "garbage",
        "symbols",
        "path",
        "url",
        "binary",
        "text",
        "public-key",
        "empty",
        "huge",
    ],
)
async def test_what_is_not_a_signature_is_refused(
    gql: GraphQL, admin_key: str, s3: LocalS3, bucket: str, signature: str, expected: str
) -> None:
    release_id = await draft(gql, admin_key)
    before = await snapshot()

    created = await upload_create(gql, admin_key, release_id, signature=signature)

    assert created["artifact"] is None
    assert expected in user_error(created, "INVALID_INPUT", ["input", "signature"])
    assert await snapshot() == before
    assert objects(s3, bucket) == {}


@pytest.mark.parametrize(
    ("filename", "problem"),
    [
        ("../x", "folder separator"),
        ("a/b", "folder separator"),
        ("../../other-app/releases/1.0.0/MyApp.AppImage", "folder separator"),
        ("..", "is empty"),
        ("", "is empty"),
        ("a\\b", "folder separator"),
        ("x..AppImage", "contains '..'"),
        ("My\nApp", "control characters"),
        ("a" * 256, "longer than 255 bytes"),
    ],
)
async def test_a_path_as_file_name_is_refused(
    gql: GraphQL, admin_key: str, s3: LocalS3, bucket: str, filename: str, problem: str
) -> None:
    release_id = await draft(gql, admin_key)
    before = await snapshot()

    created = await upload_create(
        gql, admin_key, release_id, filename, signature=text(APPIMAGE + ".sig")
    )

    assert created["artifact"] is None
    assert problem in user_error(created, "INVALID_INPUT", ["input", "filename"])
    assert await snapshot() == before
    assert objects(s3, bucket) == {}


@pytest.mark.parametrize(
    "platform", ["darwin-universal", "linux", "windows-x86_64-deb", "Linux-x86_64", ""]
)
async def test_an_invalid_platform_is_refused(gql: GraphQL, admin_key: str, platform: str) -> None:
    release_id = await draft(gql, admin_key)
    before = await snapshot()

    created = await upload_create(gql, admin_key, release_id, platform=platform)

    assert "is not a platform" in user_error(created, "INVALID_INPUT", ["input", "platform"])
    assert await snapshot() == before


@pytest.mark.parametrize(
    ("extra", "field", "expected"),
    [
        ({"fileSize": -1}, ["input", "fileSize"], "negative"),
        ({"contentType": "not a type"}, ["input", "contentType"], "not a media type"),
        ({"contentType": "text/html\r\nX-Evil: 1"}, ["input", "contentType"], "media type"),
    ],
)
async def test_bad_size_or_content_type_is_refused(
    gql: GraphQL, admin_key: str, extra: dict[str, Any], field: list[str], expected: str
) -> None:
    release_id = await draft(gql, admin_key)
    before = await snapshot()

    created = await upload_create(gql, admin_key, release_id, **extra)

    assert expected in user_error(created, "INVALID_INPUT", field)
    assert await snapshot() == before


async def test_confirm_without_the_apps_public_key(gql: GraphQL, admin_key: str) -> None:
    app_id = await app_with_key(gql, admin_key, public_key=None)
    release_id = await create_release(gql, admin_key, app_id, "1.2.3")
    created = await upload_create(gql, admin_key, release_id)
    assert created["userErrors"] == []
    assert (await put(created, data(APPIMAGE))).status_code == 200

    failed = (await confirm(gql, admin_key, created["artifact"]["id"]))["artifact"]

    assert failed["status"] == "FAILED"
    assert failed["failureReason"] == (
        "app my-app has no publicKey, so the signature cannot be checked: set it with "
        "appUpdate, then confirm again"
    )

    # Doing what the message says works.
    updated = await gql(APP_UPDATE, {"id": app_id, "input": {"publicKey": APP_PUB}}, key=admin_key)
    assert updated["data"]["appUpdate"]["userErrors"] == []
    ready = (await confirm(gql, admin_key, created["artifact"]["id"]))["artifact"]
    assert ready["status"] == "READY"


async def test_an_expired_presigned_url_is_refused(
    settings: Settings, s3: LocalS3, bucket: str
) -> None:
    brief = dataclasses.replace(settings, presign_seconds=1)
    async with serve(brief) as (gql, _, admin_key):
        release_id = await draft(gql, admin_key)
        created = await upload_create(gql, admin_key, release_id)
        assert created["expiresIn"] == 1

        await asyncio.sleep(2.1)
        response = await put(created, data(APPIMAGE))

        assert response.status_code == 403, response.text
        assert objects(s3, bucket) == {}
        confirmed = await confirm(gql, admin_key, created["artifact"]["id"])
        assert confirmed["artifact"]["status"] == "FAILED"
        assert confirmed["artifact"]["failureReason"].startswith("object not found")


# --- publishing and the lifecycle ----------------------------------------------------------


async def test_publish_is_refused_while_an_artifact_is_pending_or_failed(
    gql: GraphQL, admin_key: str
) -> None:
    release_id = await draft(gql, admin_key)
    await presigned(gql, admin_key, release_id, TARBALL)  # READY
    pending = await upload_create(gql, admin_key, release_id, APPIMAGE, platform="windows-x86_64")
    failed = await upload_create(
        gql,
        admin_key,
        release_id,
        "MyApp_1.2.3_amd64.deb",
        platform="linux-x86_64-deb",
        signature=text(APPIMAGE + ".sig"),
    )
    await confirm(gql, admin_key, failed["artifact"]["id"])  # never uploaded: FAILED
    before = await snapshot()

    refused = await publish(gql, admin_key, release_id)

    assert refused["release"] is None
    message = user_error(refused, "INVALID_STATE", ["id"])
    assert message == (
        "release 1.2.3 has artifacts that are not READY: linux-x86_64-deb (FAILED), "
        "windows-x86_64 (PENDING); confirm or delete them before publishing"
    )
    assert await snapshot() == before

    # Settle both and it goes through.
    assert (await put(pending, data(APPIMAGE))).status_code == 200
    assert (await confirm(gql, admin_key, pending["artifact"]["id"]))["artifact"][
        "status"
    ] == "READY"
    deleted = await gql(ARTIFACT_DELETE, {"id": failed["artifact"]["id"]}, key=admin_key)
    assert deleted["data"]["artifactDelete"]["userErrors"] == []
    assert (await publish(gql, admin_key, release_id))["release"]["status"] == "PUBLISHED"


async def test_publish_with_only_a_failed_artifact_is_refused(gql: GraphQL, admin_key: str) -> None:
    release_id = await draft(gql, admin_key)
    created = await upload_create(gql, admin_key, release_id)
    await confirm(gql, admin_key, created["artifact"]["id"])

    refused = await publish(gql, admin_key, release_id)

    assert f"{LINUX} (FAILED)" in user_error(refused, "INVALID_STATE", ["id"])
    assert (await Release.get(id=release_id)).status is ReleaseStatus.DRAFT


async def test_artifacts_of_a_published_release_are_frozen(
    gql: GraphQL, client: httpx.AsyncClient, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    release_id = await draft(gql, admin_key)
    artifact = await presigned(gql, admin_key, release_id)
    await publish(gql, admin_key, release_id)
    before = await snapshot()
    stored = objects(s3, bucket)

    deleted = await gql(ARTIFACT_DELETE, {"id": artifact["id"]}, key=admin_key)
    confirmed = await confirm(gql, admin_key, artifact["id"])  # READY: answered as it is
    replaced = await upload_create(gql, admin_key, release_id)
    uploaded = await direct(client, admin_key, release_id, APPIMAGE, platform=LINUX)

    assert "only be added, confirmed or removed while a release is a draft" in user_error(
        deleted["data"]["artifactDelete"], "INVALID_STATE", ["id"]
    )
    assert confirmed["artifact"]["status"] == "READY"
    user_error(replaced, "INVALID_STATE", ["releaseId"])
    user_error(uploaded, "INVALID_STATE", ["releaseId"])
    assert await snapshot() == before
    assert objects(s3, bucket) == stored


async def test_delete_removes_the_row_and_the_object(
    gql: GraphQL, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    release_id = await draft(gql, admin_key)
    artifact = await presigned(gql, admin_key, release_id)
    assert list(objects(s3, bucket)) == [artifact["objectKey"]]

    deleted = await gql(ARTIFACT_DELETE, {"id": artifact["id"]}, key=admin_key)

    assert deleted["data"]["artifactDelete"] == {
        "deletedArtifactId": artifact["id"],
        "userErrors": [],
    }
    assert await Artifact.filter(id=artifact["id"]).count() == 0
    assert objects(s3, bucket) == {}
    assert await actions(artifact["id"]) == [
        "artifact.upload",
        "artifact.confirm",
        "artifact.delete",
    ]


async def test_delete_of_a_pending_artifact_whose_file_never_came(
    gql: GraphQL, admin_key: str
) -> None:
    release_id = await draft(gql, admin_key)
    created = await upload_create(gql, admin_key, release_id)

    deleted = await gql(ARTIFACT_DELETE, {"id": created["artifact"]["id"]}, key=admin_key)

    assert deleted["data"]["artifactDelete"]["userErrors"] == []
    assert await Artifact.all().count() == 0


@pytest.mark.parametrize(
    ("artifact_id", "code"),
    [("art_01ARZ3NDEKTSV4RRFFQ69G5FAV", "NOT_FOUND"), ("rel_01ARZ3NDEKTSV4RRFFQ69G5FAV", None)],
)
async def test_unknown_or_malformed_artifact_ids(
    gql: GraphQL, admin_key: str, artifact_id: str, code: str | None
) -> None:
    before = await snapshot()

    deleted = await gql(ARTIFACT_DELETE, {"id": artifact_id}, key=admin_key)
    confirmed = await confirm(gql, admin_key, artifact_id)

    expected = code or "INVALID_INPUT"
    user_error(deleted["data"]["artifactDelete"], expected, ["id"])
    user_error(confirmed, expected, ["id"])
    assert await snapshot() == before


async def test_replacing_an_artifact_of_the_same_platform(
    gql: GraphQL, client: httpx.AsyncClient, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    release_id = await draft(gql, admin_key)
    first = await direct(client, admin_key, release_id, TARBALL, platform=MAC)
    assert first["artifact"]["status"] == "READY"

    # Same platform, same file name: the row is replaced, and its object goes with it.
    second = await direct(client, admin_key, release_id, TARBALL, platform=MAC)
    rows = await Artifact.filter(release_id=release_id).values_list("id", "status")
    assert rows == [(second["artifact"]["id"], ArtifactStatus.READY)]
    assert second["artifact"]["objectKey"] != first["artifact"]["objectKey"]
    assert list(objects(s3, bucket)) == [second["artifact"]["objectKey"]]

    # Same platform, another file name: the old object goes too.
    renamed = "MyApp_1.2.3_aarch64.app.tar.gz"
    third = await upload_create(
        gql,
        admin_key,
        release_id,
        renamed,
        platform=MAC,
        signature=text(TARBALL + ".sig"),
        fileSize=len(data(TARBALL)),
    )
    assert third["userErrors"] == []
    rows = await Artifact.filter(release_id=release_id).values_list("id", "status")
    assert rows == [(third["artifact"]["id"], ArtifactStatus.PENDING)]
    assert objects(s3, bucket) == {}
    assert (await put(third, data(TARBALL))).status_code == 200
    ready = (await confirm(gql, admin_key, third["artifact"]["id"]))["artifact"]
    assert ready["status"] == "READY"
    assert ready["warning"]  # signed as MyApp.app.tar.gz
    assert ready["objectKey"].endswith(f"/{renamed}")
    assert objects(s3, bucket) == {ready["objectKey"]: data(TARBALL)}

    # Another platform is another artifact.
    await presigned(gql, admin_key, release_id, APPIMAGE)
    platforms = await Artifact.filter(release_id=release_id).order_by("platform")
    assert [a.platform for a in platforms] == [MAC, LINUX]


# --- object storage unreachable ----------------------------------------------------------


async def test_s3_outage_changes_nothing_and_passes(settings: Settings, tmp_path: Path) -> None:
    local = LocalS3(tmp_path / "own-s3")
    local.start("outage")
    try:
        own = dataclasses.replace(
            settings,
            s3_endpoint=local.endpoint,
            s3_region=local.region,
            s3_bucket="outage",
            s3_access_key_id=local.credentials.access_key_id,
            s3_secret_access_key=local.credentials.secret_access_key,
        )
        async with serve(own) as (gql, client, admin_key):
            release_id = await draft(gql, admin_key)
            created = await upload_create(gql, admin_key, release_id)
            assert (await put(created, data(APPIMAGE))).status_code == 200
            artifact_id = created["artifact"]["id"]

            local.stop()
            before = await snapshot()

            confirmed = await gql(ARTIFACT_UPLOAD_CONFIRM, {"id": artifact_id}, key=admin_key)
            uploaded = await direct(client, admin_key, release_id, TARBALL, platform=MAC)
            deleted = await gql(ARTIFACT_DELETE, {"id": artifact_id}, key=admin_key)

            for answer in (confirmed, uploaded, deleted):
                error = top_error(answer, "SERVICE_UNAVAILABLE")
                assert "object storage is unavailable" in error["message"]
                assert answer["data"] is None
            assert await snapshot() == before
            assert (await Artifact.get(id=artifact_id)).status is ArtifactStatus.PENDING

            local.start("outage")  # same ports, same data

            again = await confirm(gql, admin_key, artifact_id)
            assert again["artifact"]["status"] == "READY", again
            assert again["artifact"]["checksum"] == sha256(data(APPIMAGE))
            direct_again = await direct(client, admin_key, release_id, TARBALL, platform=MAC)
            assert direct_again["artifact"]["status"] == "READY", direct_again
            assert (await publish(gql, admin_key, release_id))["userErrors"] == []
    finally:
        local.stop()


# --- CI keys -------------------------------------------------------------------------------


async def test_ci_keys_upload_to_their_apps_drafts(
    gql: GraphQL, client: httpx.AsyncClient, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    app_id = await app_with_key(gql, admin_key)
    ci = await make_key(KeyScope.CI, app_id)
    release_id = await create_release(gql, ci, app_id, "1.2.3")

    ready = await presigned(gql, ci, release_id, APPIMAGE)
    uploaded = await direct(client, ci, release_id, TARBALL, platform=MAC)
    deleted = await gql(ARTIFACT_DELETE, {"id": uploaded["artifact"]["id"]}, key=ci)

    assert ready["status"] == "READY"
    assert uploaded["artifact"]["status"] == "READY"
    assert deleted["data"]["artifactDelete"]["userErrors"] == []
    assert list(objects(s3, bucket)) == [ready["objectKey"]]
    # Publishing stays with admins.
    top_error(await gql(operation("ReleasePublish"), {"id": release_id}, key=ci), "FORBIDDEN")
    assert (await publish(gql, admin_key, release_id))["userErrors"] == []


async def test_ci_keys_cannot_touch_another_apps_artifacts(
    gql: GraphQL, client: httpx.AsyncClient, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    mine = await app_with_key(gql, admin_key, slug="mine")
    theirs = await app_with_key(gql, admin_key, slug="theirs")
    ci = await make_key(KeyScope.CI, mine)
    their_release = await create_release(gql, admin_key, theirs, "1.2.3")
    their_artifact = await presigned(gql, admin_key, their_release, APPIMAGE)
    pending = await upload_create(gql, admin_key, their_release, TARBALL, platform=MAC)
    before = await snapshot()
    stored = objects(s3, bucket)

    created = await upload_create(gql, ci, their_release, TARBALL, platform=MAC)
    uploaded = await direct(client, ci, their_release, TARBALL, platform=MAC)
    confirmed = await confirm(gql, ci, pending["artifact"]["id"])
    deleted = await gql(ARTIFACT_DELETE, {"id": their_artifact["id"]}, key=ci)

    assert user_error(created, "NOT_FOUND", ["releaseId"]) == f"release {their_release} not found"
    user_error(uploaded, "NOT_FOUND", ["releaseId"])
    assert user_error(confirmed, "NOT_FOUND", ["id"]) == (
        f"artifact {pending['artifact']['id']} not found"
    )
    user_error(deleted["data"]["artifactDelete"], "NOT_FOUND", ["id"])
    assert await snapshot() == before
    assert objects(s3, bucket) == stored


# --- one file for two platforms (a universal macOS build) ---------------------------------


async def test_one_file_for_two_platforms(
    gql: GraphQL, client: httpx.AsyncClient, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    # `tauri build --target universal-apple-darwin` makes one archive for both Mac platforms.
    release_id = await draft(gql, admin_key)
    arm = (await direct(client, admin_key, release_id, TARBALL, platform=MAC))["artifact"]
    intel = await direct(client, admin_key, release_id, TARBALL, platform="darwin-x86_64")

    # Each platform has its own verified copy: the second upload leaves the first alone.
    assert intel["artifact"]["status"] == "READY"
    assert (await Artifact.get(id=arm["id"])).status is ArtifactStatus.READY
    assert arm["objectKey"] != intel["artifact"]["objectKey"]
    assert objects(s3, bucket) == {
        arm["objectKey"]: data(TARBALL),
        intel["artifact"]["objectKey"]: data(TARBALL),
    }

    # Deleting one platform keeps the file the other one uses.
    deleted = await gql(ARTIFACT_DELETE, {"id": intel["artifact"]["id"]}, key=admin_key)

    assert deleted["data"]["artifactDelete"]["userErrors"] == []
    assert objects(s3, bucket) == {arm["objectKey"]: data(TARBALL)}
    assert (await publish(gql, admin_key, release_id))["userErrors"] == []
    redirect = await client.get(httpx.URL(arm["downloadUrl"]).path)
    async with httpx.AsyncClient() as outside:
        assert (await outside.get(redirect.headers["location"])).content == data(TARBALL)


async def test_a_same_named_file_cannot_replace_another_platforms_verified_one(
    gql: GraphQL, client: httpx.AsyncClient, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    # Tauri names the Mac archive MyApp.app.tar.gz whatever the architecture.
    release_id = await draft(gql, admin_key)
    arm = (await direct(client, admin_key, release_id, TARBALL, platform=MAC))["artifact"]
    intel_build = data(TARBALL)[::-1]

    intel = await direct(
        client, admin_key, release_id, TARBALL, platform="darwin-x86_64", body=intel_build
    )

    assert intel["artifact"]["status"] == "FAILED"
    again = (await confirm(gql, admin_key, intel["artifact"]["id"]))["artifact"]
    assert again["status"] == "FAILED"
    assert again["failureReason"].startswith("the file does not match its signature")
    assert again["checksum"] == sha256(intel_build)
    # The verified arm file is untouched, and still READY.
    assert (await Artifact.get(id=arm["id"])).status is ArtifactStatus.READY
    assert objects(s3, bucket)[arm["objectKey"]] == data(TARBALL)
    refused = await publish(gql, admin_key, release_id)
    assert "darwin-x86_64 (FAILED)" in refused["userErrors"][0]["message"]
    assert "darwin-aarch64" not in refused["userErrors"][0]["message"]


async def test_renaming_one_platforms_file_keeps_a_file_another_platform_uses(
    gql: GraphQL, client: httpx.AsyncClient, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    release_id = await draft(gql, admin_key)
    arm = await direct(client, admin_key, release_id, TARBALL, platform=MAC)
    await direct(client, admin_key, release_id, TARBALL, platform="darwin-x86_64")

    renamed = await upload_create(
        gql,
        admin_key,
        release_id,
        "MyApp_x64.app.tar.gz",
        platform="darwin-x86_64",
        signature=text(TARBALL + ".sig"),
    )

    assert renamed["userErrors"] == []
    assert objects(s3, bucket) == {arm["artifact"]["objectKey"]: data(TARBALL)}
    assert (await Artifact.get(id=arm["artifact"]["id"])).status is ArtifactStatus.READY


async def test_a_content_type_with_parameters_is_accepted(gql: GraphQL, admin_key: str) -> None:
    release_id = await draft(gql, admin_key)
    created = await upload_create(
        gql, admin_key, release_id, contentType="application/octet-stream; charset=binary"
    )
    assert created["userErrors"] == []
    assert {"name": "Content-Type", "value": "application/octet-stream; charset=binary"} in (
        created["uploadHeaders"]
    )
    assert (await put(created, data(APPIMAGE))).status_code == 200


async def test_an_upload_never_writes_another_releases_file(
    gql: GraphQL, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    # Two drafts upload a file of the same name: each gets keys of its own.
    first = await draft(gql, admin_key, "1.2.3")
    stored = await presigned(gql, admin_key, first, TARBALL)
    app_id = (await Release.get(id=first)).app_id
    second = await create_release(gql, admin_key, app_id, "1.2.4")

    created = await upload_create(gql, admin_key, second, TARBALL)
    assert created["userErrors"] == []
    assert (await put(created, data(TARBALL)[::-1])).status_code == 200

    assert created["artifact"]["objectKey"] != stored["objectKey"]
    assert objects(s3, bucket)[stored["objectKey"]] == data(TARBALL)


async def test_a_file_sent_as_a_json_value_is_a_user_error(gql: GraphQL, admin_key: str) -> None:
    release_id = await draft(gql, admin_key)
    before = await snapshot()

    result = await gql(
        ARTIFACT_UPLOAD,
        {
            "releaseId": release_id,
            "platform": LINUX,
            "signature": text(APPIMAGE + ".sig"),
            "file": "/home/ci/MyApp_1.2.3_amd64.AppImage",
        },
        key=admin_key,
    )

    payload = result["data"]["artifactUpload"]
    message = user_error(payload, "INVALID_INPUT", ["file"])
    assert "multipart" in message
    assert await snapshot() == before
