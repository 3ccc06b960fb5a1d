"""The S3 client against the session's SeaweedFS: key layout, file names, signing, streaming."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ferryman.local_s3 import LocalS3
from ferryman.models.errors import InvalidInput
from ferryman.settings import Settings
from ferryman.storage import PART, Storage, validate_filename


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    store = Storage(settings)
    await store.open()
    yield store
    await store.close()


def keys(s3: LocalS3, bucket: str) -> dict[str, int]:
    """Every object in the bucket, with its size."""
    listed = s3.client.list_objects_v2(Bucket=bucket)
    return {item["Key"]: item["Size"] for item in listed.get("Contents", [])}


def unfinished_uploads(s3: LocalS3, bucket: str) -> list[Any]:
    uploads: list[Any] = s3.client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads


# --- file names and keys ------------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    [
        "MyApp_1.2.3_amd64.AppImage",
        "MyApp.app.tar.gz",
        "My App 1.2.3 x64-setup.exe",
        "Ünïcødé_アプリ.msi",
        "a" * 255,
        "é" * 127,  # 254 bytes
        ".hidden",
    ],
)
def test_plain_file_names_are_accepted(filename: str) -> None:
    assert validate_filename(filename) == filename


@pytest.mark.parametrize(
    ("filename", "problem"),
    [
        ("", "is empty"),
        (".", "is empty"),
        ("..", "is empty"),
        ("../x", "folder separator"),
        ("a/b", "folder separator"),
        ("/etc/passwd", "folder separator"),
        ("a\\b", "folder separator"),
        ("..\\x", "folder separator"),
        ("x..y", "contains '..'"),
        ("MyApp\n.AppImage", "control characters"),
        ("MyApp\x00.AppImage", "control characters"),
        ("MyApp\x7f.AppImage", "control characters"),
        ("a" * 256, "longer than 255 bytes"),
        ("é" * 128, "longer than 255 bytes"),  # 128 characters, 256 bytes
    ],
)
def test_file_names_that_could_escape_or_confuse_are_refused(filename: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as error:
        validate_filename(filename)
    assert problem in error.value.message
    assert "MyApp_1.2.3_amd64.AppImage" in error.value.message  # says what is accepted
    assert error.value.field == ("input", "filename")


def test_object_keys_follow_the_layout() -> None:
    art = "art_01ARZ3NDEKTSV4RRFFQ69G5FAV"
    assert Storage.upload_key("my-app", art, "MyApp_1.2.3_amd64.AppImage") == (
        f"_uploads/my-app/{art}/MyApp_1.2.3_amd64.AppImage"
    )
    assert Storage.is_upload_key(Storage.upload_key("my-app", art, "a.bin"))
    mac = ("my-app", "2.0.0-beta.1+45", "darwin-aarch64", art)
    served = Storage.served_key(*mac, "MyApp.app.tar.gz")
    prefix, unique, name = served.rsplit("/", 2)
    assert (prefix + "/", len(unique), name) == (
        f"my-app/files/2.0.0-beta.1+45/darwin-aarch64/{art}/",
        26,
        "MyApp.app.tar.gz",
    )
    assert Storage.served_prefix(*mac) == prefix + "/"
    # Never the same key twice, and never one an upload URL or a CI pipeline writes.
    assert Storage.served_key(*mac, "MyApp.app.tar.gz") != served
    assert not Storage.is_upload_key(served)
    assert not served.startswith("my-app/releases/")


@pytest.mark.parametrize("filename", ["../../other-app/releases/1.0.0/x", "a/b", ".."])
def test_object_keys_never_take_a_path_from_the_client(filename: str) -> None:
    with pytest.raises(InvalidInput):
        Storage.upload_key("my-app", "art_01ARZ3NDEKTSV4RRFFQ69G5FAV", filename)
    with pytest.raises(InvalidInput):
        Storage.served_key("my-app", "1.2.3", "linux-x86_64", "art_x", filename)


async def test_download_urls(settings: Settings) -> None:
    key = "my-app/releases/1.2.3+4/My App.tar.gz"
    app_id = "app_01ARZ3NDEKTSV4RRFFQ69G5FAV"
    redirect = Storage(dataclasses.replace(settings, public_url="https://updates.example.com/"))
    public = Storage(dataclasses.replace(settings, download_base_url="https://dl.example.com/"))
    for store in (redirect, public):
        await store.open()
        await store.close()

    assert redirect.download_url(app_id, "1.2.3+4", "darwin-aarch64", key) == (
        f"https://updates.example.com/dl/{app_id}/1.2.3%2B4/darwin-aarch64"
    )
    assert public.download_url(app_id, "1.2.3+4", "darwin-aarch64", key) == (
        "https://dl.example.com/my-app/releases/1.2.3%2B4/My%20App.tar.gz"
    )


# --- the server enforces signatures -----------------------------------------------


async def test_unsigned_requests_are_refused(s3: LocalS3, bucket: str) -> None:
    s3.client.put_object(Bucket=bucket, Key="my-app/secret.bin", Body=b"private")
    async with httpx.AsyncClient() as anonymous:
        listing = await anonymous.get(f"{s3.endpoint}/{bucket}")
        read = await anonymous.get(f"{s3.endpoint}/{bucket}/my-app/secret.bin")
        write = await anonymous.put(f"{s3.endpoint}/{bucket}/my-app/planted.bin", content=b"x")
        buckets = await anonymous.get(f"{s3.endpoint}/")

    assert [r.status_code for r in (listing, read, write, buckets)] == [403, 403, 403, 403]
    assert b"private" not in read.content
    assert keys(s3, bucket) == {"my-app/secret.bin": len(b"private")}


async def test_a_wrongly_signed_request_is_refused(s3: LocalS3, bucket: str) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    forger = boto3.client(
        "s3",
        endpoint_url=s3.endpoint,
        region_name=s3.region,
        aws_access_key_id=s3.credentials.access_key_id,
        aws_secret_access_key="not-the-secret",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    with pytest.raises(ClientError) as error:
        forger.put_object(Bucket=bucket, Key="planted.bin", Body=b"x")
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert keys(s3, bucket) == {}


# --- presigned uploads --------------------------------------------------------------


async def test_presigned_put_stores_the_bytes(storage: Storage, s3: LocalS3, bucket: str) -> None:
    upload = await storage.presign_put("my-app/releases/1.0.0/a.bin", None, len(b"bytes"))

    assert upload.headers == {"Content-Length": "5"}
    assert upload.expires_in == storage.presign_seconds
    assert upload.url.startswith(f"{s3.endpoint}/{bucket}/my-app/releases/1.0.0/a.bin?")
    async with httpx.AsyncClient() as uploader:
        response = await uploader.put(upload.url, content=b"bytes")
    assert response.status_code == 200, response.text
    stored = s3.client.get_object(Bucket=bucket, Key="my-app/releases/1.0.0/a.bin")
    assert stored["Body"].read() == b"bytes"


async def test_presigned_put_is_bound_to_its_content_type(
    storage: Storage, s3: LocalS3, bucket: str
) -> None:
    key = "my-app/releases/1.0.0/a.tar.gz"
    upload = await storage.presign_put(key, "application/gzip", 2)
    assert upload.headers == {"Content-Length": "2", "Content-Type": "application/gzip"}

    async with httpx.AsyncClient() as uploader:
        other = await uploader.put(upload.url, content=b"xy", headers={"Content-Type": "text/html"})
        assert other.status_code == 403, other.text
        assert keys(s3, bucket) == {}

        right = await uploader.put(upload.url, content=b"gz", headers=upload.headers)
    assert right.status_code == 200, right.text
    assert s3.client.head_object(Bucket=bucket, Key=key)["ContentType"] == "application/gzip"


async def test_presigned_put_is_bound_to_its_key(
    storage: Storage, s3: LocalS3, bucket: str
) -> None:
    upload = await storage.presign_put("my-app/releases/1.0.0/a.bin", None, 1)
    elsewhere = upload.url.replace("/a.bin?", "/b.bin?")
    async with httpx.AsyncClient() as uploader:
        response = await uploader.put(elsewhere, content=b"x")
    assert response.status_code == 403
    assert keys(s3, bucket) == {}


async def test_presigned_put_is_bound_to_its_size(
    storage: Storage, s3: LocalS3, bucket: str
) -> None:
    upload = await storage.presign_put("k/a.bin", None, 5)

    async def streamed() -> AsyncIterator[bytes]:  # sent chunked: no length at all
        yield b"byt"
        yield b"es"

    async with httpx.AsyncClient() as uploader:
        longer = await uploader.put(upload.url, content=b"bytes!")
        shorter = await uploader.put(upload.url, content=b"byte")
        chunked = await uploader.put(upload.url, content=streamed())
        assert [r.status_code for r in (longer, shorter, chunked)] == [403, 403, 403]
        assert keys(s3, bucket) == {}
        right = await uploader.put(upload.url, content=b"bytes", headers=upload.headers)
    assert right.status_code == 200, right.text
    assert keys(s3, bucket) == {"k/a.bin": 5}


# --- copies ----------------------------------------------------------------------------


async def test_a_copy_is_made_only_of_the_object_seen(
    storage: Storage, s3: LocalS3, bucket: str
) -> None:
    s3.client.put_object(Bucket=bucket, Key="k/source", Body=b"checked", ContentType="app/x")
    head = await storage.head("k/source")
    assert head is not None
    assert head[0] == len(b"checked")
    s3.client.put_object(Bucket=bucket, Key="k/source", Body=b"swapped", ContentType="app/y")

    assert await storage.copy("k/source", "k/stale", head[1]) is False
    assert await storage.copy("k/missing", "k/none", head[1]) is False
    assert keys(s3, bucket) == {"k/source": len(b"swapped")}

    fresh = await storage.head("k/source")
    assert fresh is not None
    assert fresh[1] != head[1]
    assert await storage.copy("k/source", "k/copy", fresh[1]) is True
    copied = s3.client.get_object(Bucket=bucket, Key="k/copy")
    assert copied["Body"].read() == b"swapped"
    assert copied["ContentType"] == "app/y"  # the object's own metadata comes along


# --- reading and streaming -------------------------------------------------------------


async def test_size_and_chunks_of_a_stored_object(
    storage: Storage, s3: LocalS3, bucket: str
) -> None:
    body = bytes(range(256)) * 9000  # a little over two read chunks
    s3.client.put_object(Bucket=bucket, Key="k/file.bin", Body=body)

    assert await storage.size("k/file.bin") == len(body)
    assert await storage.size("k/missing.bin") is None
    assert b"".join([chunk async for chunk in storage.chunks("k/file.bin")]) == body


async def test_upload_streams_in_parts(storage: Storage, s3: LocalS3, bucket: str) -> None:
    piece = bytes(range(256)) * 4096  # 1 MiB
    count = 2 * PART // len(piece) + 3  # two full parts and a short last one

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(count):
            yield bytes([index]) + piece[1:]

    await storage.upload("my-app/releases/1.0.0/big.bin", chunks(), "application/octet-stream")

    stored = s3.client.get_object(Bucket=bucket, Key="my-app/releases/1.0.0/big.bin")
    assert stored["ContentLength"] == count * len(piece)
    assert stored["ContentType"] == "application/octet-stream"
    data = stored["Body"].read()
    assert data == b"".join(bytes([index]) + piece[1:] for index in range(count))
    assert unfinished_uploads(s3, bucket) == []


async def test_an_empty_upload_stores_an_empty_object(
    storage: Storage, s3: LocalS3, bucket: str
) -> None:
    async def nothing() -> AsyncIterator[bytes]:
        return
        yield b""

    await storage.upload("k/empty.bin", nothing(), None)
    assert keys(s3, bucket) == {"k/empty.bin": 0}


async def test_a_failed_upload_leaves_nothing_behind(
    storage: Storage, s3: LocalS3, bucket: str
) -> None:
    async def broken() -> AsyncIterator[bytes]:
        for _ in range(PART // (1024 * 1024) + 1):  # one part already sent
            yield b"\0" * 1024 * 1024
        raise RuntimeError("the client went away")

    with pytest.raises(RuntimeError, match="went away"):
        await storage.upload("k/broken.bin", broken(), None)

    assert keys(s3, bucket) == {}
    assert unfinished_uploads(s3, bucket) == []


async def test_delete_removes_the_object_and_tolerates_a_missing_one(
    storage: Storage, s3: LocalS3, bucket: str
) -> None:
    s3.client.put_object(Bucket=bucket, Key="k/a.bin", Body=b"a")
    await storage.delete("k/a.bin")
    await storage.delete("k/a.bin")
    assert keys(s3, bucket) == {}
