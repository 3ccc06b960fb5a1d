"""What every admin endpoint shares: its key, its body, its answers and its refusals.

An endpoint is a function of the request and the authenticated :class:`Actor` that reads
the request, calls the domain operation GraphQL's mutation calls, and words the result.
:func:`endpoint` wraps it: no key or an unknown one is a 401 before anything is read, a
permission refusal a 403, a rule's refusal its 4xx (with the body field it is about
named as the body spells it), and a request the door cannot read a 400 saying what the
endpoint takes. Bodies are JSON objects whose every field is known: an unknown field is
refused, so a misspelt one is never silently ignored.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ferryman import auth
from ferryman.auth import AuthenticationError
from ferryman.models import Artifact, Release
from ferryman.models import app as apps
from ferryman.models import artifact as artifacts
from ferryman.models import release as releases
from ferryman.models.actor import Actor
from ferryman.models.errors import DomainError, ErrorCode, Forbidden, InvalidInput
from ferryman.models.text import reject_unencodable
from ferryman.rest_compat.errors import STATUSES, body_path, error_response, refused

Handler = Callable[[Request, Actor], Awaitable[Response]]
RequestHandler = Callable[[Request], Awaitable[Response]]

# Fields a rule names that come from the path, not the body: its message names the object.
_PATH_FIELDS = frozenset({"id", "appId", "releaseId"})
_TYPES = {str: "a string", int: "a whole number"}


class Unreadable(Exception):
    """The request is not one the endpoint can read; nothing was changed."""

    def __init__(self, message: str, status: int = 400, code: str = "INVALID_INPUT") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


def endpoint(*, invalid_state: int = 409) -> Callable[[Handler], RequestHandler]:
    """Wrap a handler into a route's endpoint; ``invalid_state`` is the status of a
    lifecycle refusal (the seed answers a refused delete with 400)."""
    statuses = {**STATUSES, ErrorCode.INVALID_STATE: invalid_state}

    def wrap(handler: Handler) -> RequestHandler:
        @functools.wraps(handler)
        async def respond(request: Request) -> Response:
            try:
                actor = await auth.authenticate(request)
            except AuthenticationError as error:
                return error_response(401, "UNAUTHENTICATED", str(error))
            try:
                return await handler(request, actor)
            except Unreadable as error:
                return error_response(error.status, error.code, error.message)
            except Forbidden as error:
                return error_response(403, "FORBIDDEN", str(error))
            except DomainError as error:
                return refused(error, statuses, named=_named)

        return respond

    return wrap


def _named(field: tuple[str, ...]) -> str:
    return "" if field[0] in _PATH_FIELDS else body_path(field)


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    """One field of a JSON body: its type, and whether it must be sent or may be null."""

    kind: type[str] | type[int] = str
    required: bool = False
    nullable: bool = False


Shape = Mapping[str, Field]


async def json_body(request: Request, shape: Shape) -> dict[str, Any]:
    """The body's fields, as sent (an absent field is absent; an empty body is ``{}``),
    each checked against ``shape``."""
    raw = await request.body()  # at most the route's limit: its BodyLimit sees to it
    takes = describe(shape)
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):
        raise Unreadable(f"the body is not JSON (UTF-8); this endpoint takes {takes}") from None
    if not isinstance(data, dict):
        raise Unreadable(f"the body must be a JSON object; this endpoint takes {takes}")
    try:
        reject_unencodable(data)
    except InvalidInput as error:
        raise Unreadable(error.message) from None
    unknown = [name for name in data if name not in shape]
    if unknown:
        named = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise Unreadable(f"unknown field {named}; this endpoint takes {takes}")
    for name, field in shape.items():
        if name not in data:
            if field.required:
                raise Unreadable(f"{name} is required; this endpoint takes {takes}")
            continue
        value = data[name]
        expected = _TYPES[field.kind] + (" or null" if field.nullable else "")
        if value is None:
            if not field.nullable:
                raise Unreadable(f"{name} must be {expected}, not null")
        elif not isinstance(value, field.kind) or isinstance(value, bool):
            raise Unreadable(f"{name} must be {expected}, not {_json_type(value)}")
    return data


def cleared(body: dict[str, Any], name: str) -> str | None:
    """An optional text field of a body as the rules take it: None when absent (kept), and
    "" when null (cleared)."""
    if name not in body:
        return None
    value: str | None = body[name]
    return "" if value is None else value


def describe(shape: Shape) -> str:
    """A body's fields as its refusals list them: ``{"version", "notes", "channel"}``."""
    if not shape:
        return "no body (or {})"
    return "{" + ", ".join(f'"{name}"' for name in shape) + "}"


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def query(request: Request, accepted: Mapping[str, str]) -> dict[str, str]:
    """The query's parameters, each sent at most once and each one of ``accepted`` (the
    name, and what it takes)."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in accepted:
            known = "; ".join(f"{known}: {what}" for known, what in accepted.items())
            raise Unreadable(
                f"unknown query parameter {name[:40]!r}; this list takes "
                + (known or "no parameters")
            )
        if name in found:
            raise Unreadable(f"{name} is given twice; give it once")
        found[name] = value
    return found


async def app_of(request: Request, actor: Actor) -> apps.App:
    return await apps.get_visible(actor, request.path_params["app_id"])


async def release_of(request: Request, actor: Actor) -> Release:
    """The path's release, when the caller may see it and it is the path's app's."""
    app = await app_of(request, actor)
    return await releases.of_app(actor, app.id, request.path_params["release_id"])


async def artifact_of(request: Request, actor: Actor) -> Artifact:
    """The path's artifact, when it is the path's release's (of the path's app)."""
    release = await release_of(request, actor)
    return await artifacts.of_release(actor, release.id, request.path_params["artifact_id"])


def moment(value: datetime | None) -> str | None:
    """A stored time as the seed writes times: RFC 3339 in UTC, to the second."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")
