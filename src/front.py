"""The outermost layer of every HTTP request: it names the request, then counts, times and
logs the answer, in one pass.

One layer rather than one per concern, because an edge-cache HIT costs little more than
the layers in front of it: each layer is another wrapper around every message sent.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ferryman import logs
from ferryman.analytics.recorder import Recorder
from ferryman.doors import Door, door_of
from ferryman.metrics import OFFER_HEADER, TALLY
from ferryman.request_context import HEADER, RequestContext

access_log = logging.getLogger("ferryman.access")

_OFFER = OFFER_HEADER.encode()
_CACHE_STATUS = b"cf-cache-status"
_HIT = b"HIT"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Installs asking for updates and downloading them are not tracked (PRIVACY.md): their
# lines leave the address out. People and CI keep it, to answer for what they did.
_UNTRACKED = frozenset({Door.UPDATES, Door.DOWNLOADS})


class Front:
    """Pure ASGI middleware, outermost: sets the request's id and address
    (:class:`~ferryman.request_context.RequestContext`), echoes the id in ``X-Request-ID``,
    counts and times the answer (:data:`~ferryman.metrics.TALLY`), hands update checks to
    analytics (``recorder``, None when it does not count them) and logs it.

    The update check names the version it offered in a header that is taken off here.
    Update checks answered from memory are logged at DEBUG (they are the bulk of the
    traffic; a summary line counts them every minute); everything else at INFO.
    """

    def __init__(self, app: ASGIApp, context: RequestContext, recorder: Recorder | None) -> None:
        self.app = app
        self.context = context
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = self.context.enter(scope)
        token = logs.request_id.set(scope["state"]["request_id"])
        status = 500  # what the server answers when the app fails before responding
        cache: bytes | None = None
        offer: bytes | None = None

        async def answer(message: Message) -> None:
            nonlocal status, cache, offer
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = []
                for header in message.get("headers", ()):
                    name = header[0]
                    if name == _OFFER:
                        offer = header[1]
                        continue
                    if name == _CACHE_STATUS:
                        cache = header[1]
                    headers.append(header)
                headers.append((HEADER, request_id))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            elapsed = time.perf_counter() - started
            self.answered(scope, status, cache, offer, elapsed, self.recorder)
            logs.request_id.reset(token)

    @staticmethod
    def answered(
        scope: Scope,
        status: int,
        cache: bytes | None,
        offer: bytes | None,
        elapsed: float,
        recorder: Recorder | None,
        *,
        from_memory: bool = False,
    ) -> None:
        """Count, time and log an answer (the request's id already in the log context).
        Update checks answered from memory (edge-cache HITs; with the edge cache off, the
        express lane's answers from a warm index) are logged one by one at DEBUG and
        summed up by the pulse."""
        from_memory = from_memory or cache == _HIT
        door = Door.UPDATES if from_memory else door_of(scope["path"])
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        app = scope["path"][1:].partition("/")[0] if offer is not None else None
        TALLY.count((door, method, status, cache, app, offer), elapsed)
        if offer is not None and recorder is not None:
            recorder.checked(scope, offer)
        if from_memory:
            TALLY.from_memory += 1
            if access_log.isEnabledFor(logging.DEBUG):
                _log(logging.DEBUG, scope, door, status, elapsed, cache)
        elif access_log.isEnabledFor(logging.INFO):
            _log(logging.INFO, scope, door, status, elapsed, cache)


def _log(
    level: int, scope: Scope, door: Door, status: int, elapsed: float, cache: bytes | None
) -> None:
    access_log.log(
        level,
        "%s %s %d",
        scope["method"],
        scope["path"],
        status,
        extra={
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "door": door.value,
            "duration_ms": round(elapsed * 1000, 3),
            "client": None if door in _UNTRACKED else scope["state"].get("client_ip"),
            "cache": cache.decode("latin-1") if cache else None,
        },
    )
