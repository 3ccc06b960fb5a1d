"""The console's list of an app's releases: filters, pages, each one's rollout schedule in a
word, archiving several at once, a new draft, and the two small endpoints the release forms
call as people type (is this a version? what do these notes look like?)."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ferryman import notes
from ferryman.console import schedules
from ferryman.console.pages import Pages, app_of, field_errors, form_of, text
from ferryman.console.sessions import Visitor
from ferryman.models import channel as channels
from ferryman.models import health, ids, keyset, listing
from ferryman.models import release as releases
from ferryman.models.actor import Actor, permits
from ferryman.models.app import App
from ferryman.models.errors import DomainError, InvalidInput
from ferryman.models.status import ReleaseStatus

PAGE_SIZE = 25
FILTERS = ("status", "channel", "since", "until", "search")
EDITED = ("version", "channel", "notes")
NOTICES = {
    "archived": "Archived the chosen releases.",
    "deleted": "Deleted the draft.",
}


def releases_path(app: App) -> str:
    return f"/console/apps/{app.slug}/releases"


def may_manage(actor: Actor) -> bool:
    """Whether to offer the lifecycle controls (the domain checks each change again)."""
    return permits(lambda a: a.require_admin("changing releases"), actor)


def may_write(actor: Actor) -> bool:
    return permits(releases.require_creator, actor)


def rendered(markdown: str) -> Markup:
    """Notes as the sanitised HTML a page may include as it is."""
    return Markup(notes.to_html(markdown))


class ReleasePages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def routes(self) -> list[BaseRoute]:
        signed_in = self.pages.signed_in
        base = "/apps/{slug}/releases"
        return [
            Route(base, signed_in(self.index), methods=["GET"]),
            Route(f"{base}/new", signed_in(self.new), methods=["GET"]),
            Route(f"{base}/new", signed_in(self.create), methods=["POST"]),
            Route(f"{base}/archive/confirm", signed_in(self.confirm_archive), methods=["POST"]),
            Route(f"{base}/archive", signed_in(self.archive), methods=["POST"]),
            Route(f"{base}/check-version", signed_in(self.check_version), methods=["GET"]),
            Route(f"{base}/preview-notes", signed_in(self.preview_notes), methods=["POST"]),
        ]

    async def index(self, request: Request, visitor: Visitor) -> Response:
        app = await app_of(request, visitor)
        return await self._list(request, visitor, app, {})

    async def _list(
        self,
        request: Request,
        visitor: Visitor,
        app: App,
        errors: dict[str, str],
        status: int = 200,
    ) -> Response:
        query = request.query_params
        order = channels.order_of(app.channels)
        page: keyset.Page[releases.Release] = keyset.Page([], False, False)
        try:
            filters = _filters(query).checked(order)
            after, before = _cursor(query, "after"), _cursor(query, "before")
            page = await keyset.page(
                listing.listed(app.id, filters), PAGE_SIZE, after=after, before=before
            )
        except DomainError as error:
            errors = {**errors, **field_errors(error, *FILTERS)}
            status = 400
        states = await listing.artifact_states([release.id for release in page.rows])
        kept = [(name, query[name]) for name in FILTERS if query.get(name)]
        context = {
            "current_app": app,
            "tab": "releases",
            "page": page,
            "states": states,
            "schedules": await schedules.badges(page.rows),
            "halts": await health.halts_of([r.id for r in page.rows]),
            "channels": order,
            "statuses": [s.name for s in ReleaseStatus],
            "query": query,
            "kept": kept,
            "errors": errors,
            "notice": NOTICES.get(query.get("notice", "")),
            "may_manage": may_manage(visitor.actor),
            "may_write": may_write(visitor.actor),
        }
        return await self.pages.render_for(request, "releases.html", visitor, context, status)

    async def new(self, request: Request, visitor: Visitor) -> Response:
        app = await app_of(request, visitor)
        return await self._new_form(request, visitor, app, {}, None)

    async def create(self, request: Request, visitor: Visitor) -> Response:
        app = await app_of(request, visitor)
        form = await form_of(request)
        if text(form, "action") == "preview":
            return await self._new_form(request, visitor, app, {}, form)
        changes = releases.ReleaseChanges(
            version=text(form, "version"),
            notes=text(form, "notes"),
            channel=text(form, "channel") or None,
        )
        try:
            release = await releases.create(visitor.actor, app.id, changes)
        except DomainError as error:
            errors = field_errors(error, *EDITED)
            return await self._new_form(request, visitor, app, errors, form, 400)
        return RedirectResponse(f"{releases_path(app)}/{release.id}?notice=created", 303)

    async def _new_form(
        self,
        request: Request,
        visitor: Visitor,
        app: App,
        errors: dict[str, str],
        form: FormData | None,
        status: int = 200,
    ) -> Response:
        releases.require_creator(visitor.actor)
        order = channels.order_of(app.channels)
        context = {
            "current_app": app,
            "tab": "releases",
            "errors": errors,
            "values": form or {"channel": order[0]},
            "channels": order,
            "preview": rendered(text(form, "notes") if form else ""),
        }
        return await self.pages.render_for(request, "release_new.html", visitor, context, status)

    async def confirm_archive(self, request: Request, visitor: Visitor) -> Response:
        """The first step of archiving several: the chosen releases, to confirm."""
        app = await app_of(request, visitor)
        form = await form_of(request)
        try:
            releases.require_archiver(visitor.actor)
            chosen = await releases.chosen(visitor.actor, app.id, _ids(form))
        except InvalidInput as error:
            return await self._list(request, visitor, app, {"": error.message}, 400)
        context = {"current_app": app, "tab": "releases", "chosen": chosen}
        return await self.pages.render_for(request, "releases_archive.html", visitor, context)

    async def archive(self, request: Request, visitor: Visitor) -> Response:
        app = await app_of(request, visitor)
        form = await form_of(request)
        try:
            await releases.archive_many(visitor.actor, app.id, _ids(form))
        except DomainError as error:
            return await self._list(request, visitor, app, {"": error.message}, 400)
        return RedirectResponse(f"{releases_path(app)}?notice=archived", 303)

    async def check_version(self, request: Request, visitor: Visitor) -> Response:
        """``{"ok", "message"}``: the domain's verdict on a version as someone types it."""
        app = await app_of(request, visitor)
        typed = request.query_params.get("version", "")
        release_id = request.query_params.get("release") or None
        try:
            version = await releases.check_version(visitor.actor, app.id, typed, release_id)
        except DomainError as error:
            return JSONResponse({"ok": False, "message": error.message})
        return JSONResponse({"ok": True, "message": f"{version} is a valid version"})

    async def preview_notes(self, request: Request, visitor: Visitor) -> Response:
        """The posted notes as the sanitised HTML the preview shows."""
        await app_of(request, visitor)
        form = await form_of(request)
        return HTMLResponse(notes.to_html(text(form, "notes")))


def _filters(query: QueryParams) -> listing.ReleaseFilter:
    """The filter form's fields, parsed (the domain checks what they mean)."""
    status = query.get("status") or None
    if status is not None and status not in ReleaseStatus.__members__:
        names = ", ".join(ReleaseStatus.__members__)
        raise InvalidInput(f"status must be one of {names}", ("status",))
    return listing.ReleaseFilter(
        status=ReleaseStatus[status] if status else None,
        channel=query.get("channel") or None,
        since=_day(query, "since"),
        until=_day(query, "until"),
        search=query.get("search") or None,
    )


def _day(query: QueryParams, name: str) -> date | None:
    value = query.get(name) or None
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value[:40]!r} is not a date: use YYYY-MM-DD", (name,)) from None


def _cursor(query: QueryParams, name: str) -> str | None:
    value = query.get(name) or None
    return None if value is None else ids.require(value, "rel", (name,))


def _ids(form: FormData) -> list[str]:
    return [value for value in form.getlist("ids") if isinstance(value, str)]
