"""The REST error shape: ``{"error": {"code", "message"}}`` with a fitting 4xx."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.requests import Request
from starlette.responses import JSONResponse

_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def http_error(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own refusals (no such route, wrong method, body over the route's limit)
    in the same shape as every other REST error."""
    assert isinstance(error, HTTPException)
    status = error.status_code
    message = error.detail
    if status == 404:
        message = f"nothing is served at {request.url.path[:200]}"
    elif status == 405:
        allowed = (error.headers or {}).get("Allow", "another method")
        message = f"{request.method[:20]} is not allowed here; use {allowed}"
    elif status == 413:
        limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
        message = f"the request body is over this route's limit of {limit} bytes"
    response = error_response(status, _CODES.get(status, "BAD_REQUEST"), message)
    response.headers.update(error.headers or {})
    return response
