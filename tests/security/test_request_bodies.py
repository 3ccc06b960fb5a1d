"""Promise: no request body is held in memory past its route's limit, whoever sends it.

Finding (issue 12, item 4): a streamed 180 MiB POST to /graphql without a key was read
into memory (+330 MiB RSS) before its 413, because the route's limit was the one for file
uploads. JSON bodies now stop at the GraphQL body limit as they stream; only multipart
bodies get the upload limit, and only once their key is known to be valid. Measured on a
real server process: its peak resident memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ferryman.local_s3 import LocalS3
from tests.conftest import server_env
from tests.services import ServerProcess

HOSTILE_BYTES = 180 * 1024 * 1024
CHUNK = b"x" * (256 * 1024)
GROWTH_LIMIT = 50 * 1024 * 1024  # the body is 180 MiB; a bounded read stays far below


@pytest.fixture
def server(database_url: str, s3: LocalS3, bucket: str, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(server_env(database_url, s3, bucket, tmp_path), tmp_path / "log")
    with process:
        process.start()
        yield process


def peak_rss(server: ServerProcess) -> int:
    """The server process's peak resident memory (VmHWM), in bytes."""
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


async def stream(url: str, headers: dict[str, str]) -> bytes:
    """POST a 180 MiB body chunk by chunk (no Content-Length) until the server answers or
    hangs up; returns the status line it sent."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Transfer-Encoding: chunked\r\n{head}\r\n".encode()
    )
    answer = asyncio.ensure_future(reader.readline())
    sent = 0
    try:
        with contextlib.suppress(ConnectionError):
            while sent < HOSTILE_BYTES and not answer.done():
                writer.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
                await writer.drain()
                sent += len(CHUNK)
        return await asyncio.wait_for(answer, 60)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        {"Content-Type": "application/json", "Authorization": "Bearer uk_live_" + "x" * 40},
        {"Content-Type": "text/plain"},
    ],
    ids=["no-key", "bad-key", "not-json"],
    # A content type GraphQL does not read is refused (400) without reading the body.
)
async def test_a_streamed_body_is_refused_as_it_streams(
    server: ServerProcess, headers: dict[str, str]
) -> None:
    before = peak_rss(server)
    status = await stream(f"{server.url}/graphql", headers)
    assert status.startswith((b"HTTP/1.1 413", b"HTTP/1.1 400")), status
    assert peak_rss(server) - before < GROWTH_LIMIT


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    server: ServerProcess,
) -> None:
    parts = urlsplit(server.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"POST /graphql HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {HOSTILE_BYTES}\r\n\r\n".encode()
    )
    try:
        status = await asyncio.wait_for(reader.readline(), 10)  # not a byte of the body sent
    finally:
        writer.close()
    assert status.startswith(b"HTTP/1.1 413"), status


@pytest.mark.parametrize(
    "authorization", [None, "Bearer uk_live_" + "x" * 40], ids=["no-key", "bad-key"]
)
async def test_a_file_upload_without_a_valid_key_is_refused_before_it_is_read(
    server: ServerProcess, authorization: str | None
) -> None:
    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    if authorization:
        headers["Authorization"] = authorization
    before = peak_rss(server)
    status = await stream(f"{server.url}/graphql", headers)
    assert status.startswith(b"HTTP/1.1 401"), status
    assert peak_rss(server) - before < GROWTH_LIMIT
