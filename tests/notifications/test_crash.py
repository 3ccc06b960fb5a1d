"""A server SIGKILLed with notifications owed: ``ferryman serve`` as a child process,
killed while an attempt waits for its answer, or before any attempt was made, then
started again on the same database. The message arrives after the restart with the
``webhook-id`` it had: at least once in the first case, exactly once in the second.

The lease (the webhook timeout, 5 s, plus a margin of 1 s) is short here, so the
attempt cut short is taken up again within seconds rather than a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.local_s3 import LocalS3
from ferryman.models.notification import DeliveryStatus
from tests.conftest import server_env
from tests.notifications.conftest import endpoint, settled
from tests.services import ServerProcess
from tests.support.database import bound
from tests.support.live_server import create_app, publish, ready_draft
from tests.support.receiver import Answer, Receiver

SETTLED_WITHIN = 30.0  # seconds for a restarted server to deliver and record


@pytest.fixture
def server(database_url: str, s3: LocalS3, bucket: str, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {
        **server_env(database_url, s3, bucket, tmp_path),
        "FERRYMAN_WEBHOOKS_ALLOW_PRIVATE": "true",  # the receiver is on loopback
        "FERRYMAN_WEBHOOK_TIMEOUT_SECONDS": "5",
        "FERRYMAN_NOTIFICATION_LEASE_MARGIN_SECONDS": "1",
    }
    with ServerProcess(env, tmp_path / "server.log") as process:
        yield process


async def listening(database_url: str, app_id: str, url: str) -> str:
    """A webhook endpoint of the app, made beside the server; returns its secret."""
    async with bound(database_url):
        _, secret = await endpoint(url, app_id)
    assert secret is not None
    return secret


async def test_an_attempt_cut_short_by_kill_9_is_sent_again_after_the_restart(
    server: ServerProcess, receiver: Receiver, database_url: str
) -> None:
    key = server.command("keys", "create", "--scope", "admin", "--name", "crash").strip()
    server.start()
    admin = (server.url, key)
    app_id = create_app(admin)
    release_id = ready_draft(admin, app_id)
    receiver.secrets = [await listening(database_url, app_id, receiver.url)]
    receiver.answer(Answer(200, delay=20))  # the first attempt waits for its answer

    publish(admin, release_id)
    (cut_short,) = receiver.wait_for(1)
    server.kill()  # within the attempt's 5 s: it is never recorded

    server.start()
    _, again = receiver.wait_for(2, timeout=SETTLED_WITHIN)
    async with bound(database_url):
        (delivery,) = await settled(1, SETTLED_WITHIN)

    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1), (
        "one attempt recorded: the one after the restart; the one cut short never was"
    )
    assert again.headers["webhook-id"] == cut_short.headers["webhook-id"]
    assert again.headers["webhook-id"] == delivery.notification_id
    assert cut_short.verified
    assert again.verified
    assert again.json == cut_short.json
    assert again.json["type"] == "release.published"
    assert again.json["data"]["release"]["id"] == release_id


async def test_a_message_owed_at_kill_9_is_sent_exactly_once_after_the_restart(
    server: ServerProcess, receiver: Receiver, database_url: str
) -> None:
    server.env["FERRYMAN_SEND_NOTIFICATIONS"] = "false"  # written, never sent
    key = server.command("keys", "create", "--scope", "admin", "--name", "crash").strip()
    server.start()
    admin = (server.url, key)
    app_id = create_app(admin)
    release_id = ready_draft(admin, app_id)
    receiver.secrets = [await listening(database_url, app_id, receiver.url)]
    publish(admin, release_id)
    server.kill()
    assert receiver.received == []

    server.env["FERRYMAN_SEND_NOTIFICATIONS"] = "true"
    server.start()
    async with bound(database_url):
        (delivery,) = await settled(1, SETTLED_WITHIN)

    (request,) = receiver.received
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)
    assert request.headers["webhook-id"] == delivery.notification_id
    assert request.verified
    assert request.json["data"]["release"]["id"] == release_id
