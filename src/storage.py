"""The object store (Cloudflare R2 or any S3 API) through one long-lived aioboto3 client.

This module owns the bucket's key layout, ``{app_slug}/releases/{version}/{filename}``:
clients name a file, never a key. Every S3 failure that means "the store is not
reachable" or "the store failed on its side" (a 5xx) becomes :class:`StorageUnavailable`,
which the doors answer as try-again.
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

from ferryman.models.errors import InvalidInput
from ferryman.settings import Settings

FILENAME_MAX_BYTES = 255
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


@dataclasses.dataclass(frozen=True, slots=True)
class PresignedUpload:
    url: str
    headers: dict[str, str]
    expires_in: int


class Storage:
    """S3 operations Ferryman needs, on one bucket."""

    def __init__(self, settings: Settings) -> None:
        assert settings.s3_endpoint, "the S3 endpoint is resolved before the app starts"
        self.bucket = settings.s3_bucket
        self.presign_seconds = settings.presign_seconds
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
    def object_key(app_slug: str, version: str, filename: str) -> str:
        return f"{app_slug}/releases/{version}/{validate_filename(filename)}"

    def download_url(self, app_slug: str, version: str, platform: str, key: str) -> str:
        """The public bucket URL when one is configured, else this server's redirect."""
        if self.download_base_url:
            return f"{self.download_base_url}/{quote(key)}"
        return f"{self.server_url}/dl/{app_slug}/{quote(version, safe='')}/{platform}"

    async def presign_put(self, key: str, content_type: str | None) -> PresignedUpload:
        params = {"Bucket": self.bucket, "Key": key}
        headers = {}
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

    async def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is no such object."""
        try:
            async with self._reachable():
                head = await self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes, a chunk at a time (never all in memory)."""
        async with self._reachable():
            response = await self._client.get_object(Bucket=self.bucket, Key=key)
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
            # An upload cut off while the store was away could not be aborted then: its
            # parts would be kept (and billed) for good.
            with contextlib.suppress(ClientError):
                await self._abort_unfinished(key)

    async def _abort_unfinished(self, key: str) -> None:
        listed = await self._client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
        for unfinished in listed.get("Uploads", []):
            if unfinished["Key"] == key:
                await self._client.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=unfinished["UploadId"]
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
