"""Log lines: JSON with the request id, and secrets masked wherever they appear.

Releases are rows written directly (:mod:`tests.support.rows`): the subject is the logs.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ferryman import auth, logs
from ferryman.log_writer import WAITING_LINES
from ferryman.models import app as apps
from ferryman.models import license as licenses
from ferryman.models.actor import Actor
from ferryman.models.status import Distribution
from ferryman.settings import Settings
from tests.conftest import GraphQL, serving
from tests.support import rows
from tests.support.api import payload_of
from tests.support.documents import APPS, WEBHOOK_CREATE, WEBHOOK_ROTATE_SECRET

DATA = Path(__file__).parent / "data" / "tauri"
SIGNATURE = (DATA / "MyApp.app.tar.gz.sig").read_text().strip()
SIGNATURE_LINE = "RUR8hGq79s2V9mcCdYT7yNW/+EyU21LF0gtGZjH5D85G79aKTf97MzLQdSaaveRswZIaxLO+NnGpiWeTOAmoZ9727gsZFqv72gM="  # noqa: E501
KEY = "uk_live_AbCd" + "x" * 36
LICENSE_KEY = "lk_WxYz" + "q" * 36
WEBHOOK_SECRET = "K0/+" + "a+b/" * 10 + "Zz=="


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        (f"Authorization: Bearer {KEY}", "uk_live_AbCd…", KEY),
        (f"X-License-Key: {LICENSE_KEY}", "lk_WxYz…", LICENSE_KEY),
        (f"('whsec_{WEBHOOK_SECRET}', 4)", "'whsec_K0/+…', 4)", WEBHOOK_SECRET),
        (
            "('https://hooks.slack.com/services/T01/B02/SlackToken1', 'SLACK')",
            "('https://hooks.slack.com/services/…', 'SLACK')",
            "SlackToken1",
        ),
        (
            '"url": "https://discord.com/api/webhooks/1234/Disc-ord_Token?wait=true"',
            '"url": "https://discord.com/api/webhooks/…"',
            "Disc-ord_Token",
        ),
        (
            "https://s3.example.com/b/k?X-Amz-Credential=AKIA%2F20261127&X-Amz-Signature=0a1b2c3d4e"
            "&X-Amz-Expires=60",
            "X-Amz-Signature=[masked]&X-Amz-Expires=60",
            "0a1b2c3d4e",
        ),
        (f'{{"signature": "{SIGNATURE}"}}', '{"signature": "[signature masked]"}', SIGNATURE[30:]),
        (f"line: {SIGNATURE_LINE}", "line: [signature masked]", SIGNATURE_LINE),
    ],
    ids=[
        "api-key",
        "licence-key",
        "webhook-secret",
        "slack-url",
        "discord-url",
        "presigned-url",
        "tauri-signature",
        "minisign-line",
    ],
)
def test_secrets_are_masked(text: str, kept: str, gone: str) -> None:
    masked = logs.mask(text)

    assert kept in masked
    assert gone not in masked


def test_ordinary_text_is_left_alone() -> None:
    text = "published rel_01JD3Z5W8Q 1.2.3 for linux-x86_64 (sha256 " + "ab" * 32 + ")"

    assert logs.mask(text) == text


@pytest.fixture
def configured(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """logs.configure for one test; the root logger and uvicorn's are put back after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    access = logging.getLogger("uvicorn.access")
    try:
        yield
    finally:
        logs.stop()
        root.handlers[:], level = saved
        root.setLevel(level)
        access.disabled = False


def json_lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


async def test_json_lines_carry_the_request_id(
    configured: None, capsys: pytest.CaptureFixture[str], client: httpx.AsyncClient
) -> None:
    logs.configure("INFO", json_lines=True)

    response = await client.get("/healthz")

    logs.flush()
    lines = json_lines(capsys.readouterr().err)
    access = [line for line in lines if line["logger"] == "ferryman.access"]
    assert len(access) == 1, lines
    line = access[0]
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["level"] == "INFO"
    assert line["method"] == "GET"
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert line["door"] == "probes"
    assert isinstance(line["duration_ms"], float)
    assert {"time", "message", "client"} <= set(line)


async def test_text_lines_for_a_terminal(
    configured: None, capsys: pytest.CaptureFixture[str], client: httpx.AsyncClient
) -> None:
    logs.configure("INFO", json_lines=False)

    response = await client.get("/readyz")

    logs.flush()
    err = capsys.readouterr().err
    request_id = response.headers["x-request-id"]
    assert f"INFO ferryman.access [{request_id}] GET /readyz 200" in err
    assert not json_lines(err)


async def test_debug_logs_of_sql_never_show_signatures_or_keys(
    configured: None, capsys: pytest.CaptureFixture[str], client: httpx.AsyncClient
) -> None:
    logs.configure("DEBUG", json_lines=True)

    await rows.publish("logged", "1.0.0", ["darwin-aarch64"])
    await client.post("/graphql", json={"query": APPS}, headers={"Authorization": KEY})

    logs.flush()
    err = capsys.readouterr().err
    assert "[signature masked]" in err  # the INSERT was logged, with its value masked
    assert SIGNATURE[40:80] not in err
    assert KEY not in err


async def test_debug_logs_of_a_licensed_check_never_show_the_licence(
    configured: None, capsys: pytest.CaptureFixture[str], client: httpx.AsyncClient
) -> None:
    logs.configure("DEBUG", json_lines=True)
    console = Actor.console()
    await rows.publish("paid", "1.0.0", ["linux-x86_64"])
    paid = await apps.App.get(slug="paid")
    await apps.update(console, paid.id, apps.AppChanges(distribution=Distribution.LICENSED))
    minted = auth.mint(auth.LICENSE_PREFIX)
    new = licenses.NewLicense(minted.key_hash, minted.prefix)
    await licenses.create(console, paid.id, new)

    for headers in ({"X-License-Key": minted.secret}, {"X-License-Key": LICENSE_KEY}):
        await client.get("/paid/update/linux/x86_64/0.9.0", headers=headers)

    logs.flush()
    err = capsys.readouterr().err
    assert "licenses" in err  # the lookup by hash was logged
    assert minted.secret[7:] not in err
    assert LICENSE_KEY[7:] not in err


async def test_debug_logs_of_webhooks_never_show_their_secrets(
    configured: None, capsys: pytest.CaptureFixture[str], gql: GraphQL, admin_key: str
) -> None:
    logs.configure("DEBUG", json_lines=True)
    url = "https://93.184.215.14/hook"  # a public address: no name to resolve
    created = await gql(WEBHOOK_CREATE, {"input": {"kind": "WEBHOOK", "url": url}}, key=admin_key)
    payload = payload_of(created, "webhookCreate")
    webhook_id = payload["webhook"]["id"]
    rotated = await gql(WEBHOOK_ROTATE_SECRET, {"id": webhook_id}, key=admin_key)
    secrets = [payload["secret"], payload_of(rotated, "webhookRotateSecret")["secret"]]

    logs.flush()
    err = capsys.readouterr().err
    assert "INSERT" in err  # the endpoint's row was logged, with its secret masked
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert f"{secret[:10]}…" in err
        assert secret[10:] not in err


async def test_start_up_prints_no_python_object_reprs(
    configured: None, capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    logs.configure("INFO", json_lines=True)
    async with serving(settings):
        pass
    logs.flush()
    err = capsys.readouterr().err
    assert " object at 0x" not in err
    assert "color_message" not in err


class StuckStream(io.StringIO):
    """stderr as a terminal nobody reads: every write waits until released."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = threading.Event()
        self.released = threading.Event()

    def write(self, text: str) -> int:
        self.writing.set()
        self.released.wait()
        return super().write(text)


def test_a_stderr_nobody_reads_never_blocks_the_logger_and_losses_are_said(
    configured: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = StuckStream()
    monkeypatch.setattr(sys, "stderr", stream)
    logs.configure("INFO", json_lines=False)
    logger = logging.getLogger("ferryman.test")
    dropped_before = logs.dropped()
    logger.info("first")
    assert stream.writing.wait(5)  # the writer is stuck in write(2) with it

    # Returns although nothing can be written: the lines wait, up to the limit, and the
    # rest are dropped and counted.
    for n in range(WAITING_LINES + 100):
        logger.info("line %d", n)
    stream.released.set()
    logs.flush()
    logger.info("after")
    logs.flush()

    dropped = logs.dropped() - dropped_before
    lines = stream.getvalue().splitlines()
    assert dropped == 100
    assert len(lines) == 1 + WAITING_LINES + 2
    assert lines[WAITING_LINES].endswith(f"line {WAITING_LINES - 1}")
    assert f"{dropped} log lines were dropped: stderr was not read fast enough" in lines[-2]
    assert lines[-1].endswith("after")
