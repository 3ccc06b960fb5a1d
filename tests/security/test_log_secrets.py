"""Promise: no log line, at any level, holds a credential that works.

Finding (issue 12, item 8): at DEBUG, botocore logs the signature it computed for a
presigned URL on a line of its own (``Signature:`` then the hex), and a working upload URL
was rebuilt from the log. Every form that carries a signature is masked, in JSON lines and
in text lines alike.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from ferryman import logs
from ferryman.settings import Settings
from ferryman.storage import Storage

HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")


@pytest.fixture
def debug_logs() -> Iterator[None]:
    """logs.configure for one test at DEBUG; the root logger is put back after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.getLogger("uvicorn.access").disabled = False


@pytest.mark.parametrize("json_lines", [True, False], ids=["json", "text"])
@pytest.mark.usefixtures("debug_logs")
async def test_debug_logs_never_hold_a_request_or_presigned_signature(
    settings: Settings, capsys: pytest.CaptureFixture[str], json_lines: bool
) -> None:
    logs.configure("DEBUG", json_lines=json_lines)
    storage = Storage(settings)
    await storage.open()
    try:
        url = await storage.presign_get("logged/releases/1.0.0/app.bin", 600)
        await storage.size("logged/releases/1.0.0/app.bin")  # a signed request, sent
    finally:
        await storage.close()

    logs.stop()  # lines are written from a thread: all of them, before reading
    err = capsys.readouterr().err
    presigned = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    assert "StringToSign" in err  # botocore's signing was logged, at DEBUG
    assert presigned not in err
    assert "Signature:" in err
    assert not HEX_SIGNATURE.findall(err.split("Signature:", 1)[1][:200])
    for line in err.splitlines():
        for found in HEX_SIGNATURE.findall(line):
            # What may stay: hashes of payloads and canonical requests, never a signature.
            assert "Signature" not in line.split(found)[0][-40:], line
