"""Rendering console pages, and the guard every page goes through.

A page handler gets the signed-in :class:`Visitor` and returns a response; the guard
sends strangers to the sign-in page, checks the CSRF token of every change, and turns
the domain's refusals into pages (403, 404) instead of errors. Handlers hold no rules:
they call the same domain operations as GraphQL and show what those say.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from ferryman.console import paths
from ferryman.console.sessions import CSRF_FIELD, CrossSite, Sessions, Visitor
from ferryman.models import app as apps
from ferryman.models import user as people
from ferryman.models.actor import permits
from ferryman.models.errors import DomainError, Forbidden, InvalidInput, NotFound

TEMPLATES = Path(__file__).parent / "templates"
# Form posts are small; a licence CSV is the largest thing the console takes this way.
MAX_FORM_FIELDS = 200
# The one upload, a licence CSV (file or pasted): some ten thousand licences.
MAX_UPLOAD_BYTES = 1024 * 1024

Handler = Callable[[Request, Visitor], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


class Pages:
    """Templates plus the session rules, shared by every console handler."""

    def __init__(self, sessions: Sessions, base_url: str, *, graphiql: bool) -> None:
        self.sessions = sessions
        self.base_url = base_url
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.globals["paths"] = paths
        env.globals["csrf_field"] = CSRF_FIELD
        env.globals["graphiql"] = graphiql
        self.templates = Jinja2Templates(env=env)

    def render(
        self,
        request: Request,
        template: str,
        visitor: Visitor | None,
        context: Mapping[str, Any] | None = None,
        status: int = 200,
    ) -> Response:
        values = {"visitor": visitor, "errors": {}, "notice": None, **(context or {})}
        values.setdefault("current_app", None)
        values.setdefault("active", None)
        return self.templates.TemplateResponse(request, template, values, status_code=status)

    async def render_for(
        self,
        request: Request,
        template: str,
        visitor: Visitor,
        context: Mapping[str, Any] | None = None,
        status: int = 200,
    ) -> Response:
        """A page of the signed-in console: with the apps for the switcher."""
        switcher = await apps.visible(visitor.actor).order_by("slug").values_list("slug", "name")
        values = {
            "switcher": switcher,
            "may_manage_people": permits(people.require_manager, visitor.actor),
            **(context or {}),
        }
        return self.render(request, template, visitor, values, status)

    def signed_in(self, handler: Handler, *, upload: bool = False) -> Endpoint:
        """``handler`` for signed-in people only; a change must carry the CSRF token.
        ``upload``: its form may carry one file (:func:`upload_form_of`)."""
        parse = upload_form_of if upload else form_of

        async def endpoint(request: Request) -> Response:
            visitor = await self.sessions.visitor(request)
            if visitor is None:
                return self.to_sign_in(request)
            try:
                if request.method not in ("GET", "HEAD"):
                    form = await parse(request)
                    self.sessions.require_csrf(request, visitor, _text(form, CSRF_FIELD))
                return await handler(request, visitor)
            except CrossSite as error:
                return await self.refusal(request, visitor, 403, str(error))
            except Forbidden as error:
                return await self.refusal(request, visitor, 403, str(error))
            except NotFound as error:
                return await self.refusal(request, visitor, 404, error.message)
            except DomainError as error:  # a malformed id in the path, say
                return await self.refusal(request, visitor, 400, error.message)
            finally:
                await request.close()  # an upload's spooled file, when there was one

        return endpoint

    async def missing(self, request: Request) -> Response:
        """Any other console path: a page saying so (a sign-in link for strangers)."""
        visitor = await self.sessions.visitor(request)
        message = f"There is no console page at {request.url.path[:200]}."
        if visitor is None:
            context = {"status": 404, "message": message}
            return self.render(request, "refusal.html", None, context, 404)
        return await self.refusal(request, visitor, 404, message)

    def to_sign_in(self, request: Request) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.method not in ("GET", "HEAD") or not paths.is_local(target):
            target = paths.HOME
        return RedirectResponse(f"{paths.SIGN_IN}?{urlencode({'next': target})}", 303)

    async def refusal(
        self, request: Request, visitor: Visitor, status: int, message: str
    ) -> Response:
        return await self.render_for(
            request, "refusal.html", visitor, {"status": status, "message": message}, status
        )


async def app_of(request: Request, visitor: Visitor) -> apps.App:
    """The app named by the path's ``slug``, if the visitor may see it."""
    slug = request.path_params["slug"]
    app = await apps.find_visible(visitor.actor, slug)
    if app is None:
        raise NotFound(f"no app {slug[:64]!r} that you may see")
    return app


async def form_of(request: Request) -> FormData:
    """The posted form (parsed once per request; Starlette keeps it)."""
    return await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)


async def upload_form_of(request: Request) -> FormData:
    """The posted form of a page that takes one file, refused unread when the request is
    over MAX_UPLOAD_BYTES (browsers always say how long a form is)."""
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_UPLOAD_BYTES:
        raise InvalidInput(
            f"the form may be at most {MAX_UPLOAD_BYTES // 1024} KiB with its file: "
            "split the file and send the parts one by one",
            ("file",),
        )
    return await request.form(
        max_files=1, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_UPLOAD_BYTES
    )


Choice = TypeVar("Choice", bound=enum.Enum)


def choice(kind: type[Choice], value: str, field: tuple[str, ...]) -> Choice:
    """The member of ``kind`` a radio button or select sent, or InvalidInput naming them."""
    try:
        return kind(value)
    except ValueError:
        accepted = ", ".join(str(member.value) for member in kind)
        raise InvalidInput(f"{field[-1]} {value[:40]!r} is not one of {accepted}", field) from None


def day(value: str, field: str) -> datetime | None:
    """A date field (YYYY-MM-DD, or a date and time) as typed, None when empty; the domain
    reads it as UTC."""
    value = value.strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{value[:40]!r} is not a date: use YYYY-MM-DD, such as 2025-03-01", (field,)
        ) from None


def text(form: FormData, name: str) -> str:
    """A text field, "" when absent."""
    return _text(form, name) or ""


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def field_errors(
    error: DomainError, *fields: str, renamed: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A domain error keyed by the form field it names (the last part of its field, when
    ``fields`` has it; forms name their fields as GraphQL does, or as ``renamed`` maps
    the domain's names), or by "" for the form as a whole."""
    name = error.field[-1] if error.field else ""
    name = (renamed or {}).get(name, name)
    return {(name if name in fields else ""): error.message}


def next_page(request: Request, cursor: str | None) -> str | None:
    """The link to the page after this one of a listing: its filters, and the cursor."""
    if cursor is None:
        return None
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
    return f"{request.url.path}?{urlencode([*query, ('after', cursor)])}"
