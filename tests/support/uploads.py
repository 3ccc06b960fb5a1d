"""Uploads of the committed Tauri-signed files through GraphQL: presigned (create, PUT,
confirm) and direct (``artifactUpload``, a GraphQL multipart request), and the bucket
they land in."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx

from ferryman.local_s3 import LocalS3
from tests.support.api import create_release, payload_of
from tests.support.documents import (
    APP_CREATE,
    ARTIFACT_UPLOAD,
    ARTIFACT_UPLOAD_CONFIRM,
    ARTIFACT_UPLOAD_CREATE,
)
from tests.support.tauri_files import APP_PUB, APPIMAGE, DATA, TARBALL, data, text

if TYPE_CHECKING:
    from tests.conftest import GraphQL

LINUX = "linux-x86_64"
MAC = "darwin-aarch64"


async def app_with_key(
    gql: GraphQL, key: str, slug: str = "my-app", public_key: str | None = APP_PUB
) -> str:
    """An app whose updater key is app.pub (or none); returns its id."""
    variables = {"input": {"slug": slug, "name": slug.title(), "publicKey": public_key}}
    payload = payload_of(await gql(APP_CREATE, variables, key=key), "appCreate")
    assert payload["userErrors"] == [], payload
    app_id: str = payload["app"]["id"]
    return app_id


async def draft(gql: GraphQL, key: str, version: str = "1.2.3", **app: Any) -> str:
    """A draft release of a new app signed with app.pub; returns the release id."""
    return await create_release(gql, key, await app_with_key(gql, key, **app), version)


def size_of(filename: str) -> int:
    """The size of a test file, or 1 for a name that is none (it is never uploaded)."""
    try:
        return (DATA / filename).stat().st_size
    except OSError:
        return 1


async def upload_create(
    gql: GraphQL,
    key: str,
    release_id: str,
    filename: str = APPIMAGE,
    *,
    platform: str = LINUX,
    signature: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """artifactUploadCreate for a test file, signed by its own .sig unless told otherwise,
    and declared at that file's size (fileSize=... for another file's bytes)."""
    fields = {
        "platform": platform,
        "filename": filename,
        "signature": text(filename + ".sig") if signature is None else signature,
        "fileSize": size_of(filename),
        **extra,
    }
    result = await gql(ARTIFACT_UPLOAD_CREATE, {"releaseId": release_id, "input": fields}, key=key)
    payload: dict[str, Any] = result["data"]["artifactUploadCreate"]
    return payload


async def put(created: dict[str, Any], body: bytes) -> httpx.Response:
    """PUT the bytes to the presigned URL the way a client would: from outside Ferryman."""
    headers = {h["name"]: h["value"] for h in created["uploadHeaders"]}
    async with httpx.AsyncClient() as uploader:
        return await uploader.put(created["uploadUrl"], content=body, headers=headers)


async def confirm(gql: GraphQL, key: str, artifact_id: str) -> dict[str, Any]:
    result = await gql(ARTIFACT_UPLOAD_CONFIRM, {"id": artifact_id}, key=key)
    payload: dict[str, Any] = result["data"]["artifactUploadConfirm"]
    return payload


async def multipart(
    client: httpx.AsyncClient,
    key: str | None,
    release_id: str,
    filename: str = TARBALL,
    *,
    platform: str = MAC,
    signature: str | None = None,
    body: bytes | None = None,
) -> httpx.Response:
    """artifactUpload as the GraphQL multipart request spec has it: operations, map, file."""
    operations = {
        "query": ARTIFACT_UPLOAD,
        "variables": {
            "releaseId": release_id,
            "platform": platform,
            "signature": text(filename + ".sig") if signature is None else signature,
            "file": None,
        },
    }
    return await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (filename, data(filename) if body is None else body, "application/gzip")},
        headers={"Authorization": f"Bearer {key}"} if key else {},
    )


def objects(s3: LocalS3, bucket: str) -> dict[str, bytes]:
    """Every object in the bucket, with its content."""
    listed = s3.client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: s3.client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listed
    }


def unfinished_uploads(s3: LocalS3, bucket: str) -> list[Any]:
    uploads: list[Any] = s3.client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads
