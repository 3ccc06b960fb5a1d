"""The console's notification endpoints: an app's (its Notifications tab) and those that
hear every app (``/console/notifications``), each with its deliveries. Creating one (a
webhook's secret shown once), changing, disabling and enabling it, rotating its secret
(shown once), sending a test message, replaying a delivery and deleting it all go
through the rules GraphQL calls."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ferryman.console import paths
from ferryman.console.pages import Pages, app_of, choice, field_errors, form_of, next_page, text
from ferryman.console.sessions import Visitor
from ferryman.models import keyset
from ferryman.models import notification as notifications
from ferryman.models import webhook as webhooks
from ferryman.models.actor import permits
from ferryman.models.app import App
from ferryman.models.errors import DomainError, InvalidInput, NotFound
from ferryman.models.webhook import Event, Kind, Webhook
from ferryman.settings import Settings

NOTIFICATIONS = f"{paths.MOUNT}/notifications"
PAGE_SIZE = 50
_FIELDS = ("kind", "url", "recipients", "events", "maxInFlight")
_DONE = {
    "created": "Created: it hears the events you chose from now on.",
    "saved": "Saved.",
    "enabled": "Enabled: it hears events again.",
    "disabled": "Disabled: no new message is written for it until it is enabled.",
    "tested": "A test message is on its way; its delivery is listed below.",
    "replayed": "The message is on its way again, as a new delivery listed below.",
    "deleted": "Deleted the endpoint and its deliveries.",
}
KINDS = {
    Kind.WEBHOOK: "Webhook (signed, Standard Webhooks)",
    Kind.SLACK: "Slack incoming webhook",
    Kind.DISCORD: "Discord webhook",
    Kind.EMAIL: "Email",
}
EVENTS = {
    Event.RELEASE_PUBLISHED: "a release is published",
    Event.RELEASE_ARCHIVED: "a release is archived",
    Event.RELEASE_YANKED: "a release is yanked",
    Event.RELEASE_ROLLED_BACK: "a channel is rolled back",
    Event.RELEASE_ROLLOUT_CHANGED: "a rollout's percentage changes",
    Event.RELEASE_HALTED: "a health gate halts a rollout",
    Event.CI_SUBMISSION_FAILED: "a CI submission fails",
    Event.ARTIFACT_VERIFICATION_FAILED: "an uploaded file fails its checks",
    Event.LICENSE_EXPIRING: "a licence is about to expire",
    Event.LICENSE_EXPIRED: "a licence has expired",
    Event.API_KEY_CREATED: "an API key is created",
    Event.API_KEY_REVOKED: "an API key is revoked",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Place:
    """Where endpoints are listed: an app's tab, or (no app) the page of those that hear
    every app."""

    app: App | None

    @property
    def app_id(self) -> str | None:
        return self.app.id if self.app else None

    @property
    def path(self) -> str:
        return f"{paths.HOME}/{self.app.slug}/notifications" if self.app else NOTIFICATIONS

    def context(self) -> dict[str, Any]:
        layout = "app_base.html" if self.app else "notifications_frame.html"
        return {"current_app": self.app, "layout": layout, "place": self.path}


class NotificationPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def routes(self) -> list[BaseRoute]:
        signed_in = self.pages.signed_in
        routes: list[BaseRoute] = []
        for base in ("/apps/{slug}/notifications", "/notifications"):
            one = base + "/{webhook_id}"
            routes += [
                Route(base, signed_in(self.index), methods=["GET"]),
                Route(base, signed_in(self.create), methods=["POST"]),
                Route(one, signed_in(self.show), methods=["GET"]),
                Route(one, signed_in(self.update), methods=["POST"]),
                Route(one + "/enable", signed_in(self.enable), methods=["POST"]),
                Route(one + "/disable", signed_in(self.disable), methods=["POST"]),
                Route(one + "/rotate", signed_in(self.rotate), methods=["POST"]),
                Route(one + "/test", signed_in(self.test), methods=["POST"]),
                Route(one + "/delete", signed_in(self.delete), methods=["POST"]),
                Route(
                    one + "/deliveries/{delivery_id}/replay",
                    signed_in(self.replay),
                    methods=["POST"],
                ),
            ]
        return routes

    async def index(self, request: Request, visitor: Visitor) -> Response:
        notice = _DONE.get(request.query_params.get("done", ""))
        place = await _place(request, visitor)
        return await self._index(request, visitor, place, {}, notice=notice)

    async def create(self, request: Request, visitor: Visitor) -> Response:
        place = await _place(request, visitor)
        form = await form_of(request)
        try:
            kind = choice(Kind, text(form, "kind"), ("input", "kind"))
            endpoint, secret = await webhooks.create(
                visitor.actor,
                place.app_id,
                kind,
                _changes(form, kind),
                allow_private=_settings(request).webhooks_allow_private,
            )
        except DomainError as error:
            errors = field_errors(error, *_FIELDS)
            return await self._index(request, visitor, place, errors, form, 400)
        if secret is None:
            return _done(place, endpoint, "created")
        created = {"endpoint": endpoint, "secret": secret}
        return await self._index(request, visitor, place, {}, created=created)

    async def show(self, request: Request, visitor: Visitor) -> Response:
        place, endpoint = await _endpoint(request, visitor)
        notice = _DONE.get(request.query_params.get("done", ""))
        return await self._show(request, visitor, place, endpoint, {}, notice=notice)

    async def update(self, request: Request, visitor: Visitor) -> Response:
        place, endpoint = await _endpoint(request, visitor)
        webhooks.require_manager(visitor.actor)  # before the form's fields are read
        form = await form_of(request)
        try:
            await webhooks.update(
                visitor.actor,
                endpoint.id,
                _changes(form, endpoint.kind),
                allow_private=_settings(request).webhooks_allow_private,
            )
        except DomainError as error:
            errors = field_errors(error, *_FIELDS)
            return await self._show(request, visitor, place, endpoint, errors, form, 400)
        return _done(place, endpoint, "saved")

    async def enable(self, request: Request, visitor: Visitor) -> Response:
        return await self._switch(request, visitor, enabled=True)

    async def disable(self, request: Request, visitor: Visitor) -> Response:
        return await self._switch(request, visitor, enabled=False)

    async def rotate(self, request: Request, visitor: Visitor) -> Response:
        place, endpoint = await _endpoint(request, visitor)
        try:
            endpoint, secret = await webhooks.rotate_secret(visitor.actor, endpoint.id)
        except DomainError as error:
            return await self._show(
                request, visitor, place, endpoint, field_errors(error), None, 400
            )
        return await self._show(request, visitor, place, endpoint, {}, secret=secret)

    async def test(self, request: Request, visitor: Visitor) -> Response:
        place, endpoint = await _endpoint(request, visitor)
        await notifications.send_test(visitor.actor, endpoint.id)
        return _done(place, endpoint, "tested")

    async def replay(self, request: Request, visitor: Visitor) -> Response:
        place, endpoint = await _endpoint(request, visitor)
        delivery_id = request.path_params["delivery_id"]
        delivery = await notifications.get_delivery(visitor.actor, delivery_id)
        if delivery.webhook_id != endpoint.id:
            raise NotFound(f"delivery {delivery_id[:40]} not found")
        try:
            await notifications.replay(visitor.actor, delivery.id)
        except DomainError as error:
            return await self._show(
                request, visitor, place, endpoint, field_errors(error), None, 400
            )
        return _done(place, endpoint, "replayed")

    async def delete(self, request: Request, visitor: Visitor) -> Response:
        place, endpoint = await _endpoint(request, visitor)
        await webhooks.delete(visitor.actor, endpoint.id)
        return RedirectResponse(f"{place.path}?done=deleted", 303)

    async def _switch(self, request: Request, visitor: Visitor, *, enabled: bool) -> Response:
        place, endpoint = await _endpoint(request, visitor)
        changes = webhooks.WebhookChanges(enabled=enabled)
        allow_private = _settings(request).webhooks_allow_private
        await webhooks.update(visitor.actor, endpoint.id, changes, allow_private=allow_private)
        return _done(place, endpoint, "enabled" if enabled else "disabled")

    async def _index(
        self,
        request: Request,
        visitor: Visitor,
        place: Place,
        errors: dict[str, str],
        form: FormData | None = None,
        status: int = 200,
        *,
        notice: str | None = None,
        created: dict[str, Any] | None = None,
    ) -> Response:
        listed = webhooks.visible(visitor.actor).filter(app_id=place.app_id)
        page = await keyset.page(listed, PAGE_SIZE, after=request.query_params.get("after"))
        latest = await notifications.latest_deliveries([w.id for w in page.rows])
        may_manage = permits(webhooks.require_manager, visitor.actor) and (
            place.app is not None or visitor.actor.is_global
        )
        context = {
            **place.context(),
            **_choices(),
            "rows": [(endpoint, latest.get(endpoint.id)) for endpoint in page.rows],
            "next_page": next_page(request, page.end_cursor),
            "values": _form_values(form) if form else {"kind": Kind.WEBHOOK.value, "events": []},
            "errors": errors,
            "notice": notice,
            "created": created,
            "may_manage": may_manage,
        }
        return await self.pages.render_for(request, "notifications.html", visitor, context, status)

    async def _show(
        self,
        request: Request,
        visitor: Visitor,
        place: Place,
        endpoint: Webhook,
        errors: dict[str, str],
        form: FormData | None = None,
        status: int = 200,
        *,
        notice: str | None = None,
        secret: str | None = None,
    ) -> Response:
        endpoint = await Webhook.get(id=endpoint.id)  # as it is now, after a refused change
        signing = endpoint.signing_secrets(datetime.now(UTC))
        found = notifications.deliveries_of(endpoint).select_related("notification")
        page = await keyset.page(found, PAGE_SIZE, after=request.query_params.get("after"))
        context = {
            **place.context(),
            **_choices(),
            "endpoint": endpoint,
            "deliveries": page.rows,
            "next_page": next_page(request, page.end_cursor),
            "values": _form_values(form) if form else _values_of(endpoint),
            "errors": errors,
            "notice": notice,
            "secret": secret,
            "overlap_until": endpoint.previous_until if len(signing) > 1 else None,
            "may_manage": permits(webhooks.require_manager, visitor.actor),
        }
        return await self.pages.render_for(request, "notification.html", visitor, context, status)


async def _place(request: Request, visitor: Visitor) -> Place:
    if "slug" in request.path_params:
        return Place(await app_of(request, visitor))
    return Place(None)


async def _endpoint(request: Request, visitor: Visitor) -> tuple[Place, Webhook]:
    """The path's place and its endpoint (one of another place is not found here)."""
    place = await _place(request, visitor)
    webhook_id = request.path_params["webhook_id"]
    endpoint = await webhooks.get_visible(visitor.actor, webhook_id)
    if endpoint.app_id != place.app_id:
        raise NotFound(f"notification endpoint {webhook_id[:40]} not found", ("id",))
    return place, endpoint


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _done(place: Place, endpoint: Webhook, what: str) -> Response:
    return RedirectResponse(f"{place.path}/{endpoint.id}?done={what}", 303)


def _changes(form: FormData, kind: Kind) -> webhooks.WebhookChanges:
    """What the form sets: the target its kind has (an empty field is no value, which the
    rules refuse as missing), the events ticked (none: every event), the limit if typed."""
    recipients = [part for part in re.split(r"[\r\n,;]+", text(form, "recipients")) if part.strip()]
    return webhooks.WebhookChanges(
        url=None if kind is Kind.EMAIL and not text(form, "url").strip() else text(form, "url"),
        recipients=recipients if kind is Kind.EMAIL or recipients else None,
        events=[value for value in form.getlist("events") if isinstance(value, str)],
        max_in_flight=_limit(text(form, "maxInFlight")),
    )


def _limit(value: str) -> int | None:
    if not value.strip():
        return None
    if not value.strip().isdigit():
        raise InvalidInput(
            f"maxInFlight {value[:20]!r} is not a whole number of messages",
            ("input", "maxInFlight"),
        )
    return int(value)


def _form_values(form: FormData) -> dict[str, Any]:
    """A posted form as its fields show it again (the events as the list ticked)."""
    return {**{key: text(form, key) for key in form}, "events": form.getlist("events")}


def _values_of(endpoint: Webhook) -> dict[str, Any]:
    return {
        "url": endpoint.url or "",
        "recipients": "\n".join(endpoint.addresses),
        "events": endpoint.events,
        "maxInFlight": str(endpoint.max_in_flight),
    }


def _choices() -> Mapping[str, Any]:
    return {
        "kinds": KINDS,
        "events": {
            event.value: EVENTS.get(event, "") for event in Event if event is not Event.TEST
        },
    }
