"""Rate limits: token buckets in memory, one budget per door, answered with 429.

* A request that carries credentials is charged to them (so CI runners sharing one NAT
  address do not share a budget); any other request to its client address (an IPv6
  address by its /64, which is what one customer gets).
* The updater's budget is spent only by edge-cache MISSes: this middleware sits behind
  the cache, so HITs never reach it.
* Failed authentications are counted per address; once an address has used up that
  budget, it is refused on the authenticated doors until it refills, valid key or not.

Buckets hold a minute's worth of requests and refill continuously. They live in each
process: with ``--workers N`` an address may get up to N times the budget.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import math
import time

from cachetools import TTLCache
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ferryman.doors import Door, door_of, error_body
from ferryman.metrics import RATE_LIMITED
from ferryman.settings import Settings

# Distinct clients remembered per budget; beyond that the least recent start afresh.
MAX_CLIENTS = 100_000
_AUTHENTICATED = frozenset({Door.GRAPHQL, Door.ADMIN, Door.CI, Door.CONSOLE})
_AUTHORIZATION = b"authorization"


@dataclasses.dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """``per_minute`` tokens per client, refilled continuously; idle buckets are dropped
    (after a minute they would be full anyway)."""

    def __init__(self, per_minute: int, max_clients: int = MAX_CLIENTS) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60
        self._buckets: TTLCache[str, _Bucket] = TTLCache(max_clients, ttl=60)

    def take(self, client: str, now: float) -> float:
        """Spend a token: 0 when there was one, else the seconds until there is."""
        bucket = self._refilled(client, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate

    def wait(self, client: str, now: float) -> float:
        """Seconds until ``client`` has a token again, spending nothing."""
        bucket = self._buckets.get(client)
        if bucket is None:
            return 0.0
        tokens = min(self.per_minute, bucket.tokens + (now - bucket.stamp) * self._rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self._rate

    def _refilled(self, client: str, now: float) -> _Bucket:
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = _Bucket(float(self.per_minute), now)
        else:
            bucket.tokens = min(self.per_minute, bucket.tokens + (now - bucket.stamp) * self._rate)
            bucket.stamp = now
        self._buckets[client] = bucket  # (re)setting restarts the idle timer
        return bucket


class Budgets:
    """Every door's buckets from the ``FERRYMAN_RATE_LIMIT_*`` settings (0: no limit): one
    set per process, spent by the middleware and by the express lane alike."""

    def __init__(self, settings: Settings) -> None:
        per_door = {
            Door.GRAPHQL: settings.rate_limit_graphql,
            Door.ADMIN: settings.rate_limit_admin,
            Door.CI: settings.rate_limit_ci,
            Door.DOWNLOADS: settings.rate_limit_downloads,
            Door.UPDATES: settings.rate_limit_updates,
            Door.CONSOLE: settings.rate_limit_console,
        }
        self.doors = {door: TokenBuckets(n) for door, n in per_door.items() if n}
        failures = settings.rate_limit_auth_failures
        self.failures = TokenBuckets(failures) if failures else None

    def admits(self, door: Door, address: str) -> bool:
        """Spend a token of the door's budget for an uncredentialed request from
        ``address``; False (nothing spent) when there is none left."""
        budget = self.doors.get(door)
        return budget is None or not budget.take(_client(address), time.monotonic())


class RateLimits:
    """Pure ASGI middleware enforcing the :class:`Budgets`."""

    def __init__(self, app: ASGIApp, budgets: Budgets) -> None:
        self.app = app
        self._budgets = budgets.doors
        self._failures = budgets.failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        door = door_of(scope["path"])
        budget = self._budgets.get(door)
        checks_failures = self._failures is not None and door in _AUTHENTICATED
        if budget is None and not checks_failures:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        address = _client(state.get("client_ip") or "unknown")
        now = time.monotonic()
        if checks_failures:
            assert self._failures is not None
            wait = self._failures.wait(address, now)
            if wait:
                await self._refuse(scope, receive, send, door, "auth_failures", wait)
                return
        if budget is not None:
            credentials = _credentials(scope) if door in _AUTHENTICATED else None
            kind, client = ("key", credentials) if credentials else ("ip", address)
            wait = budget.take(client, now)
            if wait:
                await self._refuse(scope, receive, send, door, kind, wait, budget.per_minute)
                return
        await self.app(scope, receive, send)
        if checks_failures and state.get("authentication_failed"):
            assert self._failures is not None
            self._failures.take(address, time.monotonic())

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        door: Door,
        kind: str,
        wait: float,
        per_minute: int | None = None,
    ) -> None:
        RATE_LIMITED.labels(door.value, kind).inc()
        seconds = max(1, math.ceil(wait))
        if kind == "auth_failures":
            message = f"too many failed authentications from this address; try again in {seconds} s"
        else:
            holder = "API key" if kind == "key" else "address"
            message = (
                f"rate limit for {door.value} exceeded: at most {per_minute} requests a "
                f"minute per {holder}; try again in {seconds} s"
            )
        response = JSONResponse(
            error_body("RATE_LIMITED", message, graphql=door is Door.GRAPHQL),
            status_code=429,
            headers={"Retry-After": str(seconds), "Cache-Control": "no-store"},
        )
        await response(scope, receive, send)


def _credentials(scope: Scope) -> str | None:
    """A digest of the credentials in the Authorization header, if any: the budget's holder,
    never stored raw. The token alone counts, however the header spells its scheme."""
    for name, value in scope["headers"]:
        if name == _AUTHORIZATION:
            scheme, _, token = value.strip().partition(b" ")
            held = token.strip() if scheme.lower() == b"bearer" else value.strip()
            return hashlib.sha256(held).hexdigest()[:32]
    return None


def _client(address: str) -> str:
    """The budget holder for an address: IPv6 by its /64."""
    if ":" in address:
        try:
            return str(ipaddress.ip_network(f"{address}/64", strict=False))
        except ValueError:
            return address
    return address
