"""The REST error shape: ``{"error": {"code", "message"}}`` with a fitting 4xx."""

from __future__ import annotations

from starlette.responses import JSONResponse

from ferryman.doors import error_body


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message, graphql=False), status_code=status)
