"""A Cloudflare-style edge cache: pure ASGI middleware in front of routes that opt in.

It mirrors Cloudflare's semantics (``reference/edge-cache.md``) so that the same origin headers
behave the same here and behind a real zone: the ``CF-Cache-Status`` values, the precedence of
``Cloudflare-CDN-Cache-Control`` > ``CDN-Cache-Control`` > ``Cache-Control``, stale serving,
purge by ``Cache-Tag``. It knows nothing about Tauri: a :data:`CacheRule` says what may be cached,
under which key, and exactly what the origin gets to see, so unkeyed input never reaches it.

Correctness choices that matter:

* Every origin call runs as its own task, shared by every request for the key (one origin call
  for N concurrent misses); a client that goes away cannot cancel it for the others.
* Purges are O(1): a global purge epoch; an entry remembers the epoch at which its origin fetch
  *started*, and is fresh only while none of its tags was purged after that. A fill that raced
  a purge is therefore never stored, and requests after a purge never join a fill begun before it.
* An expired entry stays until the LRU evicts it: never served as fresh, but still a candidate
  for revalidation (If-None-Match) and, within stale-if-error, a fallback on failure. A purged
  entry is gone for good, as on Cloudflare: it is never served again, not even stale when the
  origin fails, because a purge means the answer changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from cachetools import LRUCache
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ferryman.edge_cache.entry import (
    EDGE_ONLY,
    Entry,
    entry_from_response,
    sizeof,
    unavailable,
)
from ferryman.edge_cache.origin import call, request

__all__ = ["CacheRule", "EdgeCache"]

CacheRule = Callable[[Scope], Awaitable[tuple[Hashable | None, Scope] | None]]
"""Given a request scope, a route that declares itself cacheable returns (cache key, the scope to
send to the origin — already normalised: canonical path, only the query parameters and headers the
route needs). None: not cacheable, passed through untouched and answered ``DYNAMIC``; a key of
None: not cacheable either, but the origin gets the rule's scope (stripped of what the rule
consumed, such as a credential it judged). A request carrying ``Authorization`` is never cached
unless the edge was told the rule judges credentials itself."""

logger = logging.getLogger(__name__)

_HIT = (b"cf-cache-status", b"HIT")
_MISS = (b"cf-cache-status", b"MISS")
_EXPIRED = (b"cf-cache-status", b"EXPIRED")
_STALE = (b"cf-cache-status", b"STALE")
_UPDATING = (b"cf-cache-status", b"UPDATING")
_REVALIDATED = (b"cf-cache-status", b"REVALIDATED")
_BYPASS = (b"cf-cache-status", b"BYPASS")
_DYNAMIC = (b"cf-cache-status", b"DYNAMIC")


@dataclass(slots=True)
class _Outcome:
    """What one origin call produced, for everyone waiting on it."""

    entry: Entry | None  # None: the origin raised or broke the protocol
    bypass: bool = False  # the origin's headers forbid storing it
    shareable: bool = True  # may go to coalesced requests (not private, no cookie)
    revalidated: bool = False


@dataclass(slots=True)
class _Flight:
    task: asyncio.Task[_Outcome]
    epoch: int


_FAILED = _Outcome(None)
_UNAVAILABLE = unavailable()


class EdgeCache:
    """Cache responses of the routes a :data:`CacheRule` accepts, as Cloudflare's edge would.

    ``max_bytes`` bounds the memory held by entries (an LRU sized in bytes), whatever the key
    space; ``clock`` is injectable so tests can move time instead of sleeping. ``credentials``
    says the rule judges ``Authorization`` itself (it keys on what the credential entitles to,
    and keeps it from the origin); otherwise a request carrying one is never cached.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        rule: CacheRule,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
        credentials: bool = False,
    ) -> None:
        self.app = app
        self.rule = rule
        self.credentials = credentials
        self.max_bytes = max_bytes
        self.clock = clock
        self._entries: LRUCache[Hashable, Entry] = LRUCache(max_bytes, getsizeof=sizeof)
        self._flights: dict[Hashable, _Flight] = {}
        self._tasks: set[asyncio.Task[_Outcome]] = set()
        self._epoch = 0
        self._purged: dict[str, int] = {}
        self._purged_all = 0

    @property
    def currsize(self) -> int:
        """Bytes currently charged to stored entries (never above ``max_bytes``)."""
        return int(self._entries.currsize)

    def purge(self, tag: str) -> None:
        """Make every entry tagged ``tag`` (case-insensitive) stale, including fills in flight."""
        self._epoch += 1
        self._purged[tag.strip().lower()] = self._epoch

    def purge_all(self) -> None:
        """Make every entry stale, including fills in flight."""
        self._epoch += 1
        self._purged_all = self._epoch

    async def aclose(self) -> None:
        """Cancel origin calls still running, so shutdown leaves no pending task behind."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                receive = self._closing_on_shutdown(receive)
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            await self._dynamic(scope, receive, send)
            return
        validator = None
        for name, value in scope["headers"]:
            if name == b"authorization" and not self.credentials:
                await self._dynamic(scope, receive, send)
                return
            if name == b"if-none-match":
                validator = value
        match = await self.rule(scope)
        if match is None:
            await self._dynamic(scope, receive, send)
            return
        key, origin_scope = match
        if key is None:
            await self._dynamic(origin_scope, receive, send)
            return
        head = method == "HEAD"
        hit = self.fresh(key)
        if hit is None:
            await self._serve(send, key, origin_scope, head, validator, self._entries.get(key))
        elif validator is not None:
            await _replay(send, hit, _HIT, self.clock(), head, validator)
        else:
            # The hot path: stored header list + Age + status, stored bytes.
            headers = [*hit.headers, hit.age_header, _HIT]
            await send({"type": "http.response.start", "status": hit.status, "headers": headers})
            await send({"type": "http.response.body", "body": b"" if head else hit.body})

    def fresh(self, key: Hashable) -> Entry | None:
        """The entry to answer ``key`` with as a HIT now (fresh, no tag purged since it was
        fetched), its ``age`` brought up to date; None when only the origin or a stale
        answer will do. No waiting: a server may call it below ASGI."""
        hit = self._entries.get(key)
        if hit is None:
            return None
        now = self.clock()
        if now >= hit.fresh_until or (hit.checked != self._epoch and not self._unpurged(hit)):
            return None
        age = int(now - hit.born)
        if age != hit.age:
            hit.age, hit.age_header = age, (b"age", b"%d" % age)
        return hit

    async def _serve(
        self,
        send: Send,
        key: Hashable,
        origin_scope: Scope,
        head: bool,
        validator: bytes | None,
        entry: Entry | None,
    ) -> None:
        """Everything but a fresh hit: serve stale, or go to the origin (coalesced)."""
        now = self.clock()
        status = _MISS
        revalidate = None
        if entry is not None and self._unpurged(entry):
            if now < entry.fresh_until:
                await _replay(send, entry, _HIT, now, head, validator)
                return
            if now < entry.swr_until:
                self._refresh(key, origin_scope, entry)
                await _replay(send, entry, _UPDATING, now, head, validator)
                return
            status = _EXPIRED
            revalidate = entry if entry.origin_etag else None
        outcome = await self._fetch(key, origin_scope, revalidate)
        answer = outcome.entry
        if answer is None or answer.status >= 500:
            now = self.clock()
            if entry is not None and now < entry.sie_until and self._unpurged(entry):
                await _replay(send, entry, _STALE, now, head, validator)
                return
            if answer is None:
                await _replay(send, _UNAVAILABLE, status, None, head, None)
                return
        if outcome.revalidated:
            await _replay(send, answer, _REVALIDATED, self.clock(), head, validator)
            return
        await _replay(send, answer, _BYPASS if outcome.bypass else status, None, head, validator)

    async def _fetch(
        self, key: Hashable, origin_scope: Scope, revalidate: Entry | None
    ) -> _Outcome:
        """One origin call per key at a time; who cannot share its answer makes their own."""
        flight = self._current_flight(key)
        if flight is None:
            return await _wait(self._launch(key, origin_scope, revalidate))
        outcome = await _wait(flight)
        if not outcome.shareable:
            outcome = await self._fill(key, origin_scope, self._epoch, None)
        return outcome

    def _refresh(self, key: Hashable, origin_scope: Scope, entry: Entry) -> None:
        """Start the one background refresh of a stale entry, unless it is already running."""
        if self._current_flight(key) is None:
            self._launch(key, origin_scope, entry if entry.origin_etag else None)

    def _current_flight(self, key: Hashable) -> _Flight | None:
        """The origin call a request may share: still running, and begun after the last purge."""
        flight = self._flights.get(key)
        if flight is None or flight.epoch != self._epoch or flight.task.done():
            return None
        return flight

    def _launch(self, key: Hashable, origin_scope: Scope, revalidate: Entry | None) -> _Flight:
        fill = self._fill(key, origin_scope, self._epoch, revalidate)
        flight = _Flight(asyncio.get_running_loop().create_task(fill), self._epoch)
        self._flights[key] = flight
        self._tasks.add(flight.task)

        def landed(task: asyncio.Task[_Outcome]) -> None:
            self._tasks.discard(task)
            if self._flights.get(key) is flight:
                del self._flights[key]

        flight.task.add_done_callback(landed)
        return flight

    async def _fill(
        self, key: Hashable, origin_scope: Scope, started: int, revalidate: Entry | None
    ) -> _Outcome:
        """Call the origin, store what may be stored, and say who may share the answer."""
        try:
            status, headers, body = await call(self.app, request(origin_scope, revalidate))
        except Exception:
            logger.exception("edge cache: the origin failed for key %r", key)
            return _FAILED
        now = self.clock()
        if revalidate is not None and status == 304:
            entry = revalidate.renewed(headers, now, started)
            self._store(key, entry)
            return _Outcome(entry, revalidated=True)
        entry, bypass, personal = entry_from_response(status, headers, body, now)
        entry.started = started
        if entry.freshness is not None:
            self._store(key, entry)
        # An outage is nobody's private data: every waiter gets the 5xx rather than retrying.
        return _Outcome(entry, bypass, not personal and (not bypass or status >= 500))

    def _store(self, key: Hashable, entry: Entry) -> None:
        if entry.size > self.max_bytes or not self._unpurged(entry):
            return  # too big to keep, or fetched before a purge that covers it
        current = self._entries.get(key)
        if current is None or current.started <= entry.started:
            self._entries[key] = entry

    def _unpurged(self, entry: Entry) -> bool:
        """True while no tag of the entry was purged after its origin fetch started."""
        epoch = self._epoch
        if entry.checked == epoch:
            return True
        if entry.started < self._purged_all:
            return False
        purged = self._purged
        for tag in entry.tags:
            if purged.get(tag, -1) > entry.started:
                return False
        entry.checked = epoch
        return True

    async def _dynamic(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Not eligible: pass through, marked DYNAMIC, without the Cloudflare-only headers."""

        async def send_dynamic(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() not in EDGE_ONLY
                ]
                headers.append(_DYNAMIC)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_dynamic)

    def _closing_on_shutdown(self, receive: Receive) -> Receive:
        async def receive_lifespan() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self.aclose()
            return message

        return receive_lifespan


async def _wait(flight: _Flight) -> _Outcome:
    """Await a shared origin call without letting this request's cancellation reach it."""
    try:
        return await asyncio.shield(flight.task)
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if flight.task.cancelled() and current is not None and not current.cancelling():
            return _FAILED  # the call was cancelled by shutdown, not this request
        raise


async def _replay(
    send: Send,
    entry: Entry,
    status: tuple[bytes, bytes],
    now: float | None,
    head: bool,
    validator: bytes | None,
) -> None:
    """Send an entry; ``now`` is given only when it comes from the cache (it then has an Age)."""
    if (
        validator is not None
        and entry.etag is not None
        and 200 <= entry.status < 300
        and _matches(validator, entry.etag)
    ):
        code, headers, body = 304, [*entry.not_modified], b""
    else:
        code, headers, body = entry.status, [*entry.headers], b"" if head else entry.body
    if now is not None:
        headers.append((b"age", b"%d" % (now - entry.born)))
    headers.append(status)
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _matches(validator: bytes, etag: bytes) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2)."""
    if validator == etag:
        return True
    opaque = etag.removeprefix(b"W/")
    for candidate in validator.split(b","):
        candidate = candidate.strip()
        if candidate == b"*" or candidate.removeprefix(b"W/") == opaque:
            return True
    return False
