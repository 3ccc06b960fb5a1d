"""Sending what the outbox holds, in every worker, after the change committed.

Each tick claims the deliveries that are due (a claim is a conditional update only one
worker wins, see :func:`ferryman.models.notification.take`) and sends each in a task of
its own, so a slow or dead endpoint holds up nothing but its own deliveries: no more
than its ``max_in_flight`` at once in a process, with a timeout on each. An attempt
cut short by a crash is sent again once its lease runs out (at least once, with the
same ``webhook-id``).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx

from ferryman.background import BackgroundLoop, pause
from ferryman.models import notification as notifications
from ferryman.models import webhook as webhooks
from ferryman.models.notification import RETRY_AFTER_MAX, Attempt, Delivery, Notification
from ferryman.models.webhook import Kind, Webhook
from ferryman.models.webhook_target import TargetRefused, check
from ferryman.notifications.message import request_for
from ferryman.settings import Settings

log = logging.getLogger("ferryman.notifications")

POLL_SECONDS = 1.0
BATCH = 50
DISCORD_BODY_MAX = 4_096  # of a 429's body, read for its retry_after
Clock = Callable[[], datetime]


class Mailer(Protocol):
    """Sends an EMAIL endpoint's message within ``timeout`` seconds; raises MailFailed
    when it could not."""

    timeout: float

    async def send(self, endpoint: Webhook, notification: Notification) -> None: ...


class MailFailed(Exception):
    """The mail was not accepted; the message says why."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Dispatcher(BackgroundLoop):
    """Works through due deliveries until stopped."""

    def __init__(
        self,
        settings: Settings,
        *,
        mailer: Mailer | None = None,
        clock: Clock = utc_now,
        poll: float = POLL_SECONDS,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = settings.base_url
        self.allow_private = settings.webhooks_allow_private
        self.timeout = float(settings.webhook_timeout_seconds)
        # An attempt ends within its timeout; the margin covers recording it. Past the
        # lease (a worker killed mid-attempt), another worker sends it again.
        longest = max(self.timeout, mailer.timeout) if mailer else self.timeout
        self.lease = timedelta(seconds=longest + settings.notification_lease_margin_seconds)
        self.mailer = mailer
        self.clock = clock
        self.poll = poll
        self.rng = rng
        # Redirects are not followed: one could lead to an address the target rule refuses.
        self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        self._wake = asyncio.Event()
        self._in_flight: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        notifications.on_emit(self._wake.set)
        super().start()

    async def stop(self) -> None:
        notifications.off_emit(self._wake.set)
        await super().stop()
        for task in list(self._tasks):
            task.cancel()
        await self.drain()
        await self._client.aclose()

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as error:  # an outage: the deliveries wait in the database
                log.warning("notifications: could not claim deliveries: %s", error)
            await pause(self._wake, self.poll)
            self._wake.clear()

    async def tick(self) -> int:
        """Claim what is due now and start sending it; returns how many were claimed."""
        now = self.clock()
        claimed = 0
        for delivery in await notifications.due(now, BATCH):
            endpoint = delivery.webhook
            if self._in_flight.get(endpoint.id, 0) >= endpoint.max_in_flight:
                continue  # its turn comes when one of the endpoint's attempts ends
            if not await notifications.take(delivery, now + self.lease):
                continue  # another worker has it
            claimed += 1
            self._in_flight[endpoint.id] = self._in_flight.get(endpoint.id, 0) + 1
            task = asyncio.create_task(self._attempt(delivery), name=f"delivery:{delivery.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return claimed

    async def drain(self) -> None:
        """Wait until every attempt started has been recorded."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _attempt(self, delivery: Delivery) -> None:
        try:
            endpoint = await Webhook.get_or_none(id=delivery.webhook_id)
            notification = await Notification.get(id=delivery.notification_id)
            if endpoint is None or not endpoint.enabled:
                await notifications.fail_all(delivery.webhook_id, "the endpoint is disabled")
                return
            attempt = await self._send(endpoint, notification)
            await notifications.record(delivery, self.clock(), attempt, self.rng)
            if attempt.status_code == 410:
                reason = "the endpoint answered 410 Gone"
                await webhooks.disable(endpoint.id, reason)
                await notifications.fail_all(endpoint.id, reason)
            log.info(
                "notification %s to %s: %s",
                notification.id,
                endpoint.id,
                "delivered" if attempt.ok else attempt.error,
            )
        except Exception:  # recorded nowhere: the lease runs out and it is tried again
            log.exception("notifications: delivery %s failed unexpectedly", delivery.id)
        finally:
            self._in_flight[delivery.webhook_id] -= 1
            self._wake.set()  # the endpoint has room again

    async def _send(self, endpoint: Webhook, notification: Notification) -> Attempt:
        if endpoint.kind is Kind.EMAIL:
            if self.mailer is None:
                return Attempt(ok=False, error="no SMTP server is configured (FERRYMAN_SMTP_HOST)")
            try:
                await self.mailer.send(endpoint, notification)
            except MailFailed as error:
                return Attempt(ok=False, error=str(error))
            return Attempt(ok=True)
        url = endpoint.url or ""
        try:
            await check(url, allow_private=self.allow_private)
        except TargetRefused as error:
            return Attempt(ok=False, error=str(error))
        # Signed at the wall clock's time, which receivers compare with theirs.
        outgoing = request_for(endpoint, notification, self.base_url, utc_now())
        try:
            # httpx's timeout bounds each read; this bounds the attempt within its lease.
            async with asyncio.timeout(self.timeout):
                # Streamed and never read (but a Discord 429's start): an endpoint's
                # answer may be as large as it likes.
                async with self._client.stream(
                    "POST", url, content=outgoing.body, headers=outgoing.headers
                ) as response:
                    status = response.status_code
                    retry_after = _retry_after(response.headers.get("retry-after"), self.clock())
                    if retry_after is None and status == 429 and endpoint.kind is Kind.DISCORD:
                        retry_after = await _discord_retry_after(response)
        except (httpx.TimeoutException, TimeoutError):
            return Attempt(ok=False, error=f"no answer within {self.timeout:.0f} s")
        except httpx.HTTPError as error:
            return Attempt(ok=False, error=f"{type(error).__name__}: {error}")
        if 200 <= status < 300:
            return Attempt(ok=True, status_code=status)
        return Attempt(
            ok=False, status_code=status, error=f"HTTP {status}", retry_after=retry_after
        )


def _retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header (seconds, or an HTTP date) as a delay; None when absent or
    unreadable."""
    if not value:
        return None
    if value.strip().isdigit():  # bounded first: a huge number is no timedelta
        return timedelta(seconds=min(int(value.strip()), int(RETRY_AFTER_MAX.total_seconds())))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(timedelta(0), when - now), RETRY_AFTER_MAX)


async def _discord_retry_after(response: httpx.Response) -> timedelta | None:
    """Discord's rate limit answer says when to come back in its JSON body
    (``{"retry_after": 1.5}``, seconds); None when the body's start holds no such number."""
    body = b""
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > DISCORD_BODY_MAX:
            return None
    try:
        seconds = json.loads(body).get("retry_after")
    except (ValueError, AttributeError):
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    if not (math.isfinite(seconds) and seconds >= 0):
        return None
    return timedelta(seconds=min(seconds, RETRY_AFTER_MAX.total_seconds()))
