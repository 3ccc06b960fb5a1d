"""The bytes verified are the bytes served (security review, issue 12, finding 3).

A presigned upload URL works until it expires (an hour by default, up to seven days),
whatever happens to its artifact meanwhile, and a CI pipeline holds credentials for the
whole bucket. So the object installs download must be one that no upload credential
Ferryman issued can write: confirm copies the uploaded file to a key of its own and
verifies that copy, and an upload URL writes only the size it was issued for.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ferryman.local_s3 import Credentials, Identity, LocalS3
from ferryman.models.actor import KeyScope
from ferryman.settings import Settings
from tests import tauri_client
from tests.conftest import GraphQL, make_key, peer, serving
from tests.support.api import payload_of
from tests.support.documents import (
    ARTIFACT_UPLOAD_CONFIRM,
    ARTIFACT_UPLOAD_CREATE,
    CI_RELEASE_SUBMIT,
)
from tests.support.shipping import Shipyard

LINUX = "linux-x86_64"


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def forged(body: bytes) -> bytes:
    """Other bytes of the very same length, so a size-bound URL still takes them."""
    return bytes(b ^ 0x5A for b in body)


async def create(yard: Shipyard, release_id: str, name: str, body: bytes, **extra: Any) -> Any:
    signature = yard.signer.sign(body, name, "1.0.0")
    fields = {"platform": LINUX, "filename": name, "signature": signature, **extra}
    return payload_of(
        await yard.gql(
            ARTIFACT_UPLOAD_CREATE, {"releaseId": release_id, "input": fields}, key=yard.key
        ),
        "artifactUploadCreate",
    )


async def put(created: dict[str, Any], body: bytes, *, sized: bool = True) -> httpx.Response:
    """PUT from outside Ferryman, as the holder of the URL would; ``sized=False`` leaves the
    declared Content-Length out, so the body's own length is sent."""
    headers = {h["name"]: h["value"] for h in created["uploadHeaders"]}
    if not sized:
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    async with httpx.AsyncClient() as outside:
        return await outside.put(created["uploadUrl"], content=body, headers=headers)


async def confirm(yard: Shipyard, artifact_id: str) -> Any:
    return payload_of(
        await yard.gql(ARTIFACT_UPLOAD_CONFIRM, {"id": artifact_id}, key=yard.key),
        "artifactUploadConfirm",
    )


def bucket_key(url: str, bucket: str) -> str:
    """The object key a path-style S3 URL names."""
    path = urlsplit(url).path
    prefix = f"/{bucket}/"
    assert path.startswith(prefix), url
    return httpx.URL(url).path[len(prefix) :]


async def served(yard: Shipyard, current: str = "0.9.0") -> tuple[bytes, str]:
    """What an install downloads, verified as the Tauri client verifies it, and the
    location /dl sent it to."""
    install = yard.install("linux", "x86_64", current)
    update = await install.check()
    assert update is not None
    parts = urlsplit(update.url)
    redirect = await yard.client.get(f"{parts.path}?{parts.query}".rstrip("?"))
    assert redirect.status_code == 302, redirect.text
    data = await install.download(update)
    tauri_client.download_and_verify(update, data, yard.signer.public_key, True)
    return data, redirect.headers["location"]


async def test_a_put_through_the_old_url_after_confirm_and_publish_reaches_no_install(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str, bucket: str
) -> None:
    yard = await Shipyard.open(client, gql, admin_key)
    release_id = await yard.draft("1.0.0")
    name = "app_1.0.0_amd64.AppImage"
    body = yard.body("1.0.0", LINUX) * 64
    created = await create(yard, release_id, name, body, fileSize=len(body))
    assert created["userErrors"] == [], created
    assert (await put(created, body)).status_code == 200
    ready = await confirm(yard, created["artifact"]["id"])
    assert ready["artifact"]["status"] == "READY", ready
    assert ready["artifact"]["checksum"] == sha256(body)

    # The URL still works after confirm: its holder puts other bytes of the same size.
    assert (await put(created, forged(body))).status_code == 200
    again = await confirm(yard, created["artifact"]["id"])
    assert again["artifact"] == ready["artifact"]
    published = await yard.publish(release_id)
    assert published["userErrors"] == [], published
    # ... and after the publish.
    assert (await put(created, forged(body))).status_code == 200

    data, location = await served(yard)
    assert data == body
    # What installs are sent to is not what the upload URL writes.
    assert bucket_key(location, bucket) != bucket_key(created["uploadUrl"], bucket)
    assert bucket_key(location, bucket) == ready["artifact"]["objectKey"]


async def test_an_upload_url_takes_only_the_declared_size(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str
) -> None:
    yard = await Shipyard.open(client, gql, admin_key)
    release_id = await yard.draft("1.0.0")
    name = "app_1.0.0_amd64.AppImage"
    body = yard.body("1.0.0", LINUX)
    created = await create(yard, release_id, name, body, fileSize=len(body))
    assert created["userErrors"] == [], created
    assert {"name": "Content-Length", "value": str(len(body))} in created["uploadHeaders"]

    longer = await put(created, body + b"\0", sized=False)
    shorter = await put(created, body[:-1], sized=False)

    # The store itself refuses them: the length is part of what the URL's signature covers.
    assert (longer.status_code, shorter.status_code) == (403, 403), longer.text
    nothing = await confirm(yard, created["artifact"]["id"])
    assert nothing["artifact"]["status"] == "FAILED"
    assert nothing["artifact"]["failureReason"].startswith("object not found")
    assert (await put(created, body)).status_code == 200
    assert (await confirm(yard, created["artifact"]["id"]))["artifact"]["status"] == "READY"


async def test_a_presigned_upload_must_declare_a_size_within_the_limit(
    settings: Settings,
) -> None:
    async with serving(settings, max_artifact_bytes=1000) as application, peer(application) as c:
        admin = await make_key(KeyScope.ADMIN)
        yard = await Shipyard.open(c, GraphQL(c), admin)
        release_id = await yard.draft("1.0.0")
        body = b"x" * 1001
        signature = yard.signer.sign(body, "big.AppImage", "1.0.0")
        fields = {"platform": LINUX, "filename": "big.AppImage", "signature": signature}

        undeclared = await yard.gql(
            ARTIFACT_UPLOAD_CREATE, {"releaseId": release_id, "input": fields}, key=admin
        )
        too_big = await create(yard, release_id, "big.AppImage", body, fileSize=1001)
        at_limit = await create(yard, release_id, "big.AppImage", body[:1000], fileSize=1000)

    # fileSize is required: GraphQL refuses the document before any rule runs.
    assert undeclared["errors"][0]["message"].startswith("Variable '$input'"), undeclared
    assert "fileSize" in undeclared["errors"][0]["message"]
    assert too_big["artifact"] is None
    [error] = too_big["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", ["input", "fileSize"])
    assert "1000" in error["message"]
    assert "FERRYMAN_MAX_ARTIFACT_BYTES" in error["message"]
    assert at_limit["userErrors"] == [], at_limit


async def test_a_pipeline_that_rewrites_its_r2_key_after_submitting_changes_nothing_served(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    yard = await Shipyard.open(client, gql, admin_key)
    body = yard.body("1.0.0", LINUX)
    r2_key = f"{yard.slug}/releases/1.0.0/app_1.0.0_amd64.AppImage"
    s3.client.put_object(Bucket=bucket, Key=r2_key, Body=body)  # the pipeline's own credentials
    submission = {
        "version": "1.0.0",
        "artifacts": [
            {
                "platform": LINUX,
                "signature": yard.signer.sign(body, "app_1.0.0_amd64.AppImage", "1.0.0"),
                "r2Key": r2_key,
            }
        ],
    }
    submitted = payload_of(
        await gql(CI_RELEASE_SUBMIT, {"slug": yard.slug, "input": submission}, key=admin_key),
        "ciReleaseSubmit",
    )
    assert submitted["userErrors"] == [], submitted
    [artifact] = submitted["release"]["artifacts"]
    assert (artifact["status"], artifact["checksum"]) == ("READY", sha256(body))
    assert artifact["objectKey"] != r2_key
    assert (await yard.publish(submitted["release"]["id"]))["userErrors"] == []

    s3.client.put_object(Bucket=bucket, Key=r2_key, Body=forged(body))
    # The same submission again is a no-op: nothing is read, nothing changes.
    resubmitted = payload_of(
        await gql(CI_RELEASE_SUBMIT, {"slug": yard.slug, "input": submission}, key=admin_key),
        "ciReleaseSubmit",
    )
    assert resubmitted["release"]["artifacts"] == [artifact]

    data, location = await served(yard)
    assert data == body
    assert bucket_key(location, bucket) == artifact["objectKey"]


async def test_a_direct_upload_is_served_from_the_object_it_verified(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str
) -> None:
    yard = await Shipyard.open(client, gql, admin_key)
    release_id = await yard.release("1.0.0", [LINUX])
    assert release_id

    data, _ = await served(yard)

    assert data == yard.body("1.0.0", LINUX)


async def test_a_pipeline_credential_limited_to_its_r2_keys_cannot_reach_what_is_served(
    settings: Settings, tmp_path: Path
) -> None:
    """The residual risk of the CI door, and how a store with prefix-scoped credentials
    (S3, MinIO, SeaweedFS; not R2, whose tokens cover whole buckets) takes it away:
    verified copies live outside ``{slug}/releases/``, the only prefix pipelines write."""
    bucket = "scoped"
    pipeline = Credentials("pipeline" + "0" * 12, "pipeline-secret-" + "0" * 24)
    scoped = Identity("pipeline", pipeline, (f"Write:{bucket}/my-app/releases/*",))
    local = LocalS3(tmp_path / "s3", identities=(scoped,))
    local.start(bucket)
    try:
        own = dataclasses.replace(
            settings,
            s3_endpoint=local.endpoint,
            s3_bucket=bucket,
            s3_access_key_id=local.credentials.access_key_id,
            s3_secret_access_key=local.credentials.secret_access_key,
        )
        as_pipeline = boto3.client(
            "s3",
            endpoint_url=local.endpoint,
            region_name=local.region,
            aws_access_key_id=pipeline.access_key_id,
            aws_secret_access_key=pipeline.secret_access_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        async with serving(own) as application, peer(application) as client:
            admin = await make_key(KeyScope.ADMIN)
            yard = await Shipyard.open(client, GraphQL(client), admin)
            body = yard.body("1.0.0", LINUX)
            r2_key = "my-app/releases/1.0.0/app_1.0.0_amd64.AppImage"
            as_pipeline.put_object(Bucket=bucket, Key=r2_key, Body=body)
            submission = {
                "version": "1.0.0",
                "artifacts": [
                    {
                        "platform": LINUX,
                        "signature": yard.signer.sign(body, r2_key.rsplit("/", 1)[1], "1.0.0"),
                        "r2Key": r2_key,
                    }
                ],
            }
            submitted = payload_of(
                await yard.gql(
                    CI_RELEASE_SUBMIT, {"slug": "my-app", "input": submission}, key=admin
                ),
                "ciReleaseSubmit",
            )
            [artifact] = submitted["release"]["artifacts"]
            assert artifact["status"] == "READY", submitted
            assert (await yard.publish(submitted["release"]["id"]))["userErrors"] == []

            with pytest.raises(ClientError) as refused:
                as_pipeline.put_object(Bucket=bucket, Key=artifact["objectKey"], Body=b"evil")
            assert refused.value.response["Error"]["Code"] == "AccessDenied"
            as_pipeline.put_object(Bucket=bucket, Key=r2_key, Body=forged(body))

            data, _ = await served(yard)
        assert data == body
    finally:
        local.stop()
