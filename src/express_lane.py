"""Fresh edge-cache HITs answered inside uvicorn's HTTP protocol, below ASGI.

A HIT is most of an update server's traffic. Through ASGI it costs a task, a coroutine per
layer and uvicorn's validation of every header sent: more than the lookup and the
bookkeeping together (``bench/RESULTS.md``). The express lane answers a plain GET whose key
the check rule settles at once (:meth:`~ferryman.rest_compat.tauri.CheckRule.settled`) and
whose entry is fresh (:meth:`~ferryman.edge_cache.EdgeCache.fresh`) by writing the stored
bytes itself, with all that the front layer gives every answer: the request id, the
tallies, the access log (:meth:`~ferryman.front.Front.answered`).

Anything else takes the ASGI path as before: a MISS, a conditional or HEAD request, a
check to judge (LICENSED app, partial rollout), a connection whose write buffer is full,
a request over uvicorn's concurrency limit. It hooks ``HttpToolsProtocol._start_asgi_task``,
where every request starts (pipelined ones in order) once uvicorn has built its scope and
decided keep-alive; a server other than uvicorn with httptools never takes the lane.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, cast

from starlette.types import Scope
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from ferryman import logs
from ferryman.edge_cache import EdgeCache
from ferryman.edge_cache.entry import Entry
from ferryman.front import Front
from ferryman.metrics import OFFER_HEADER
from ferryman.request_context import HEADER, RequestContext
from ferryman.rest_compat.tauri import CheckRule

logger = logging.getLogger(__name__)

_OFFER = OFFER_HEADER.encode()
_HIT = b"HIT"
_CONDITIONAL = b"if-none-match"
_AFTER_AGE = b"\r\ncf-cache-status: HIT\r\n" + HEADER + b": "
_KEEP_ALIVE = b"\r\n\r\n"
_CLOSE = b"\r\nconnection: close\r\n\r\n"


@dataclass(frozen=True, slots=True)
class _Wire:
    """An entry's header lines as HTTP/1.1 writes them, without the offer the front takes
    off (and counts), built once per entry."""

    lines: bytes
    offer: bytes | None

    @classmethod
    def of(cls, entry: Entry) -> _Wire:
        lines: list[bytes] = []
        offer = None
        for name, value in entry.headers:
            if name == _OFFER:
                offer = value
            else:
                lines += (name, b": ", value, b"\r\n")
        return cls(b"".join(lines), offer)


class ExpressLane:
    """Answers fresh HITs without ASGI; the app holds one and fills in its edge cache."""

    def __init__(self, context: RequestContext, rule: CheckRule) -> None:
        self.context = context
        self.rule = rule
        self.edge: EdgeCache | None = None  # None until the app's stack is built

    def answer(
        self, scope: Scope, default_headers: list[tuple[bytes, bytes]], keep_alive: bool
    ) -> bytes | None:
        """The whole HTTP response to write for ``scope`` when it is a fresh HIT, counted
        and logged; None (nothing done) when the ASGI path must answer."""
        started = time.perf_counter()
        edge = self.edge
        if edge is None or scope["method"] != "GET":
            return None
        for name, _ in scope["headers"]:
            if name == _CONDITIONAL:
                return None
        key = self.rule.settled(scope)
        entry = None if key is None else edge.fresh(key)
        if entry is None:
            return None
        wire = entry.wire
        if not isinstance(wire, _Wire):
            wire = entry.wire = _Wire.of(entry)
        request_id = self.context.enter(scope)
        response = [STATUS_LINE[entry.status]]
        for name, value in default_headers:
            response += (name, b": ", value, b"\r\n")
        response += (
            wire.lines,
            b"age: %d" % entry.age,
            _AFTER_AGE,
            request_id,
            _KEEP_ALIVE if keep_alive else _CLOSE,
            entry.body,
        )
        token = logs.request_id.set(scope["state"]["request_id"])
        Front.answered(scope, entry.status, _HIT, wire.offer, time.perf_counter() - started)
        logs.request_id.reset(token)
        return b"".join(response)


class ExpressProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the app's express lane tried before ASGI."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lane = getattr(self.app, "express_lane", None)
        self.lane = lane if isinstance(lane, ExpressLane) else None

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        lane = self.lane
        if lane is not None and app is self.app and not self.flow.write_paused:
            try:
                scope = cast("Scope", cycle.scope)  # uvicorn's TypedDict, an ASGI scope
                answer = lane.answer(scope, self.server_state.default_headers, cycle.keep_alive)
            except Exception:  # the ASGI path answers instead, and reports its own failures
                logger.exception("express lane: failed on %s", cycle.scope["path"][:200])
                answer = None
            if answer is not None:
                # What uvicorn's send does once a response is complete.
                cycle.response_started = cycle.response_complete = True
                self.transport.write(answer)
                if not cycle.keep_alive:
                    self.transport.close()
                cycle.on_response()
                return
        super()._start_asgi_task(cycle, app)
