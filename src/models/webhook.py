"""Notification endpoints: where Ferryman tells people what happened.

An endpoint belongs to one app or, with no app, hears every app. It is a signed webhook
(Standard Webhooks), a Slack or Discord incoming webhook, or a list of email addresses;
it listens to chosen events (none chosen: all of them). A webhook's ``whsec_`` secret is
shown once; rotating it keeps the old one signing beside the new for a day, so receivers
can switch without losing a message.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from ferryman.models import app as apps
from ferryman.models import audit_event, ids
from ferryman.models.actor import Actor
from ferryman.models.errors import InvalidInput, NotFound
from ferryman.models.ids import MAX_LENGTH, new_id
from ferryman.models.text import reject_text
from ferryman.models.webhook_target import require_public_url

if TYPE_CHECKING:
    from ferryman.models.app import App

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
ROTATION_OVERLAP = timedelta(hours=24)
RECIPIENTS_MAX = 20
IN_FLIGHT_MAX = 16
_EMAIL = re.compile(r"[^@\s,;<>\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")


class Event(enum.StrEnum):
    """What an endpoint may listen to; the value is the message's ``type``."""

    RELEASE_PUBLISHED = "release.published"
    RELEASE_ARCHIVED = "release.archived"
    RELEASE_YANKED = "release.yanked"
    RELEASE_ROLLED_BACK = "release.rolled_back"
    RELEASE_ROLLOUT_CHANGED = "release.rollout_changed"
    RELEASE_HALTED = "release.halted"
    CI_SUBMISSION_FAILED = "ci.submission_failed"
    ARTIFACT_VERIFICATION_FAILED = "artifact.verification_failed"
    LICENSE_EXPIRING = "license.expiring"
    LICENSE_EXPIRED = "license.expired"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    TEST = "webhook.test"  # sent to one endpoint on request, whatever it listens to


class Kind(enum.Enum):
    """How a message is sent: its format and its transport."""

    WEBHOOK = "WEBHOOK"  # Standard Webhooks: JSON body, signed headers
    SLACK = "SLACK"  # a Slack incoming webhook: {"text", "blocks"}
    DISCORD = "DISCORD"  # a Discord webhook: {"content", "embeds"}
    EMAIL = "EMAIL"  # SMTP, to the endpoint's recipients


class Webhook(Model):
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    app: fields.ForeignKeyNullableRelation[App] = fields.ForeignKeyField(
        "models.App", related_name="webhooks", null=True, on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(Kind, max_length=8)
    url = fields.TextField(null=True)  # every kind but EMAIL
    recipients = fields.TextField(null=True)  # EMAIL: addresses, comma-separated
    events: list[str] = fields.JSONField(default=list)  # Event values; empty: every event
    secret = fields.CharField(max_length=80, null=True)  # WEBHOOK only
    previous_secret = fields.CharField(max_length=80, null=True)
    previous_until = fields.DatetimeField(null=True)
    max_in_flight = fields.IntField(default=4)
    enabled = fields.BooleanField(default=True)
    disabled_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    app_id: str | None

    class Meta:
        table = "webhooks"
        indexes = (("app_id",),)

    def listens(self, event: Event) -> bool:
        return not self.events or event.value in self.events

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous
        one for a day after a rotation."""
        if self.secret is None:
            return []
        keep = self.previous_secret and self.previous_until and self.previous_until > now
        return [self.secret, *([self.previous_secret] if keep and self.previous_secret else [])]

    @property
    def shown_url(self) -> str | None:
        """The URL as people see it: a Slack or Discord URL is its own credential (whoever
        holds it may post), so only its host and last four characters are shown; a
        webhook's query string may hold a token, so it is left out."""
        if self.url is None:
            return None
        parts = urlsplit(self.url)
        if self.kind in (Kind.SLACK, Kind.DISCORD):
            return f"{parts.scheme}://{parts.netloc}/…{self.url[-4:]}"
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "…" if parts.query else "", ""))

    @property
    def addresses(self) -> list[str]:
        return [a for a in (self.recipients or "").split(",") if a]


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookChanges:
    """What a create or an update sets; None leaves a field as it is (or its default)."""

    url: str | None = None
    recipients: list[str] | None = None
    events: list[str] | None = None
    max_in_flight: int | None = None
    enabled: bool | None = None


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def require_manager(actor: Actor, action: str = "managing notifications") -> None:
    actor.require_admin(action)


def visible(actor: Actor, app_id: str | None = None) -> QuerySet[Webhook]:
    """Endpoints an admin may list: an app's (and, for a global admin, the global ones),
    or, without ``app_id``, all it may see."""
    actor.require_reader("listing notification endpoints")
    endpoints = Webhook.all()
    if actor.apps is not None:
        endpoints = endpoints.filter(app_id__in=actor.apps)
    if app_id is not None:
        endpoints = endpoints.filter(app_id=ids.require(app_id, "app", ("appId",)))
    return endpoints


async def get_visible(actor: Actor, webhook_id: str, field: tuple[str, ...] = ("id",)) -> Webhook:
    """One endpoint an admin (or a viewer) may see; a CI key sees none, even a global one."""
    actor.require_reader("reading notification endpoints")
    endpoint = await Webhook.get_or_none(id=ids.require(webhook_id, "whk", field))
    if endpoint is None or not _manages(actor, endpoint.app_id):
        raise NotFound(f"notification endpoint {webhook_id} not found", field)
    return endpoint


def listeners(event: Event, app_id: str | None) -> QuerySet[Webhook]:
    """The enabled endpoints an event of ``app_id`` reaches (those of the app and the
    global ones); :meth:`Webhook.listens` picks by event."""
    reach = Q(app_id=None) if app_id is None else Q(app_id=None) | Q(app_id=app_id)
    return Webhook.filter(reach, enabled=True)


async def create(
    actor: Actor, app_id: str | None, kind: Kind, changes: WebhookChanges, *, allow_private: bool
) -> tuple[Webhook, str | None]:
    """A new endpoint, and its secret (WEBHOOK only) to show once."""
    require_manager(actor, "creating a notification endpoint")
    if app_id is not None:
        app_id = (await apps.get_visible(actor, app_id, ("input", "appId"))).id
    elif not actor.is_global:
        raise InvalidInput(
            f"this {actor.kind} is limited to chosen apps, so its endpoints must belong to "
            "one of them: set input.appId",
            ("input", "appId"),
        )
    values = await _validated(kind, changes, allow_private=allow_private, creating=True)
    secret = new_secret() if kind is Kind.WEBHOOK else None
    async with in_transaction():
        endpoint = Webhook(id=new_id("whk"), app_id=app_id, kind=kind, secret=secret)
        endpoint.update_from_dict(values)
        await endpoint.save()
        await audit_event.record(
            actor,
            "webhook.create",
            endpoint.id,
            app_id,
            f"created {kind.value.lower()} endpoint {describe(endpoint)}",
        )
    return endpoint, secret


async def update(
    actor: Actor, webhook_id: str, changes: WebhookChanges, *, allow_private: bool
) -> Webhook:
    require_manager(actor, "changing a notification endpoint")
    endpoint = await get_visible(actor, webhook_id, ("input", "id"))
    values = await _validated(endpoint.kind, changes, allow_private=allow_private, creating=False)
    if changes.enabled is not None:
        values["enabled"] = changes.enabled
        if changes.enabled:
            values["disabled_reason"] = None
    if not values:
        return endpoint
    async with in_transaction():
        await Webhook.filter(id=endpoint.id).update(**values, updated_at=datetime.now(UTC))
        await audit_event.record(
            actor,
            "webhook.update",
            endpoint.id,
            endpoint.app_id,
            f"changed {', '.join(sorted(values))} of endpoint {describe(endpoint)}",
        )
    return await Webhook.get(id=endpoint.id)


async def rotate_secret(actor: Actor, webhook_id: str) -> tuple[Webhook, str]:
    """A new secret; the old one goes on signing beside it for ROTATION_OVERLAP."""
    require_manager(actor, "rotating a webhook secret")
    endpoint = await get_visible(actor, webhook_id, ("input", "id"))
    if endpoint.kind is not Kind.WEBHOOK:
        raise InvalidInput(
            f"a {endpoint.kind.value} endpoint has no secret; only WEBHOOK endpoints are signed",
            ("input", "id"),
        )
    secret = new_secret()
    async with in_transaction():
        await Webhook.filter(id=endpoint.id).update(
            secret=secret,
            previous_secret=endpoint.secret,
            previous_until=datetime.now(UTC) + ROTATION_OVERLAP,
            updated_at=datetime.now(UTC),
        )
        await audit_event.record(
            actor,
            "webhook.rotate_secret",
            endpoint.id,
            endpoint.app_id,
            f"rotated the secret of {describe(endpoint)}",
        )
    return await Webhook.get(id=endpoint.id), secret


async def delete(actor: Actor, webhook_id: str) -> str:
    """Delete an endpoint and its deliveries; returns its id."""
    require_manager(actor, "deleting a notification endpoint")
    endpoint = await get_visible(actor, webhook_id, ("input", "id"))
    async with in_transaction():
        await audit_event.record(
            actor,
            "webhook.delete",
            endpoint.id,
            endpoint.app_id,
            f"deleted endpoint {describe(endpoint)}",
        )
        await endpoint.delete()
    return endpoint.id


async def disable(webhook_id: str, reason: str) -> None:
    """Stop sending to an endpoint that said it is gone (HTTP 410)."""
    await Webhook.filter(id=webhook_id).update(
        enabled=False, disabled_reason=reason[:500], updated_at=datetime.now(UTC)
    )


def describe(endpoint: Webhook) -> str:
    """The endpoint as people recognise it: its host, or its recipients."""
    if endpoint.kind is Kind.EMAIL:
        return ", ".join(endpoint.addresses)
    return f"{urlsplit(endpoint.url or '').netloc or endpoint.shown_url} ({endpoint.id})"


async def _validated(
    kind: Kind, changes: WebhookChanges, *, allow_private: bool, creating: bool
) -> dict[str, object]:
    values: dict[str, object] = {}
    if kind is Kind.EMAIL:
        if changes.url is not None:
            raise InvalidInput("an EMAIL endpoint has recipients, not a URL", ("input", "url"))
        if changes.recipients is not None or creating:
            values["recipients"] = ",".join(_recipients(changes.recipients or []))
    else:
        if changes.recipients is not None:
            raise InvalidInput(
                f"a {kind.value} endpoint has a URL, not recipients", ("input", "recipients")
            )
        if changes.url is not None or creating:
            values["url"] = await require_public_url(
                changes.url or "", ("input", "url"), allow_private=allow_private
            )
    if changes.events is not None:
        values["events"] = _events(changes.events)
    if changes.max_in_flight is not None:
        if not 1 <= changes.max_in_flight <= IN_FLIGHT_MAX:
            raise InvalidInput(
                f"maxInFlight must be from 1 to {IN_FLIGHT_MAX}, got {changes.max_in_flight}",
                ("input", "maxInFlight"),
            )
        values["max_in_flight"] = changes.max_in_flight
    return values


def _recipients(given: list[str]) -> list[str]:
    field = ("input", "recipients")
    cleaned = [address.strip() for address in given if address.strip()]
    if not cleaned:
        raise InvalidInput("give at least one email address to send to", field)
    if len(cleaned) > RECIPIENTS_MAX:
        raise InvalidInput(f"at most {RECIPIENTS_MAX} recipients per endpoint", field)
    for address in cleaned:
        reject_text(address, field)
        if not _EMAIL.fullmatch(address):
            raise InvalidInput(
                f"{address[:80]!r} is not an email address (name@example.com)", field
            )
    return list(dict.fromkeys(cleaned))


def _events(given: list[str]) -> list[str]:
    known = {event.value for event in Event if event is not Event.TEST}
    unknown = [name for name in given if name not in known]
    if unknown:
        raise InvalidInput(
            f"{unknown[0][:60]!r} is not an event; choose from {', '.join(sorted(known))} "
            "(or none, for all of them)",
            ("input", "events"),
        )
    return sorted(set(given))


def _manages(actor: Actor, app_id: str | None) -> bool:
    # Admins of chosen apps manage those apps' endpoints, never the global ones.
    return actor.is_global or (app_id is not None and actor.sees(app_id))
