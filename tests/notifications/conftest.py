"""The outbox's tests: the app with its own dispatcher off (each test runs one with a
clock of its own), real receivers, and helpers to make endpoints and send a round."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from ferryman.models import webhook as webhooks
from ferryman.models.actor import Actor
from ferryman.models.notification import Delivery, DeliveryStatus
from ferryman.models.webhook import Kind, Webhook, WebhookChanges
from ferryman.notifications.dispatcher import Dispatcher
from ferryman.settings import Settings
from tests.conftest import peer, serving
from tests.support.receiver import Receiver

LINUX = ["linux-x86_64"]


@dataclasses.dataclass
class Clock:
    """The dispatcher's idea of now: the wall clock, moved ahead by the test."""

    ahead: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead

    @property
    def now(self) -> datetime:
        return self()

    def advance(self, delta: timedelta) -> None:
        self.ahead += delta

    def move_to(self, moment: datetime) -> None:
        self.ahead = moment - datetime.now(UTC)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    # The app's own dispatcher is off: each test runs one with its own clock.
    async with serving(settings, send_notifications=False) as application:
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with peer(app) as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver().running() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def dispatcher(settings: Settings, clock: Clock) -> AsyncIterator[Dispatcher]:
    allowed = dataclasses.replace(settings, webhooks_allow_private=True, webhook_timeout_seconds=2)
    sender = Dispatcher(allowed, clock=clock, rng=random.Random(7))
    yield sender
    await sender.stop()


async def endpoint(
    url: str | None, app_id: str | None = None, kind: Kind = Kind.WEBHOOK, **changes: object
) -> tuple[Webhook, str | None]:
    """A new endpoint (an EMAIL one has no URL but ``recipients``) and its secret."""
    return await webhooks.create(
        Actor.console(),
        app_id,
        kind,
        WebhookChanges(url=url, **changes),  # type: ignore[arg-type]
        allow_private=True,
    )


async def send(dispatcher: Dispatcher) -> int:
    """One round: claim what is due and wait until every attempt is recorded."""
    claimed = await dispatcher.tick()
    await dispatcher.drain()
    return claimed


async def settled(count: int, within: float = 30.0) -> list[Delivery]:
    """Every delivery, once ``count`` of them are no longer pending: for a dispatcher
    that runs on its own (a server's), which records an attempt just after its answer."""
    deadline = time.monotonic() + within
    while await Delivery.exclude(status=DeliveryStatus.PENDING).count() < count:
        states = await Delivery.all().values("status", "attempts", "last_error")
        assert time.monotonic() < deadline, f"still pending after {within:.0f} s: {states}"
        await asyncio.sleep(0.05)
    return await Delivery.all()


async def only_delivery() -> Delivery:
    (delivery,) = await Delivery.all()
    return delivery
