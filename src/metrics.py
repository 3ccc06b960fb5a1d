"""Prometheus metrics, the access log, and ``GET /metrics``.

The metrics live in prometheus-client's process registry, as the library intends: with
several workers (``ferryman serve --workers N``) each process writes its samples to a
shared folder and ``/metrics`` adds them up, so any worker answers for all of them.

Every label value comes from a closed set or from the database (app slugs, released
versions), never from a client's free text, so a scanner cannot grow the series.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import time
from typing import TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ferryman.doors import Door, door_of, error_body

# The update check names the version it answered with in this header; the observer
# takes it off before the response leaves (it is kept in edge-cache entries, so a HIT
# is counted like the MISS that filled it).
OFFER_HEADER = "x-ferryman-offer"
_OFFER = OFFER_HEADER.encode()
NO_UPDATE = "none"
# prometheus-client's own switch for sharing samples between worker processes.
SHARED_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "ferryman_http_requests",
    "HTTP requests answered, by door, method and status.",
    ["door", "method", "status"],
)
LATENCY = Histogram(
    "ferryman_http_request_duration_seconds",
    "Time from request to the end of the response, by door.",
    ["door"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EDGE_CACHE = Counter(
    "ferryman_edge_cache_responses",
    "Update checks by edge-cache status (HIT, MISS, STALE, EXPIRED, UPDATING, ...).",
    ["status"],
)
UPDATE_CHECKS = Counter(
    "ferryman_update_checks",
    'Update checks answered, by app and the version offered ("none": no update).',
    ["app", "answered"],
)
RESOLVER_REBUILDS = Counter(
    "ferryman_resolver_rebuilds",
    "Times an app's update index was built from the database.",
    ["app"],
)
VERIFICATIONS = Counter(
    "ferryman_artifact_verifications",
    "Uploaded artifacts checked against their app's key, by result (verified, failed).",
    ["result"],
)
RATE_LIMITED = Counter(
    "ferryman_rate_limited",
    "Requests refused with 429, by door and budget (ip, key, auth_failures).",
    ["door", "budget"],
)

access_log = logging.getLogger("ferryman.access")

MetricT = TypeVar("MetricT", Counter, Histogram)


@functools.lru_cache(maxsize=4096)
def _series(metric: MetricT, *labels: str) -> MetricT:
    """One labelled series, looked up once: ``labels()`` takes a lock on every call, and
    the observer runs on every request, edge-cache HITs included."""
    return metric.labels(*labels)


def share_between_workers(directory: str) -> None:
    """Before worker processes start: make them write samples to ``directory``."""
    os.environ[SHARED_DIR_VARIABLE] = directory


class Observer:
    """Pure ASGI middleware, outermost: counts and times every request and logs it.

    Edge-cache HITs are logged at DEBUG (they are the bulk of the traffic and are
    counted in full); everything else at INFO.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app fails before responding
        cache_status: bytes | None = None
        offer: bytes | None = None

        async def observe(message: Message) -> None:
            nonlocal status, cache_status, offer
            if message["type"] == "http.response.start":
                status = message["status"]
                kept = []
                for name, value in message.get("headers", ()):
                    if name == _OFFER:
                        offer = value
                        continue
                    if name == b"cf-cache-status":
                        cache_status = value
                    kept.append((name, value))
                message["headers"] = kept
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            elapsed = time.perf_counter() - started
            door = door_of(scope["path"])
            self._count(scope, door, status, elapsed, cache_status, offer)

    @staticmethod
    def _count(
        scope: Scope,
        door: Door,
        status: int,
        elapsed: float,
        cache_status: bytes | None,
        offer: bytes | None,
    ) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        _series(REQUESTS, door.value, method, str(status)).inc()
        _series(LATENCY, door.value).observe(elapsed)
        if door is Door.UPDATES and cache_status is not None:
            _series(EDGE_CACHE, cache_status.decode("latin-1")).inc()
        if offer is not None:
            app = scope["path"][1:].partition("/")[0]
            _series(UPDATE_CHECKS, app, offer.decode("latin-1")).inc()
        level = logging.DEBUG if cache_status == b"HIT" else logging.INFO
        if access_log.isEnabledFor(level):
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
                    "client": scope.get("state", {}).get("client_ip"),
                    "cache": cache_status.decode("latin-1") if cache_status else None,
                },
            )


class MetricsEndpoint:
    """``GET /metrics`` in Prometheus text format, behind a bearer token when one is set.

    In production it is off until a token is set: its series name apps and the versions
    they offer, which a LICENSED app's vendor may not want public.
    """

    def __init__(self, token: str | None, shared: bool, production: bool = False) -> None:
        self.token = token
        self.shared = shared
        self.closed = production and token is None

    async def respond(self, request: Request) -> Response:
        if self.closed:
            return _refusal(
                403,
                "FORBIDDEN",
                "metrics are off in production until FERRYMAN_METRICS_TOKEN is set; "
                "Prometheus then sends it as a bearer token",
            )
        if self.token is not None and not self._authorised(request):
            return _refusal(
                401,
                "UNAUTHENTICATED",
                "metrics need 'Authorization: Bearer <FERRYMAN_METRICS_TOKEN>'",
                {"WWW-Authenticate": "Bearer"},
            )
        registry = REGISTRY
        if self.shared:  # `serve --workers N` set SHARED_DIR_VARIABLE before forking
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    def _authorised(self, request: Request) -> bool:
        assert self.token is not None
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        )


def _refusal(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = error_body(code, message, graphql=False)
    return JSONResponse(body, status_code=status, headers=headers)
