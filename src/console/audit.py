"""The console's audit trail: the events a visitor may read, filtered by app, by who
acted (a person or a key), by action and by day, a keyset page at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ferryman.console.pages import Pages, day, field_errors, next_page
from ferryman.console.sessions import Visitor
from ferryman.models import api_key as api_keys
from ferryman.models import app as apps
from ferryman.models import audit_event as audit_events
from ferryman.models import keyset
from ferryman.models.api_key import ApiKey
from ferryman.models.audit_event import AuditEvent
from ferryman.models.errors import DomainError
from ferryman.models.user import User

PAGE_SIZE = 50
_FIELDS = ("appId", "actorId", "action", "since", "until")


class AuditPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def routes(self) -> list[BaseRoute]:
        return [Route("/audit", self.pages.signed_in(self.index), methods=["GET"])]

    async def index(self, request: Request, visitor: Visitor) -> Response:
        query = request.query_params
        choices = await apps.visible(visitor.actor).order_by("slug")
        context: dict[str, Any] = {
            "active": "audit",
            "apps": choices,
            "values": query,
            "people": await _people(visitor),
            "keys": await api_keys.visible(visitor.actor, None).order_by("name"),
            "rows": [],
            "next_page": None,
        }
        try:
            events = audit_events.visible(visitor.actor, _search(query))
            page = await keyset.page(events, PAGE_SIZE, after=query.get("after"))
        except DomainError as error:
            context["errors"] = field_errors(error, *_FIELDS)
            return await self.pages.render_for(request, "audit.html", visitor, context, 400)
        names = await _actors(page.rows)
        slugs = {app.id: app.slug for app in choices}
        context["rows"] = [
            (event, names(event), slugs.get(event.app_id or "")) for event in page.rows
        ]
        context["next_page"] = next_page(request, page.end_cursor)
        return await self.pages.render_for(request, "audit.html", visitor, context)


def _search(query: QueryParams) -> audit_events.AuditSearch:
    """The filters as the form has them; "until" is a day, included."""
    until = day(query.get("until", ""), "until")
    return audit_events.AuditSearch(
        app_id=query.get("appId") or None,
        actor_id=query.get("actorId") or None,
        action=query.get("action") or None,
        since=day(query.get("since", ""), "since"),
        until=None if until is None else until + timedelta(days=1),
    )


async def _people(visitor: Visitor) -> list[tuple[str, str]]:
    """The people who appear in the trail the visitor may read, by email."""
    acted = audit_events.visible(visitor.actor).filter(user_id__isnull=False)
    user_ids = await acted.distinct().values_list("user_id", flat=True)
    rows = await User.filter(id__in=list(user_ids)).order_by("email").values_list("id", "email")
    return [(str(user_id), str(email)) for user_id, email in rows]


async def _actors(events: list[AuditEvent]) -> Callable[[AuditEvent], str]:
    """Who made each event, in words: a person's email, a key's name, or the server."""
    emails = dict(
        await User.filter(id__in=[e.user_id for e in events if e.user_id]).values_list(
            "id", "email"
        )
    )
    keys = {
        key.id: key for key in await ApiKey.filter(id__in=[e.key_id for e in events if e.key_id])
    }

    def name(event: AuditEvent) -> str:
        if event.user_id:
            return str(emails.get(event.user_id, f"a removed person ({event.user_id})"))
        if event.key_id:
            key = keys.get(event.key_id)
            return f"key {key.name} ({key.prefix}…)" if key else f"a deleted key ({event.key_id})"
        return "the server's command line"

    return name
