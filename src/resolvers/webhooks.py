"""Notification endpoints in the GraphQL API: webhooks (and Slack, Discord, email), their
deliveries, and the mutations that manage them (admins only).

The rules (who manages which endpoint, which URLs may be reached, what a secret is) live
in ``models/webhook.py`` and ``models/notification.py``; this module translates. A
webhook's signing secret is in a payload once, when it is made or rotated, and on no type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

import strawberry

from ferryman import models
from ferryman.models import notification as notifications
from ferryman.models import webhook as webhooks
from ferryman.models.errors import DomainError, Forbidden
from ferryman.models.notification import DeliveryStatus
from ferryman.models.webhook import Event, Kind
from ferryman.resolvers.apps import App
from ferryman.resolvers.context import Info
from ferryman.resolvers.errors import Payload, UserErrors
from ferryman.resolvers.node import Node
from ferryman.resolvers.pagination import Connection, paginate

strawberry.enum(Event, name="NotificationEvent", description="What happened; a message's type.")
strawberry.enum(Kind, name="WebhookKind", description="How an endpoint is sent its messages.")
strawberry.enum(DeliveryStatus, name="DeliveryStatus")


def _endpoint_id() -> strawberry.ID:
    field: strawberry.ID = strawberry.field(description="The endpoint's id (whk_…).")
    return field


@strawberry.type(
    description="Where Ferryman tells people what happened: a signed webhook, a Slack or "
    "Discord incoming webhook, or email recipients; for one app, or (without one) every app."
)
class Webhook(Node):
    kind: Kind
    url: str | None = strawberry.field(
        description=(
            "Where messages are posted, as people may see it: a Slack or Discord URL (its own "
            "credential) as its host and last four characters, a webhook's without its query; "
            "null for EMAIL."
        )
    )
    recipients: list[str] = strawberry.field(description="EMAIL: the addresses; else empty.")
    events: list[Event] = strawberry.field(
        description="The events it listens to; empty: every event."
    )
    max_in_flight: int = strawberry.field(
        description="How many messages may be on their way to it at once."
    )
    enabled: bool
    disabled_reason: str | None = strawberry.field(
        description="Why Ferryman stopped sending to it (the receiver said it is gone)."
    )
    previous_secret_until: datetime | None = strawberry.field(
        description="After a rotation, messages are signed with the previous secret too until then."
    )
    created_at: datetime
    updated_at: datetime
    app_id: strawberry.Private[str | None]

    @classmethod
    def from_model(cls, endpoint: models.Webhook) -> Self:
        return cls(
            id=strawberry.ID(endpoint.id),
            kind=endpoint.kind,
            url=endpoint.shown_url,
            recipients=endpoint.addresses,
            events=[Event(name) for name in endpoint.events],
            max_in_flight=endpoint.max_in_flight,
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            previous_secret_until=endpoint.previous_until if endpoint.previous_secret else None,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
            app_id=endpoint.app_id,
        )

    @strawberry.field(description="Its app; null for an endpoint that hears every app.")
    async def app(self, info: Info) -> App | None:
        if self.app_id is None:
            return None
        app = await info.context.loaders.app.load(self.app_id)
        return App.from_model(app) if app else None

    @strawberry.field(description="Messages sent (or to be sent) to it, newest first.")
    async def deliveries(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Delivery]:
        rows = models.Delivery.filter(webhook_id=self.id)
        return await paginate(
            rows, first, after, Delivery.from_model, max_page=info.context.max_page_size
        )

    @strawberry.field(description="Its newest delivery: how it is doing.")
    async def last_delivery(self, info: Info) -> Delivery | None:
        delivery = await info.context.loaders.latest_delivery.load(self.id)
        return Delivery.from_model(delivery) if delivery else None


@strawberry.type(description="One message on its way to one endpoint, and how that went.")
class Delivery(Node):
    notification_id: strawberry.ID = strawberry.field(
        description="The message's id (msg_…), sent as the webhook-id header: the same on "
        "every attempt and replay, so a receiver can drop a message it already has."
    )
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = strawberry.field(
        description="When it is tried next; null once it succeeded or failed for good."
    )
    last_attempt_at: datetime | None
    last_status_code: int | None = strawberry.field(
        description="The HTTP status the endpoint last answered."
    )
    last_error: str | None
    created_at: datetime
    webhook_id: strawberry.Private[str]

    @classmethod
    def from_model(cls, delivery: models.Delivery) -> Self:
        pending = delivery.status is DeliveryStatus.PENDING
        return cls(
            id=strawberry.ID(delivery.id),
            notification_id=strawberry.ID(delivery.notification_id),
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at if pending else None,
            last_attempt_at=delivery.last_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            webhook_id=delivery.webhook_id,
        )

    @strawberry.field
    async def webhook(self, info: Info) -> Webhook:
        endpoint = await info.context.loaders.webhook.load(self.webhook_id)
        assert endpoint is not None  # a delivery goes with its endpoint
        return Webhook.from_model(endpoint)

    @strawberry.field(description="The message's type.")
    async def event_type(self, info: Info) -> Event:
        return (await self._notification(info)).type

    @strawberry.field(
        description='The message as JSON text, {"type", "timestamp", "data"}: the body a '
        "WEBHOOK endpoint receives."
    )
    async def payload(self, info: Info) -> str:
        return (await self._notification(info)).body

    async def _notification(self, info: Info) -> models.Notification:
        notification = await info.context.loaders.notification.load(self.notification_id)
        assert notification is not None  # a delivery goes with its message
        return notification


@strawberry.input
class WebhookCreateInput:
    app_id: strawberry.ID | None = strawberry.field(
        default=None, description="The app whose events it hears; omit for every app."
    )
    kind: Kind
    url: str | None = strawberry.field(
        default=None, description="Every kind but EMAIL: the http(s) URL to post to."
    )
    recipients: list[str] | None = strawberry.field(
        default=None,
        description=f"EMAIL: 1 to {webhooks.RECIPIENTS_MAX} addresses to send to.",
    )
    events: list[Event] | None = strawberry.field(
        default=None, description="The events to hear; omitted or empty: every event."
    )
    max_in_flight: int | None = strawberry.field(
        default=None, description=f"1 to {webhooks.IN_FLIGHT_MAX}; default 4."
    )


@strawberry.input(description="Fields to change; omitted fields keep their value.")
class WebhookUpdateInput:
    id: strawberry.ID = _endpoint_id()
    url: str | None = None
    recipients: list[str] | None = None
    events: list[Event] | None = strawberry.field(default=None, description="Empty: every event.")
    max_in_flight: int | None = strawberry.field(
        default=None, description=f"1 to {webhooks.IN_FLIGHT_MAX}."
    )
    enabled: bool | None = strawberry.field(
        default=None,
        description="false: no new message is written for it; true: it hears events again.",
    )


@strawberry.input
class WebhookRotateSecretInput:
    id: strawberry.ID = _endpoint_id()


@strawberry.input
class WebhookDeleteInput:
    id: strawberry.ID = _endpoint_id()


@strawberry.input
class WebhookTestInput:
    id: strawberry.ID = _endpoint_id()


@strawberry.input
class DeliveryReplayInput:
    id: strawberry.ID = strawberry.field(description="The delivery's id (dlv_…).")


def _secret() -> str | None:
    field: str | None = strawberry.field(
        default=None,
        description="WEBHOOK only: the signing secret (whsec_…). Shown only in this "
        "response: store it with the receiver now.",
    )
    return field


@strawberry.type
class WebhookCreatePayload(Payload):
    webhook: Webhook | None = None
    secret: str | None = _secret()


@strawberry.type
class WebhookUpdatePayload(Payload):
    webhook: Webhook | None = None


@strawberry.type
class WebhookRotateSecretPayload(Payload):
    webhook: Webhook | None = None
    secret: str | None = _secret()


@strawberry.type
class WebhookDeletePayload(Payload):
    deleted_webhook_id: strawberry.ID | None = None


@strawberry.type
class WebhookTestPayload(Payload):
    delivery: Delivery | None = None


@strawberry.type
class DeliveryReplayPayload(Payload):
    delivery: Delivery | None = None


async def get_node(info: Info, node_id: str) -> Webhook | None:
    try:
        return Webhook.from_model(await webhooks.get_visible(info.context.actor, node_id))
    except (DomainError, Forbidden):
        return None


async def get_delivery_node(info: Info, node_id: str) -> Delivery | None:
    try:
        return Delivery.from_model(await notifications.get_delivery(info.context.actor, node_id))
    except (DomainError, Forbidden):
        return None


@strawberry.type
class WebhookQuery:
    @strawberry.field(
        description="Notification endpoints, newest first (admins and viewers): an app's, "
        "or every one you may see."
    )
    async def webhooks(
        self,
        info: Info,
        app_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this app's; omit for all (global ones too)."),
        ] = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Webhook]:
        rows = webhooks.visible(info.context.actor, app_id)
        return await paginate(
            rows, first, after, Webhook.from_model, max_page=info.context.max_page_size
        )


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Add an endpoint; for a WEBHOOK, the payload carries its secret once.",
    )
    async def webhook_create(self, info: Info, input: WebhookCreateInput) -> WebhookCreatePayload:
        endpoint, secret = await webhooks.create(
            info.context.actor,
            input.app_id,
            input.kind,
            _changes(input),
            allow_private=info.context.settings.webhooks_allow_private,
        )
        return WebhookCreatePayload(webhook=Webhook.from_model(endpoint), secret=secret)

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Change an endpoint, or disable it (enabled: false) and enable it again.",
    )
    async def webhook_update(self, info: Info, input: WebhookUpdateInput) -> WebhookUpdatePayload:
        endpoint = await webhooks.update(
            info.context.actor,
            input.id,
            _changes(input, enabled=input.enabled),
            allow_private=info.context.settings.webhooks_allow_private,
        )
        return WebhookUpdatePayload(webhook=Webhook.from_model(endpoint))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="A new secret for a WEBHOOK, shown once; messages are signed with the "
        "previous one too for a day, so the receiver can switch without losing one.",
    )
    async def webhook_rotate_secret(
        self, info: Info, input: WebhookRotateSecretInput
    ) -> WebhookRotateSecretPayload:
        endpoint, secret = await webhooks.rotate_secret(info.context.actor, input.id)
        return WebhookRotateSecretPayload(webhook=Webhook.from_model(endpoint), secret=secret)

    @strawberry.mutation(
        extensions=[UserErrors()], description="Delete an endpoint and its deliveries."
    )
    async def webhook_delete(self, info: Info, input: WebhookDeleteInput) -> WebhookDeletePayload:
        deleted = await webhooks.delete(info.context.actor, input.id)
        return WebhookDeletePayload(deleted_webhook_id=strawberry.ID(deleted))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Send the endpoint a webhook.test message, whatever it listens to.",
    )
    async def webhook_test(self, info: Info, input: WebhookTestInput) -> WebhookTestPayload:
        delivery = await notifications.send_test(info.context.actor, input.id)
        return WebhookTestPayload(delivery=Delivery.from_model(delivery))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Send a delivery's message again, as a new delivery with the same "
        "notificationId; refused while its endpoint is disabled.",
    )
    async def delivery_replay(
        self, info: Info, input: DeliveryReplayInput
    ) -> DeliveryReplayPayload:
        delivery = await notifications.replay(info.context.actor, input.id)
        return DeliveryReplayPayload(delivery=Delivery.from_model(delivery))


def _changes(
    input: WebhookCreateInput | WebhookUpdateInput, *, enabled: bool | None = None
) -> webhooks.WebhookChanges:
    return webhooks.WebhookChanges(
        url=input.url,
        recipients=input.recipients,
        events=None if input.events is None else [event.value for event in input.events],
        max_in_flight=input.max_in_flight,
        enabled=enabled,
    )
