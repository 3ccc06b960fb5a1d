"""The outbox: what happened, written in the transaction of the change that caused it.

:func:`emit` writes the message and one pending delivery per endpoint that listens, in
the caller's transaction: a change that rolls back sends nothing, and a crash after the
commit loses nothing (the dispatcher finds the deliveries when it starts again). The
message's id (``msg_…``) is the ``webhook-id`` of every attempt, so a receiver drops a
message it already has. A delivery is claimed by moving its ``next_attempt_at`` a lease
ahead in one conditional update, so two workers never send the same attempt at once.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.functions import Max
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from ferryman.models import api_key as api_keys
from ferryman.models import app as apps
from ferryman.models import audit_event, ids
from ferryman.models import user as users
from ferryman.models.actor import Actor
from ferryman.models.errors import InvalidInput, NotFound
from ferryman.models.ids import MAX_LENGTH, new_id
from ferryman.models.webhook import (
    Event,
    Webhook,
    describe,
    get_visible,
    listeners,
    require_manager,
)

if TYPE_CHECKING:
    from ferryman.models.release import Release

# Standard Webhooks' schedule: the first attempt at once, then each of these after the
# one before failed; after the last, the delivery has failed for good.
RETRY_DELAYS = tuple(
    timedelta(seconds=s) for s in (5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400)
)
JITTER = 0.1  # each delay is moved by up to this share, so retries do not arrive in step
RETRY_AFTER_MAX = timedelta(hours=24)
ERROR_MAX = 500

_wakers: list[Callable[[], None]] = []


class DeliveryStatus(enum.Enum):
    PENDING = "PENDING"  # to be sent at next_attempt_at
    SUCCEEDED = "SUCCEEDED"  # the endpoint answered 2xx
    FAILED = "FAILED"  # every attempt failed, or the endpoint is gone


class Notification(Model):
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    type = fields.CharEnumField(Event, max_length=40)
    app_id = fields.CharField(max_length=MAX_LENGTH, null=True)  # outlives its app
    # Set for events found by a periodic check, so that two workers announce one once.
    dedupe_key = fields.CharField(max_length=160, null=True, unique=True)
    body = fields.TextField()  # the JSON sent: {"type", "timestamp", "data"}
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "notifications"

    @property
    def message(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


class Delivery(Model):
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    notification: fields.ForeignKeyRelation[Notification] = fields.ForeignKeyField(
        "models.Notification", related_name="deliveries", on_delete=fields.CASCADE
    )
    webhook: fields.ForeignKeyRelation[Webhook] = fields.ForeignKeyField(
        "models.Webhook", related_name="deliveries", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(DeliveryStatus, max_length=12, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_attempt_at = fields.DatetimeField(null=True)
    last_status_code = fields.IntField(null=True)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    notification_id: str
    webhook_id: str

    class Meta:
        table = "deliveries"
        indexes = (("status", "next_attempt_at"), ("webhook_id", "id"))


def on_emit(wake: Callable[[], None]) -> None:
    """Call ``wake`` whenever this process writes a delivery (the dispatcher looks
    sooner than its next poll; the delivery is there once the change commits)."""
    _wakers.append(wake)


def off_emit(wake: Callable[[], None]) -> None:
    if wake in _wakers:
        _wakers.remove(wake)


async def emit(
    event: Event,
    app_id: str | None,
    data: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    only: Webhook | None = None,
) -> Notification | None:
    """Write the message and a delivery to each endpoint listening (or to ``only``);
    call inside the transaction that makes the change. Nothing is written, and None
    returned, when no endpoint listens."""
    targets = [only] if only else [w for w in await listeners(event, app_id) if w.listens(event)]
    if not targets:
        return None
    now = datetime.now(UTC)
    body = {"type": event.value, "timestamp": iso(now), "data": data}
    notification = await Notification.create(
        id=new_id("msg"),
        type=event,
        app_id=app_id,
        dedupe_key=dedupe_key,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
    )
    for endpoint in targets:
        await _deliver(notification.id, endpoint.id, now)
    return notification


async def emit_once(
    event: Event, app_id: str | None, data: dict[str, Any], dedupe_key: str
) -> Notification | None:
    """Emit, in a transaction of its own (never inside another), unless a message with
    ``dedupe_key`` exists: for periodic checks, which every worker runs. None when it
    was announced already (here, or by a worker that got there first) or nobody listens."""
    try:
        async with in_transaction():
            return await emit(event, app_id, data, dedupe_key=dedupe_key)
    except IntegrityError:  # the unique dedupe_key: another worker committed it first
        return None


async def announced(dedupe_keys: list[str]) -> set[str]:
    """Which of these keys a message was emitted with already."""
    found = await Notification.filter(dedupe_key__in=dedupe_keys).values_list(
        "dedupe_key", flat=True
    )
    return {str(key) for key in found}


async def emit_release(event: Event, actor: Actor, release: Release, **extra: object) -> None:
    """Emit ``event`` about ``release`` (its app's and its own facts, and who acted)."""
    app = await apps.App.get(id=release.app_id)
    data = {
        "app": about_app(app),
        "release": {
            "id": release.id,
            "version": release.version,
            "channel": release.channel,
            "status": release.status.value,
            "rollout_percent": release.rollout_percent,
        },
        "actor": await describe_actor(actor),
        **extra,
    }
    await emit(event, app.id, data)


def about_app(app: apps.App) -> dict[str, str]:
    return {"id": app.id, "slug": app.slug, "name": app.name}


async def send_test(actor: Actor, webhook_id: str) -> Delivery:
    """A ``webhook.test`` message to one endpoint, whatever it listens to."""
    require_manager(actor, "sending a test notification")
    endpoint = await get_visible(actor, webhook_id, ("input", "id"))
    _require_enabled(endpoint, "sending it a test message", ("input", "id"))
    data = {"webhook_id": endpoint.id, "actor": await describe_actor(actor)}
    async with in_transaction():
        notification = await emit(Event.TEST, endpoint.app_id, data, only=endpoint)
        await audit_event.record(
            actor,
            "webhook.test",
            endpoint.id,
            endpoint.app_id,
            f"sent a test message to {describe(endpoint)}",
        )
    assert notification is not None  # a test message has its one endpoint
    return await Delivery.get(notification_id=notification.id)


async def replay(actor: Actor, delivery_id: str) -> Delivery:
    """Send a delivery's message again (same ``webhook-id``), as a new delivery."""
    require_manager(actor, "replaying a notification")
    field = ("input", "id")
    delivery = await get_delivery(actor, delivery_id, field)
    endpoint = await delivery.webhook
    _require_enabled(endpoint, "replaying", field)
    async with in_transaction():
        again = await _deliver(delivery.notification_id, endpoint.id, datetime.now(UTC))
        await audit_event.record(
            actor,
            "delivery.replay",
            again.id,
            endpoint.app_id,
            f"replayed message {delivery.notification_id} to {describe(endpoint)}",
        )
    return again


def _require_enabled(endpoint: Webhook, doing: str, field: tuple[str, ...]) -> None:
    if not endpoint.enabled:
        raise InvalidInput(
            "the endpoint is disabled"
            + (f" ({endpoint.disabled_reason})" if endpoint.disabled_reason else "")
            + f"; enable it before {doing}",
            field,
        )


async def get_delivery(
    actor: Actor, delivery_id: str, field: tuple[str, ...] = ("id",)
) -> Delivery:
    """A delivery to an endpoint the actor may see; any other is not found."""
    delivery = await Delivery.get_or_none(id=ids.require(delivery_id, "dlv", field))
    try:
        if delivery is not None:
            await get_visible(actor, delivery.webhook_id)
            return delivery
    except NotFound:
        pass  # the endpoint is not theirs: nor is the delivery, and its endpoint stays unnamed
    raise NotFound(f"delivery {delivery_id[:40]} not found", field)


def deliveries_of(endpoint: Webhook) -> QuerySet[Delivery]:
    return Delivery.filter(webhook_id=endpoint.id)


async def latest_deliveries(webhook_ids: list[str]) -> dict[str, Delivery]:
    """The newest delivery of each endpoint that has one: what a list of endpoints shows
    as their health (two queries, however many endpoints)."""
    newest = (
        await Delivery.filter(webhook_id__in=webhook_ids)
        .group_by("webhook_id")
        .annotate(newest=Max("id"))
        .values_list("newest", flat=True)
    )
    return {d.webhook_id: d for d in await Delivery.filter(id__in=list(newest))}


async def due(now: datetime, limit: int) -> list[Delivery]:
    """Deliveries whose next attempt is due, oldest first, with their endpoints."""
    return (
        await Delivery.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .limit(limit)
        .prefetch_related("webhook")
    )


async def take(delivery: Delivery, until: datetime) -> bool:
    """Claim a due delivery until ``until`` (its lease): moved there in one conditional
    update, which only one claimer wins. False when another claimed it first."""
    won = await Delivery.filter(
        id=delivery.id,
        status=DeliveryStatus.PENDING,
        next_attempt_at=delivery.next_attempt_at,
    ).update(next_attempt_at=until)
    return bool(won)


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """How one attempt went: ``ok``, or why not (the HTTP status when there was one)."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: timedelta | None = None  # what the endpoint asked for


async def record(
    delivery: Delivery, now: datetime, attempt: Attempt, rng: random.Random | None = None
) -> Delivery:
    """Write an attempt's outcome: done when it went through, else the next attempt by
    the schedule (later when the endpoint asked with Retry-After), or failed after the
    last."""
    attempts = delivery.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_attempt_at": now,
        "last_status_code": attempt.status_code,
        "last_error": None if attempt.ok else (attempt.error or "")[:ERROR_MAX],
    }
    if attempt.ok:
        values["status"] = DeliveryStatus.SUCCEEDED
    elif attempts > len(RETRY_DELAYS):
        values["status"] = DeliveryStatus.FAILED
    else:
        values["next_attempt_at"] = now + next_delay(attempts, attempt.retry_after, rng)
    await Delivery.filter(id=delivery.id).update(**values)
    return await Delivery.get(id=delivery.id)


async def fail_all(webhook_id: str, reason: str) -> None:
    """Give up every pending delivery of an endpoint that is gone."""
    await Delivery.filter(webhook_id=webhook_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, last_error=reason[:ERROR_MAX]
    )


def next_delay(
    attempts: int, retry_after: timedelta | None, rng: random.Random | None = None
) -> timedelta:
    """How long to wait after the ``attempts``-th attempt failed."""
    delay = RETRY_DELAYS[attempts - 1]
    delay *= 1 + (rng or random).uniform(-JITTER, JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_MAX))
    return delay


async def describe_actor(actor: Actor) -> dict[str, str | None]:
    """Who acted, as a message names them: a person's email, a key's name."""
    if actor.user_id is not None:
        user = await users.User.get_or_none(id=actor.user_id)
        return {"kind": "person", "id": actor.user_id, "name": user.email if user else None}
    if actor.key_id is not None:
        key = await api_keys.ApiKey.get_or_none(id=actor.key_id)
        return {"kind": "api_key", "id": actor.key_id, "name": key.name if key else None}
    return {"kind": "server", "id": None, "name": "Ferryman"}


async def _deliver(notification_id: str, webhook_id: str, now: datetime) -> Delivery:
    delivery = await Delivery.create(
        id=new_id("dlv"),
        notification_id=notification_id,
        webhook_id=webhook_id,
        next_attempt_at=now,
    )
    for wake in _wakers:
        wake()
    return delivery


def iso(moment: datetime) -> str:
    """A moment as messages write it: UTC, with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
