"""Update checks answered inside uvicorn's HTTP protocol, below ASGI, when they need no
waiting.

Update checks are most of an update server's traffic. Through ASGI each costs a task, a
coroutine per layer and uvicorn's validation of every header sent: more than the answer
and the bookkeeping together (``bench/RESULTS.md``). The express lane writes the answer
itself, with all that the front layer gives every answer: the request id, the tallies, the
access log (:meth:`~ferryman.front.Front.answered`):

* with the edge cache on, a fresh HIT: a plain GET whose key the check rule settles at
  once (:meth:`~ferryman.rest_compat.tauri.CheckRule.settled`: the app's index in memory,
  its licence, if it needs one, looked up before) and whose entry is fresh
  (:meth:`~ferryman.edge_cache.EdgeCache.fresh`), its stored bytes;
* with it off (a CDN in front does the caching), the origin's answer worked out from
  the same judgement (:meth:`~ferryman.rest_compat.tauri.CheckRule.answered`), within
  the same rate limit.

Anything else takes the ASGI path as before: a MISS or a cold index, a licence not yet
looked up, a conditional, HEAD or CORS request, a refusal, a connection whose write
buffer is full, a request over uvicorn's concurrency limit. It
hooks ``HttpToolsProtocol._start_asgi_task``, where every request starts (pipelined ones
in order) once uvicorn has built its scope and decided keep-alive; a server other than
uvicorn with httptools never takes the lane.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from starlette.types import Scope
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from ferryman import logs
from ferryman.analytics.recorder import Recorder
from ferryman.doors import Door
from ferryman.edge_cache import EdgeCache
from ferryman.front import Front
from ferryman.metrics import OFFER_HEADER
from ferryman.rate_limits import Budgets
from ferryman.request_context import HEADER, RequestContext
from ferryman.rest_compat.tauri import CheckRule

logger = logging.getLogger(__name__)

_OFFER = OFFER_HEADER.encode()
_HIT = b"HIT"
_HIT_LINE = b"\r\ncf-cache-status: HIT\r\n"
# A conditional request may be answered 304; a browser's carries Origin, for CORS.
_ASGI_ONLY = frozenset({b"if-none-match", b"origin"})
_REQUEST_ID = HEADER + b": "
_KEEP_ALIVE = b"\r\n\r\n"
_CLOSE = b"\r\nconnection: close\r\n\r\n"


def _lines(headers: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes | None]:
    """Header lines as HTTP/1.1 writes them, without the offer the front takes off (and
    counts), and the offer."""
    lines: list[bytes] = []
    offer = None
    for name, value in headers:
        if name == _OFFER:
            offer = value
        else:
            lines += (name, b": ", value, b"\r\n")
    return b"".join(lines), offer


@dataclass(frozen=True, slots=True)
class _Wire:
    """An entry's header lines and offer (:func:`_lines`), built once per entry."""

    lines: bytes
    offer: bytes | None


class _Reply(NamedTuple):
    """An answer for the lane to write: its header lines (the request id and the server's
    own headers are added), body, and what the front layer counts and logs."""

    status: int
    lines: bytes
    body: bytes
    cache: bytes | None
    offer: bytes | None
    from_memory: bool  # logged at DEBUG and summed up (an error keeps its INFO line)


class ExpressLane:
    """Answers update checks that need no waiting without ASGI: fresh HITs when the app
    has an edge cache (``edge`` is filled in when its stack is built), otherwise the
    origin's answer from the app's index in memory, within the door's rate limit."""

    def __init__(
        self,
        context: RequestContext,
        rule: CheckRule,
        budgets: Budgets,
        recorder: Recorder | None,
        *,
        cached: bool,
    ) -> None:
        self.context = context
        self.recorder = recorder
        self.rule = rule
        self.budgets = budgets
        self.cached = cached
        self.edge: EdgeCache | None = None

    def answer(
        self, scope: Scope, default_headers: list[tuple[bytes, bytes]], keep_alive: bool
    ) -> bytes | None:
        """The whole HTTP response to write for ``scope``, counted and logged; None
        (nothing done, nothing spent) when the ASGI path must answer."""
        started = time.perf_counter()
        if scope["method"] != "GET":
            return None
        for name, _ in scope["headers"]:
            if name in _ASGI_ONLY:
                return None
        reply = self._hit(scope) if self.cached else self._origin(scope)
        if reply is None:
            return None
        request_id = scope["state"]["request_id"].encode()
        head = _head(reply.status, default_headers, reply.lines, request_id, keep_alive)
        token = logs.request_id.set(scope["state"]["request_id"])
        elapsed = time.perf_counter() - started
        quiet = reply.from_memory
        Front.answered(
            scope,
            reply.status,
            reply.cache,
            reply.offer,
            elapsed,
            self.recorder,
            from_memory=quiet,
        )
        logs.request_id.reset(token)
        return head + reply.body

    def _hit(self, scope: Scope) -> _Reply | None:
        key = self.rule.settled(scope)
        entry = None if key is None or self.edge is None else self.edge.fresh(key)
        if entry is None:
            return None
        wire = entry.wire
        if not isinstance(wire, _Wire):
            wire = entry.wire = _Wire(*_lines(entry.headers))
        self.context.enter(scope)
        lines = wire.lines + b"age: %d" % entry.age + _HIT_LINE
        return _Reply(entry.status, lines, entry.body, _HIT, wire.offer, True)

    def _origin(self, scope: Scope) -> _Reply | None:
        response = self.rule.answered(scope)
        if response is None:
            return None
        self.context.enter(scope)
        if not self.budgets.admits(Door.UPDATES, scope["state"]["client_ip"]):
            return None  # the ASGI path refuses it, in its words
        lines, offer = _lines(response.raw_headers)
        status = response.status_code
        return _Reply(status, lines, bytes(response.body), None, offer, status < 400)


def _head(
    status: int,
    default_headers: list[tuple[bytes, bytes]],
    lines: bytes,
    request_id: bytes,
    keep_alive: bool,
) -> bytes:
    """Status line and headers: the server's (its date), the answer's, the request id, and
    ``connection: close`` when the connection ends with this answer (as uvicorn writes
    them)."""
    head = [STATUS_LINE[status]]
    for name, value in default_headers:
        head += (name, b": ", value, b"\r\n")
    head += (lines, _REQUEST_ID, request_id, _KEEP_ALIVE if keep_alive else _CLOSE)
    return b"".join(head)


class ExpressProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the app's express lane tried before ASGI."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lane = getattr(self.app, "express_lane", None)
        self.lane = lane if isinstance(lane, ExpressLane) else None
        # Requests to start once the one being answered is done: completing an answer
        # starts the next pipelined request, which must not recurse thousands deep.
        self._next: deque[tuple[RequestResponseCycle, Any]] | None = None

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        if self._next is not None:
            self._next.append((cycle, app))
            return
        self._next = deque([(cycle, app)])
        try:
            while self._next:
                cycle, app = self._next.popleft()
                if not self._express(cycle, app):
                    super()._start_asgi_task(cycle, app)
        finally:
            self._next = None

    def _express(self, cycle: RequestResponseCycle, app: Any) -> bool:
        """Answer in the lane, as uvicorn's ``send`` completes a response; False when
        the ASGI app must answer."""
        lane = self.lane
        if lane is None or app is not self.app or self.flow.write_paused:
            return False
        scope = cast("Scope", cycle.scope)  # uvicorn's TypedDict, an ASGI scope
        try:
            answer = lane.answer(scope, self.server_state.default_headers, cycle.keep_alive)
        except Exception:  # the ASGI path answers instead, and reports its own failures
            logger.exception("express lane: failed on %s", scope["path"][:200])
            return False
        if answer is None:
            return False
        cycle.response_started = cycle.response_complete = True
        self.transport.write(answer)
        if not cycle.keep_alive:
            self.transport.close()
        cycle.on_response()
        return True
