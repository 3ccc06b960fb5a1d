"""Two ``ferryman serve`` processes on one database, each with its dispatcher, and a
burst of changes through both: every message reaches the receiver exactly once (all
its answers are 2xx), though each process claims from the same due deliveries.

Each process logs what it delivered, so the test also sees that both sent messages
and that no message was sent by both. It runs on either database (``--db postgres``
for PostgreSQL); on SQLite the processes share one file.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ferryman.local_s3 import LocalS3
from ferryman.models.notification import DeliveryStatus, Notification
from tests.conftest import server_env
from tests.notifications.conftest import endpoint, settled
from tests.services import ServerProcess
from tests.support.database import bound
from tests.support.documents import API_KEY_CREATE
from tests.support.live_server import Server, create_app, graphql, publish, ready_draft
from tests.support.receiver import Answer, Receiver
from tests.support.tauri_files import TARBALL

MAC = "darwin-aarch64"  # the committed tarball's signature names no version
RELEASES = 8
KEYS = 40
IN_FLIGHT = 16  # requests at once, shared out over both processes
DELIVERED = re.compile(r"notification (msg_\w+) to whk_\w+: delivered")


async def test_two_processes_deliver_every_message_exactly_once(
    database_url: str, s3: LocalS3, bucket: str, tmp_path: Path
) -> None:
    env = {
        **server_env(database_url, s3, bucket, tmp_path),
        "FERRYMAN_WEBHOOKS_ALLOW_PRIVATE": "true",
        "FERRYMAN_RATE_LIMIT_GRAPHQL": "0",
    }
    first = ServerProcess(env, tmp_path / "first.log")
    second = ServerProcess(env, tmp_path / "second.log")
    key = first.command("keys", "create", "--scope", "admin", "--name", "workers").strip()
    with Receiver().running() as receiver, first, second:
        first.start()
        second.start()
        servers: list[Server] = [(first.url, key), (second.url, key)]
        app_id = create_app(servers[0])
        drafts = [
            ready_draft(servers[n % 2], app_id, f"3.0.{n}", platform=MAC, filename=TARBALL)
            for n in range(RELEASES)
        ]
        async with bound(database_url):
            # Two at once per process, each answer a little slow: deliveries queue up,
            # and both processes' dispatchers claim from the same queue.
            _, secret = await endpoint(receiver.url, max_in_flight=2)
        assert secret is not None
        receiver.secrets = [secret]
        receiver.answer(*[Answer(200, delay=0.05)] * (RELEASES + KEYS))

        changes = [(servers[n % 2], "release", draft) for n, draft in enumerate(drafts)]
        changes += [(servers[n % 2], "key", f"ci {n}") for n in range(KEYS)]
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            list(pool.map(change, changes))

        async with bound(database_url):
            messages = set(await Notification.all().values_list("id", flat=True))
            assert len(messages) == RELEASES + KEYS
            received = await asyncio.to_thread(receiver.wait_for, len(messages), 60)
            deliveries = await settled(len(messages))
    logs = first.log_text(), second.log_text()  # whole, now that both have stopped

    assert len(deliveries) == len(messages)
    assert {(d.status, d.attempts) for d in deliveries} == {(DeliveryStatus.SUCCEEDED, 1)}
    assert Counter(r.headers["webhook-id"] for r in received) == dict.fromkeys(messages, 1)
    assert all(r.verified for r in received)
    by_first, by_second = (set(DELIVERED.findall(log)) for log in logs)
    assert by_first | by_second == messages
    assert by_first & by_second == set(), "a message was delivered by both processes"
    assert by_first, "the first process delivered nothing: nothing was shared"
    assert by_second, "the second process delivered nothing: nothing was shared"


def change(sent: tuple[Server, str, str]) -> None:
    """Publish a release, or create an API key, through one of the processes."""
    server, kind, subject = sent
    if kind == "release":
        publish(server, subject)
    else:
        graphql(server, API_KEY_CREATE, {"input": {"name": subject, "scope": "CI"}})
