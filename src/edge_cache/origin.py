"""The edge's side of an origin call: the request the origin gets, and its whole response
collected before anything is stored or sent on."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Scope

from ferryman.edge_cache.entry import Entry, RawHeaders

# The client's validators are answered from the cache; the origin only sees the edge's own.
_CONDITIONAL = frozenset(
    {b"if-none-match", b"if-modified-since", b"if-match", b"if-unmodified-since", b"if-range"}
)


def request(scope: Scope, revalidate: Entry | None) -> Scope:
    """The rule's scope as a GET (HEAD is filled with a GET) carrying only the edge's validator."""
    headers = [(n, v) for n, v in scope.get("headers", ()) if n.lower() not in _CONDITIONAL]
    if revalidate is not None and revalidate.etag is not None:
        headers.append((b"if-none-match", revalidate.etag))
    # The response is buffered here, so server send extensions (pathsend, ...) cannot apply.
    return {**scope, "method": "GET", "headers": headers, "extensions": {}}


async def call(app: ASGIApp, scope: Scope) -> tuple[int, RawHeaders, bytes]:
    """Run the origin with an empty request body and collect its whole response."""
    start: Message | None = None
    chunks: list[bytes] = []
    complete = False
    requested = False
    finished = asyncio.Event()

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal start, complete
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            complete = not message.get("more_body", False)

    try:
        await app(scope, receive, send)
    finally:
        finished.set()
    if start is None or not complete:
        raise RuntimeError("the origin returned without a complete response")
    headers = [(bytes(n).lower(), bytes(v)) for n, v in start.get("headers", ())]
    return int(start["status"]), headers, b"".join(chunks)
