"""Request ids: one per HTTP request, echoed in ``X-Request-ID`` and kept in the audit trail.

A well-formed id sent by a proxy in front of Ferryman is kept, so one id follows the
request through every log.
"""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_ACCEPTED = re.compile(rb"[A-Za-z0-9._:-]{8,64}")


class RequestIdMiddleware:
    """Pure ASGI middleware: sets ``scope["state"]["request_id"]`` and the response header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = b""
        for name, value in scope["headers"]:
            if name == HEADER and _ACCEPTED.fullmatch(value):
                request_id = value
        if not request_id:
            request_id = secrets.token_hex(13).encode()  # 104 random bits; cheap on every request
        scope.setdefault("state", {})["request_id"] = request_id.decode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (HEADER, request_id)]
            await send(message)

        await self.app(scope, receive, send_with_id)
