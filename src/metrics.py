"""Prometheus metrics, the tally that feeds them, and ``GET /metrics``.

The metrics live in prometheus-client's process registry, as the library intends: with
several workers (``ferryman serve --workers N``) each process writes its samples to a
shared folder and ``/metrics`` adds them up, so any worker answers for all of them.

Every label value comes from a closed set or from the database (app slugs, released
versions), never from a client's free text, so a scanner cannot grow the series.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os

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

from ferryman import logs
from ferryman.background import BackgroundLoop
from ferryman.doors import Door, error_body

# The update check names the version it answered with in this header; the observer
# takes it off before the response leaves (it is kept in edge-cache entries, so a HIT
# is counted like the MISS that filled it).
OFFER_HEADER = "x-ferryman-offer"
NO_UPDATE = "none"
# Put before the version a LICENSED app offers: its metrics say only that an update was
# offered, since a vendor may not want its versions public.
PRIVATE_OFFER = "~"
OFFERED = "update"
# prometheus-client's own switch for sharing samples between worker processes.
SHARED_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

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
    'Update checks answered, by app and the version offered ("none": no update; '
    '"update" for any version of a LICENSED app).',
    ["app", "answered"],
)
DOWNLOADS = Counter(
    "ferryman_downloads",
    "Downloads through /dl counted for analytics, by platform.",
    ["platform"],
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

LOG_LINES_DROPPED = Counter(
    "ferryman_log_lines_dropped",
    "Log lines dropped because stderr was not read fast enough (each loss is also logged).",
)
LOOP_LAG = Histogram(
    "ferryman_event_loop_lag_seconds",
    "How late the event loop woke a 100 ms timer: time requests waited behind other work.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)

logger = logging.getLogger("ferryman.access")
_LATENCY: dict[Door, Histogram] = {}
# The counted labels of one answer: door, method, status, edge-cache status, app, offer.
Answer = tuple[Door, str, int, bytes | None, str | None, bytes | None]


class Tally:
    """This process's answers, counted in a plain dict and added to the Prometheus counters
    in batches: the counters take a lock per change, and the edge cache answers tens of
    thousands of HITs a second. Flushed before ``/metrics`` answers and every second (so
    the other workers' ``/metrics`` see them too); the latency histogram is observed at once.
    """

    def __init__(self) -> None:
        self._answers: dict[Answer, int] = {}
        # Update checks answered from memory since the last summary line (each is logged
        # only at DEBUG): edge-cache HITs, and the express lane's answers without the edge.
        self.from_memory = 0
        self._dropped = 0  # log lines dropped, as already counted

    def count(self, answer: Answer, elapsed: float) -> None:
        self._answers[answer] = self._answers.get(answer, 0) + 1
        histogram = _LATENCY.get(answer[0])
        if histogram is None:
            histogram = _LATENCY[answer[0]] = LATENCY.labels(answer[0].value)
        histogram.observe(elapsed)

    def flush(self) -> None:
        dropped = logs.dropped()
        if dropped > self._dropped:
            LOG_LINES_DROPPED.inc(dropped - self._dropped)
            self._dropped = dropped
        answers, self._answers = self._answers, {}
        for (door, method, status, cache, app, offer), count in answers.items():
            REQUESTS.labels(door.value, method, str(status)).inc(count)
            if door is Door.UPDATES and cache is not None:
                EDGE_CACHE.labels(cache.decode("latin-1")).inc(count)
            if app is not None and offer is not None:
                answered = offer.decode("latin-1")
                if answered.startswith(PRIVATE_OFFER):
                    answered = OFFERED
                UPDATE_CHECKS.labels(app, answered).inc(count)


TALLY = Tally()


class Pulse(BackgroundLoop):
    """Every 100 ms: how late the loop woke (``LOOP_LAG``); every second, the tally's
    flush; every minute, one INFO line with the number of update checks answered from
    memory, which are logged one by one only at DEBUG (they are most of the traffic)."""

    TICK = 0.1
    FLUSH_TICKS = 10
    SUMMARY_TICKS = 600

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self._beat(loop)
        finally:
            TALLY.flush()  # a stopping worker's last second counts too

    async def _beat(self, loop: asyncio.AbstractEventLoop) -> None:
        ticks = 0
        while True:
            due = loop.time() + self.TICK
            await asyncio.sleep(self.TICK)
            LOOP_LAG.observe(max(0.0, loop.time() - due))
            ticks += 1
            if ticks % self.FLUSH_TICKS == 0:
                TALLY.flush()
            if ticks % self.SUMMARY_TICKS == 0 and TALLY.from_memory:
                logger.info(
                    "%d update checks answered from memory in the last minute "
                    "(logged one by one at DEBUG)",
                    TALLY.from_memory,
                    extra={"count": TALLY.from_memory},
                )
                TALLY.from_memory = 0


def share_between_workers(directory: str) -> None:
    """Before worker processes start: make them write samples to ``directory``."""
    os.environ[SHARED_DIR_VARIABLE] = directory


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
        TALLY.flush()
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
