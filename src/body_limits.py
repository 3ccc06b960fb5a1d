"""A route's largest request body, refused with 413 before or while it is read.

Starlette's own limit answers in plain text; this one raises an ``HTTPException`` that the
app's handler answers in the door's JSON shape, naming the limit.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Room for the multipart envelope (the other fields, part headers) around a file of the
# largest accepted size.
UPLOAD_OVERHEAD = 1024 * 1024


class BodyLimit:
    """Pure ASGI wrapper around one route's app.

    A route that takes file uploads gives multipart bodies their own, larger limit; every
    other body keeps the small one, counted as it streams, so no request is held in memory
    past it whatever its Content-Length says (or does not say).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, *, multipart_bytes: int = 0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.multipart_bytes = multipart_bytes

    @classmethod
    def with_files(cls, app: ASGIApp, max_bytes: int, max_file_bytes: int) -> BodyLimit:
        """A route that takes one file of up to ``max_file_bytes`` in a multipart body."""
        return cls(app, max_bytes, multipart_bytes=max_file_bytes + UPLOAD_OVERHEAD)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, hint = self.max_bytes, ""
        if self.multipart_bytes:
            hint = f"; send files as multipart uploads (up to {self.multipart_bytes} bytes)"
        for name, value in scope["headers"]:
            if name == b"content-type" and value.lower().startswith(b"multipart/form-data"):
                limit, hint = max(limit, self.multipart_bytes), ""
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                raise _too_large(limit, hint)
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit, hint)
            return message

        await self.app(scope, limited, send)


def _too_large(limit: int, hint: str) -> HTTPException:
    return HTTPException(413, f"the request body is over this route's limit of {limit} bytes{hint}")
