"""The REST error shape: ``{"error": {"code", "message"}}`` with a fitting 4xx, and how a
domain rule's refusal is worded in it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from starlette.responses import JSONResponse

from ferryman.doors import error_body
from ferryman.models.errors import DomainError, ErrorCode

# The status of each refusal the rules can make (a door may answer some differently).
STATUSES: Mapping[ErrorCode, int] = {
    ErrorCode.INVALID_INPUT: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.TAKEN: 409,
    ErrorCode.INVALID_STATE: 409,
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message, graphql=False), status_code=status)


def body_path(field: tuple[str, ...]) -> str:
    """A rule's field path (GraphQL's names) as a JSON body spells it: ``artifacts[0].r2_key``."""
    path = ""
    for part in field:
        if part == "input" and not path:
            continue
        if part.isdigit():
            path += f"[{part}]"
        else:
            path += ("." if path else "") + re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", part).lower()
    return path


def refused(
    error: DomainError,
    statuses: Mapping[ErrorCode, int] = STATUSES,
    *,
    named: Callable[[tuple[str, ...]], str] = body_path,
) -> JSONResponse:
    """A rule's refusal: its code, its status, and its message, after the name of the field
    it is about (``named``: as the request spells it, or "" to leave it unnamed)."""
    name = named(error.field) if error.field else ""
    message = f"{name}: {error.message}" if name else error.message
    return error_response(statuses[error.code], error.code.value, message)
