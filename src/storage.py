"""The object store (Cloudflare R2 or any S3 API) through one long-lived aioboto3 client.

This module owns the bucket's key layout; clients name a file, never a key:

- ``_uploads/{app_slug}/{artifact_id}/{filename}``: where a presigned upload URL writes
  (one key per artifact; no slug starts with ``_``). Never served.
- ``{app_slug}/releases/{version}/{filename}``: where a CI pipeline with bucket
  credentials of its own puts a file it submits by ``r2_key``. Never served either.
- ``{app_slug}/files/{version}/{platform}/{artifact_id}/{unique}/{filename}``: the copy
  Ferryman verified, and the only key installs are sent to. A fresh key for every check,
  written once by Ferryman itself (a server-side copy, or a direct upload streamed
  through it) and never presigned for writing, so no upload credential Ferryman issued
  can change what was verified. Anything else under the artifact's prefix was left by a
  check that a crash or an outage cut short, and is swept away by the next one.

Every S3 failure that means "the store is not reachable" or "the store failed on its
side" (a 5xx) becomes :class:`StorageUnavailable`, which the doors answer as try-again.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aioboto3
from aiobotocore.config import AioConfig
from aiohttp import ClientPayloadError
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from ulid import ULID

from ferryman.models.errors import InvalidInput
from ferryman.settings import Settings

FILENAME_MAX_BYTES = 255
UPLOADS = "_uploads/"
CHUNK = 1024 * 1024
PART = 8 * 1024 * 1024  # multipart part size (S3 requires at least 5 MiB but the last)
# One session per process: it caches botocore's service models, which are slow to load.
_SESSION = aioboto3.Session()
# Not reachable, or gone in the middle of a body (a read-back cut short).
_UNREACHABLE = (
    EndpointConnectionError,
    ConnectionClosedError,
    ReadTimeoutError,
    ResponseStreamingError,
    ClientPayloadError,
    OSError,
)


class StorageUnavailable(Exception):
    """The object store did not answer; nothing was changed, try again."""


class ObjectNotFound(LookupError):
    """The object is not (or no longer) there."""


@dataclasses.dataclass(frozen=True, slots=True)
class PresignedUpload:
    url: str
    headers: dict[str, str]
    expires_in: int


def download_path(app: str, version: str, platform: str) -> str:
    """The path of a ``/dl`` link: ``app`` is the app's id (a slug in links made before
    the id was used, which are still honoured for the artifact they were made for)."""
    return f"/dl/{app}/{quote(version, safe='')}/{platform}"


class Storage:
    """S3 operations Ferryman needs, on one bucket."""

    def __init__(self, settings: Settings) -> None:
        assert settings.s3_endpoint, "the S3 endpoint is resolved before the app starts"
        self.bucket = settings.s3_bucket
        self.presign_seconds = settings.presign_seconds
        self.max_file_bytes = settings.max_artifact_bytes
        self.download_base_url = (settings.download_base_url or "").rstrip("/")
        self.server_url = settings.base_url
        self._client_context = _SESSION.client(
            "s3",
            endpoint_url=settings.s3_endpoint,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=AioConfig(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )
        self._client: Any = None

    async def open(self) -> None:
        self._client = await self._client_context.__aenter__()

    async def close(self) -> None:
        await self._client_context.__aexit__(None, None, None)

    @staticmethod
    def upload_key(app_slug: str, artifact_id: str, filename: str) -> str:
        """Where an artifact's presigned upload URL writes: its own key, never served."""
        return f"{UPLOADS}{app_slug}/{artifact_id}/{validate_filename(filename)}"

    @staticmethod
    def is_upload_key(key: str) -> bool:
        """Whether ``key`` is one a presigned upload URL of Ferryman's wrote."""
        return key.startswith(UPLOADS)

    @staticmethod
    def file_name(filename: str) -> str:
        """The file name, when it is a plain one (InvalidInput otherwise)."""
        return validate_filename(filename)

    @staticmethod
    def served_prefix(
        app_slug: str, version: str, platform: str, artifact_id: str | None = None
    ) -> str:
        """Where the verified copies of an artifact's file go (without ``artifact_id``:
        those of every artifact the platform of that version has had)."""
        prefix = f"{app_slug}/files/{version}/{platform}/"
        return prefix if artifact_id is None else f"{prefix}{artifact_id}/"

    @classmethod
    def served_key(
        cls, app_slug: str, version: str, platform: str, artifact_id: str, filename: str
    ) -> str:
        """A new key, never used before, for a file Ferryman writes once and verifies."""
        prefix = cls.served_prefix(app_slug, version, platform, artifact_id)
        return f"{prefix}{ULID()}/{validate_filename(filename)}"

    def download_url(self, app_id: str, version: str, platform: str, key: str) -> str:
        """The URL installs are given: the public bucket URL of the verified object when one
        is configured, else this server's redirect, which names the app by its id."""
        if self.download_base_url:
            return f"{self.download_base_url}/{quote(key)}"
        return f"{self.server_url}{download_path(app_id, version, platform)}"

    async def presign_put(self, key: str, content_type: str | None, size: int) -> PresignedUpload:
        """A URL that writes ``size`` bytes to ``key``: the length is signed, so the store
        refuses a body of any other size."""
        params: dict[str, object] = {"Bucket": self.bucket, "Key": key, "ContentLength": size}
        headers = {"Content-Length": str(size)}
        if content_type:
            params["ContentType"] = content_type
            headers["Content-Type"] = content_type
        url = await self._client.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=self.presign_seconds
        )
        return PresignedUpload(url=url, headers=headers, expires_in=self.presign_seconds)

    async def presign_get(self, key: str, seconds: int) -> str:
        url: str = await self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds
        )
        return url

    async def head(self, key: str) -> tuple[int, str] | None:
        """The object's size in bytes and its ETag, or None when there is no such object."""
        try:
            async with self._reachable():
                head = await self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"]), str(head["ETag"])

    async def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is no such object."""
        head = await self.head(key)
        return None if head is None else head[0]

    async def copy(self, source: str, target: str, etag: str) -> bool:
        """Copy ``source`` to ``target`` inside the store, provided ``source`` still has
        ``etag``; False when it changed or went away meanwhile (nothing is written then).
        One CopyObject: up to 5 GiB, which FERRYMAN_MAX_ARTIFACT_BYTES never exceeds."""
        try:
            async with self._reachable():
                await self._client.copy_object(
                    Bucket=self.bucket,
                    Key=target,
                    CopySource={"Bucket": self.bucket, "Key": source},
                    CopySourceIfMatch=etag,
                    MetadataDirective="COPY",
                )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "412", "404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    async def keys(self, prefix: str) -> list[str]:
        """The keys under ``prefix`` (the first thousand)."""
        async with self._reachable():
            listed = await self._client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [str(item["Key"]) for item in listed.get("Contents", [])]

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes, a chunk at a time (never all in memory); ObjectNotFound
        when there is none."""
        async with self._reachable():
            try:
                response = await self._client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    raise ObjectNotFound(key) from None
                raise
            # Not ``as body``: StreamingBody's __aenter__ returns the bare aiohttp response.
            body = response["Body"]
            async with body:
                async for chunk in body.iter_chunks(CHUNK):
                    yield chunk

    async def upload(
        self, key: str, chunks: AsyncIterator[bytes], content_type: str | None
    ) -> None:
        """Stream ``chunks`` into ``key`` as a multipart upload; aborted on any failure."""
        extra = {"ContentType": content_type} if content_type else {}
        async with self._reachable():
            started = await self._client.create_multipart_upload(
                Bucket=self.bucket, Key=key, **extra
            )
            upload_id = started["UploadId"]
            try:
                parts = await self._upload_parts(key, upload_id, chunks)
                await self._client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
            except BaseException:
                with contextlib.suppress(Exception):
                    await self._client.abort_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=upload_id
                    )
                raise

    async def abort_unfinished(self, prefix: str) -> None:
        """Abort the multipart uploads under ``prefix`` that never completed (one cut off
        while the store was away could not be aborted then: its parts would be kept, and
        billed, for good)."""
        async with self._reachable():
            listed = await self._client.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
            for unfinished in listed.get("Uploads", []):
                with contextlib.suppress(ClientError):  # finished or aborted meanwhile
                    await self._client.abort_multipart_upload(
                        Bucket=self.bucket, Key=unfinished["Key"], UploadId=unfinished["UploadId"]
                    )

    async def delete(self, key: str) -> None:
        async with self._reachable():
            await self._client.delete_object(Bucket=self.bucket, Key=key)

    async def _upload_parts(
        self, key: str, upload_id: str, chunks: AsyncIterator[bytes]
    ) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        buffer = bytearray()

        async def flush() -> None:
            number = len(parts) + 1
            sent = await self._client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=bytes(buffer),
            )
            parts.append({"PartNumber": number, "ETag": sent["ETag"]})
            buffer.clear()

        async for chunk in chunks:
            buffer.extend(chunk)
            if len(buffer) >= PART:
                await flush()
        if buffer or not parts:
            await flush()
        return parts

    @contextlib.asynccontextmanager
    async def _reachable(self) -> AsyncIterator[None]:
        try:
            yield
        except _UNREACHABLE as error:
            raise StorageUnavailable(f"object storage is unreachable: {error}") from error
        except ClientError as error:
            # InternalError, ServiceUnavailable, SlowDown...: the store's fault, not the request's.
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500:
                raise StorageUnavailable(f"object storage failed: {error}") from error
            raise


def validate_filename(filename: str, field: tuple[str, ...] = ("input", "filename")) -> str:
    """A plain file name: no folders, no ``..``, no control characters, at most 255 bytes."""
    problem = None
    if not filename or filename in (".", ".."):
        problem = "is empty"
    elif "/" in filename or "\\" in filename:
        problem = "contains a folder separator"
    elif ".." in filename:
        problem = "contains '..'"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in filename):
        problem = "contains control characters"
    elif len(filename.encode()) > FILENAME_MAX_BYTES:
        problem = f"is longer than {FILENAME_MAX_BYTES} bytes"
    if problem:
        raise InvalidInput(
            f"filename {filename[:80]!r} {problem}: give the file's own name, such as "
            "MyApp_1.2.3_amd64.AppImage",
            field,
        )
    return filename
