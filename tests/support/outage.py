"""A PostgreSQL cluster of a test's own, to stop under the running app, and the app on it."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette

from ferryman.app import create_app
from ferryman.edge_cache import EdgeCache
from ferryman.models.registry import migrate
from ferryman.settings import Settings
from tests.services import PostgresCluster


@contextlib.asynccontextmanager
async def on_cluster(
    settings: Settings, cluster: PostgresCluster
) -> AsyncIterator[httpx.AsyncClient]:
    """The app, migrated and running on this test's own cluster, and a client of it."""
    url = cluster.url("ferryman")
    await migrate(url)
    application = create_app(dataclasses.replace(settings, database_url=url))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


def later(client: httpx.AsyncClient, seconds: float) -> None:
    """Move the edge cache of ``client``'s app ``seconds`` into the future, so its entries
    expire as time would expire them (no purge: nothing changed)."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    layer = transport.app
    if isinstance(layer, Starlette):
        layer = layer.middleware_stack
    while not isinstance(layer, EdgeCache):
        layer = layer.app  # type: ignore[attr-defined]
    now = layer.clock
    layer.clock = lambda: now() + seconds
