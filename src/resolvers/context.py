"""The per-request GraphQL context: who is calling, and the request's DataLoaders."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar, overload

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry import UNSET
from strawberry.asgi import GraphQL
from strawberry.dataloader import DataLoader
from strawberry.schema import BaseSchema
from strawberry.types import Info as StrawberryInfo

from ferryman import auth, models
from ferryman.auth import AuthenticationError
from ferryman.body_limits import BodyLimit
from ferryman.doors import error_body
from ferryman.graphiql import FOR_KEYS, GraphiQLPage, Greeting
from ferryman.models import artifact as artifacts
from ferryman.models import license as licenses
from ferryman.models import notification as notifications
from ferryman.models import ramp as ramps
from ferryman.models import summary
from ferryman.models.actor import Actor
from ferryman.settings import Settings
from ferryman.storage import Storage


@dataclasses.dataclass(slots=True)
class Loaders:
    """Batching loaders, one set per request, so nested fields cost one query per level."""

    app: DataLoader[str, models.App | None]
    release: DataLoader[str, models.Release | None]
    api_key: DataLoader[str, models.ApiKey | None]
    artifacts: DataLoader[str, list[models.Artifact]]
    release_count: DataLoader[str, int]
    latest_version: DataLoader[str, str | None]
    periods: DataLoader[str, list[models.CoveragePeriod]]
    webhook: DataLoader[str, models.Webhook | None]
    notification: DataLoader[str, models.Notification | None]
    latest_delivery: DataLoader[str, models.Delivery | None]
    schedule: DataLoader[str, ramps.Schedule | None]

    @classmethod
    def create(cls) -> Loaders:
        return cls(
            app=DataLoader(_by_id(models.App)),
            release=DataLoader(_by_id(models.Release)),
            api_key=DataLoader(_by_id(models.ApiKey)),
            artifacts=DataLoader(_artifacts_by_release),
            release_count=DataLoader(_release_counts),
            latest_version=DataLoader(_latest_versions),
            periods=DataLoader(_periods_by_license),
            webhook=DataLoader(_by_id(models.Webhook)),
            notification=DataLoader(_by_id(models.Notification)),
            latest_delivery=DataLoader(_latest_deliveries),
            schedule=DataLoader(_schedules),
        )


@dataclasses.dataclass(slots=True)
class Context:
    request: Request | WebSocket
    request_id: str | None
    actor_or_none: Actor | None
    auth_error: AuthenticationError | None
    loaders: Loaders = dataclasses.field(default_factory=Loaders.create)

    @property
    def storage(self) -> Storage:
        storage: Storage = self.request.app.state.storage
        return storage

    @property
    def settings(self) -> Settings:
        settings: Settings = self.request.app.state.settings
        return settings

    @property
    def max_upload_bytes(self) -> int:
        return self.settings.max_upload_bytes

    @property
    def max_page_size(self) -> int:
        return self.settings.graphql_max_page_size

    @property
    def actor(self) -> Actor:
        """The caller; the authentication extension guarantees it is set in resolvers."""
        assert self.actor_or_none is not None
        return self.actor_or_none


Info = StrawberryInfo[Context, None]
_M = TypeVar("_M", models.App, models.Release, models.ApiKey, models.Webhook, models.Notification)


def _by_id(model: type[_M]) -> Callable[[list[str]], Awaitable[list[_M | None]]]:
    async def load(ids: list[str]) -> list[_M | None]:
        rows = {row.id: row for row in await model.filter(id__in=ids)}
        return [rows.get(i) for i in ids]

    return load


async def _artifacts_by_release(release_ids: list[str]) -> list[list[models.Artifact]]:
    grouped = await artifacts.of_releases(release_ids)
    return [grouped[i] for i in release_ids]


async def _schedules(release_ids: list[str]) -> list[ramps.Schedule | None]:
    found = await ramps.read_many(release_ids)
    return [found.get(i) for i in release_ids]


async def _release_counts(app_ids: list[str]) -> list[int]:
    counts = await summary.release_counts(app_ids)
    return [counts.get(i, 0) for i in app_ids]


async def _latest_versions(app_ids: list[str]) -> list[str | None]:
    latest = await summary.latest_versions(app_ids)
    return [None if latest[i] is None else str(latest[i]) for i in app_ids]


async def _periods_by_license(license_ids: list[str]) -> list[list[models.CoveragePeriod]]:
    found = await licenses.periods_of(license_ids)
    return [found[i] for i in license_ids]


async def _latest_deliveries(webhook_ids: list[str]) -> list[models.Delivery | None]:
    found = await notifications.latest_deliveries(webhook_ids)
    return [found.get(i) for i in webhook_ids]


_REFUSAL_CODES = {
    401: "UNAUTHENTICATED",
    405: "METHOD_NOT_ALLOWED",
    413: "TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view, with Ferryman's context and a self-hosted GraphiQL."""

    def __init__(
        self, schema: BaseSchema, *, graphiql_assets: Path | None, greeting: Greeting = FOR_KEYS
    ) -> None:
        """``graphiql_assets``: where GraphiQL's files may be installed; None: no GraphiQL."""
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql_assets is not None else None,
            multipart_uploads_enabled=True,
        )
        self.graphiql = (
            None
            if graphiql_assets is None
            else GraphiQLPage(graphiql_assets, super().graphql_ide_html, greeting)
        )

    def decode_json(self, data: str | bytes) -> object:
        try:
            value = json.loads(data)
        except RecursionError:
            raise HTTPException(
                400, "the JSON is nested too deeply for a GraphQL request"
            ) from None
        except ValueError:  # not JSON, or not UTF-8
            raise HTTPException(400, "the body is not JSON (UTF-8)") from None
        if not isinstance(value, dict | list):
            raise HTTPException(
                400, 'a GraphQL request is a JSON object: {"query", "variables", "operationName"}'
            )
        return value

    @overload
    async def run(
        self, request: Request, context: Context = ..., root_value: None = ...
    ) -> Response: ...

    @overload
    async def run(
        self, request: WebSocket, context: Context = ..., root_value: None = ...
    ) -> WebSocket: ...

    async def run(
        self, request: Request | WebSocket, context: Context = UNSET, root_value: None = UNSET
    ) -> Response | WebSocket:
        # Strawberry never closes the request, so the files of a multipart upload (spooled
        # to disk) would stay open until garbage collection: close them once answered.
        try:
            return await super().run(request, context, root_value)
        except HTTPException as error:
            # Strawberry's own refusals (not JSON, no query, batching...) would be plain text.
            body = error_body(
                _REFUSAL_CODES.get(error.status_code, "BAD_REQUEST"), error.reason, graphql=True
            )
            return JSONResponse(body, status_code=error.status_code)
        finally:
            if isinstance(request, Request):
                await request.close()

    def limited(self, settings: Settings) -> BodyLimit:
        """The view behind the body limits: small JSON documents, larger file uploads."""
        return BodyLimit.with_files(
            self, settings.graphql_max_body_bytes, settings.max_upload_bytes
        )

    @property
    def graphql_ide_html(self) -> str:
        return self.graphiql.html if self.graphiql else ""

    async def render_graphql_ide(self, request: Request) -> Response:
        assert self.graphiql is not None, "Strawberry serves the page only when it is on"
        return HTMLResponse(self.graphiql.html, headers=self.graphiql.headers)

    async def authenticate(self, request: Request | WebSocket) -> Actor:
        """Who is asking: the holder of the request's API key."""
        return await auth.authenticate(request)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        request_id = request.scope.get("state", {}).get("request_id")
        try:
            actor = await self.authenticate(request)
        except AuthenticationError as error:
            # Strawberry asks for the context before it reads the body: a file upload
            # without a valid key is refused before a byte of it is taken in.
            if _multipart(request):
                raise HTTPException(401, str(error)) from None
            return Context(
                request=request, request_id=request_id, actor_or_none=None, auth_error=error
            )
        return Context(request=request, request_id=request_id, actor_or_none=actor, auth_error=None)


def _multipart(request: Request | WebSocket) -> bool:
    return any(
        name == b"content-type" and value.lower().startswith(b"multipart/form-data")
        for name, value in request.scope["headers"]
    )
