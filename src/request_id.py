"""Request ids: one per HTTP request, echoed in ``X-Request-ID`` and kept in the audit trail.

A well-formed id sent by a proxy in front of Ferryman is kept, so one id follows the
request through every log.
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from ulid import ULID

HEADER = "x-request-id"
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{8,64}")


class RequestIdMiddleware:
    """Pure ASGI middleware: sets ``scope["state"]["request_id"]`` and the response header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if _ACCEPTED.fullmatch(incoming) else str(ULID())
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
