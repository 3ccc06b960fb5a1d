"""The ASGI application: every route, middleware and the lifespan, in one place."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, request_response
from starlette.types import ASGIApp
from tortoise import connections
from tortoise.contrib.starlette import RegisterTortoise

from ferryman import console, logs
from ferryman.analytics.recorder import Recorder
from ferryman.body_limits import BodyLimit
from ferryman.cloudflare import CloudflarePurger
from ferryman.doors import Door, door_of, error_body
from ferryman.edge_cache import EdgeCache
from ferryman.express_lane import ExpressLane
from ferryman.front import Front
from ferryman.generation_watcher import GenerationWatcher
from ferryman.graphiql import MOUNT
from ferryman.metrics import MetricsEndpoint, Pulse
from ferryman.models import generation as generations
from ferryman.models.registry import UNAVAILABLE, tortoise_config
from ferryman.notifications.dispatcher import Dispatcher
from ferryman.notifications.expiry import ExpiryCheck
from ferryman.notifications.mail import SmtpMailer
from ferryman.ramp_runner import RampRunner
from ferryman.rate_limits import Budgets, RateLimits
from ferryman.request_context import RequestContext
from ferryman.resolvers.context import GraphQLView
from ferryman.resolvers.schema import build_schema
from ferryman.rest_compat import admin
from ferryman.rest_compat.beacon import MAX_BODY as MAX_BEACON_BODY
from ferryman.rest_compat.beacon import beacon
from ferryman.rest_compat.ci import MAX_BODY as MAX_CI_BODY
from ferryman.rest_compat.ci import submit_release
from ferryman.rest_compat.downloads import download
from ferryman.rest_compat.links import DownloadLinks
from ferryman.rest_compat.manifest import Resolver
from ferryman.rest_compat.tauri import CachePolicy, CheckRule, check
from ferryman.settings import Settings
from ferryman.storage import Storage, StorageUnavailable

READ = ["GET", "HEAD"]


def create_app(settings: Settings) -> Starlette:
    """Assemble Ferryman for ``settings``; the database must already be migrated and the
    S3 endpoint known (``ferryman dev`` starts a local one first)."""
    schema = build_schema(settings)
    graphql = GraphQLView(
        schema, graphiql_assets=settings.graphiql_assets if settings.graphiql_enabled else None
    )
    graphiql = graphql.graphiql

    # Without any configured secret (no S3 credentials either), links last one process.
    secret = settings.signing_secret or secrets.token_urlsafe(32)
    resolver = Resolver(DownloadLinks(secret, settings.base_url))
    context = RequestContext(settings.trusted_proxies)
    policy = CachePolicy(settings.update_ttl)
    rule = CheckRule(resolver, policy)
    budgets = Budgets(settings)
    recorder = Recorder(settings.analytics)
    counting = recorder if recorder.counting_checks else None
    lane = ExpressLane(context, rule, budgets, counting, cached=bool(settings.edge_cache_bytes))
    edges: list[EdgeCache] = []

    def edge_cache(app: ASGIApp) -> ASGIApp:
        # Built by Starlette with the middleware stack; kept so changes can purge it.
        edge = EdgeCache(app, rule=rule, max_bytes=settings.edge_cache_bytes, credentials=True)
        edges.append(edge)
        lane.edge = edge
        return edge

    def changed(app_slug: str, generation: int | None) -> None:
        # Answers built from this generation (this process's own write) stay.
        if resolver.forget(app_slug, generation):
            for edge in edges:
                edge.purge(f"app:{app_slug}")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        storage = Storage(settings)
        await storage.open()
        app.state.storage = storage
        app.state.settings = settings
        app.state.resolver = resolver
        app.state.cache_policy = policy
        app.state.recorder = recorder
        watcher = GenerationWatcher(settings.database_url)
        pulse = Pulse()
        purger = CloudflarePurger(settings) if settings.cloudflare_zone_id else None
        notifying = settings.send_notifications
        mailer = SmtpMailer(settings) if settings.smtp_host else None
        dispatcher = Dispatcher(settings, mailer=mailer) if notifying else None
        expiry = ExpiryCheck(settings.notify_license_expiring_days) if notifying else None
        runner = RampRunner()
        generations.subscribe(changed)
        try:
            async with RegisterTortoise(app, config=tortoise_config(settings.database_url)):
                recorder.start()
                watcher.start()
                pulse.start()
                if purger is not None:
                    purger.start()
                if dispatcher is not None:
                    dispatcher.start()
                if expiry is not None:
                    expiry.start()
                runner.start()
                try:
                    yield
                finally:
                    await runner.stop()
                    if expiry is not None:
                        await expiry.stop()
                    if dispatcher is not None:
                        await dispatcher.stop()
                    if purger is not None:
                        await purger.stop()
                    await pulse.stop()
                    await watcher.stop()
                    await recorder.stop()
        finally:
            generations.unsubscribe(changed)
            await storage.close()

    routes = [
        Route("/healthz", healthz, methods=READ),
        Route("/readyz", readyz, methods=READ),
        Route(
            "/metrics",
            MetricsEndpoint(
                settings.metrics_token,
                shared=settings.workers > 1,
                production=settings.production,
            ).respond,
            methods=READ,
        ),
        Route("/dl/{app_id}/{version}/{platform}", download, methods=READ),
        Route(
            "/health/{app_id}/{version}/{platform}",
            BodyLimit(request_response(beacon), MAX_BEACON_BODY),
            methods=["POST"],
        ),
        Route(
            "/ci/apps/{app_slug}/releases",
            BodyLimit(request_response(submit_release), MAX_CI_BODY),
            methods=["POST"],
        ),
        *admin.routes(settings),
        console.mount(settings, schema),
        Route("/{app_slug}/update/{target}/{arch}/{current_version}", check, methods=READ),
        Route("/{app_slug}/update/{target}/{current_version}", check, methods=READ),
        Route("/graphql", graphql.limited(settings), methods=["GET", "POST"]),
    ]
    if graphiql and graphiql.local:
        routes.append(Route(MOUNT + "/{path:path}", graphiql.asset, methods=READ))

    def front_layer(app: ASGIApp) -> ASGIApp:
        return Front(app, context, counting)

    middleware = [Middleware(RateLimits, budgets=budgets)]
    if settings.cors_origins:
        cors = Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "x-request-id"],
            expose_headers=["x-request-id", "retry-after"],
            max_age=600,
        )
        middleware.insert(0, cors)
    front: list[Callable[[ASGIApp], ASGIApp]] = [front_layer]
    if settings.edge_cache_bytes:
        front.append(edge_cache)
    return Fronted(
        front,
        lane,
        routes=routes,
        middleware=middleware,
        exception_handlers={
            HTTPException: http_error,
            **dict.fromkeys(UNAVAILABLE, unavailable),
            StorageUnavailable: unavailable,
        },
        lifespan=lifespan,
    )


def from_environment() -> Starlette:
    """The app of one worker process of ``ferryman serve --workers N``."""
    settings = Settings.from_env()
    logs.configure(settings.log_level, json_lines=settings.log_format == "json")
    return create_app(settings)


class Fronted(Starlette):
    """Starlette with layers in front of its whole stack, outermost first: the front (the
    request's id and address, metrics, access log), then the edge cache where a CDN sits,
    so that a HIT costs no more than the lookup and everything behind it (errors, rate
    limits) is the origin's. ``express_lane`` answers fresh HITs for a server that can
    take them below ASGI (:mod:`ferryman.express_lane`)."""

    def __init__(
        self,
        front: Sequence[Callable[[ASGIApp], ASGIApp]],
        express_lane: ExpressLane,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.front = front
        self.express_lane = express_lane

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        for layer in reversed(self.front):
            stack = layer(stack)
        return stack


async def healthz(request: Request) -> JSONResponse:
    """The process is up (for liveness probes; touches nothing)."""
    return JSONResponse({"status": "ok"})


async def unavailable(request: Request, error: Exception) -> JSONResponse:
    """An outage outside GraphQL execution (authentication, say): 503, retry later."""
    what = "object storage" if isinstance(error, StorageUnavailable) else "the database"
    message = f"{what} is unavailable; try again shortly"
    return _error(request, 503, "SERVICE_UNAVAILABLE", message, {"Retry-After": "5"})


_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}


async def http_error(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own refusals (no such route, wrong method, a body over the route's limit)
    in the door's error shape."""
    assert isinstance(error, HTTPException)
    status, message = error.status_code, error.detail
    if status == 404:
        message = f"nothing is served at {request.url.path[:200]}"
    elif status == 405:
        allowed = (error.headers or {}).get("Allow", "another method")
        message = f"{request.method[:20]} is not allowed here; use {allowed}"
    code = _HTTP_CODES.get(status, "BAD_REQUEST")
    return _error(request, status, code, message, error.headers)


def _error(
    request: Request, status: int, code: str, message: str, headers: Mapping[str, str] | None
) -> JSONResponse:
    graphql = door_of(request.url.path) is Door.GRAPHQL
    body = error_body(code, message, graphql=graphql)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


async def readyz(request: Request) -> JSONResponse:
    """The database answers (for readiness probes and load balancers)."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as error:  # any failure here means "not ready", whatever its kind
        return JSONResponse(
            {
                "status": "unavailable",
                "error": {
                    "code": "DATABASE_UNAVAILABLE",
                    "message": f"database unreachable: {error}",
                },
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok"})
