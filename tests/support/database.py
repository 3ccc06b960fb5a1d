"""The stored rows, read directly: to prove what a request changed, or that it changed
nothing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from tortoise import Tortoise, connections

from ferryman.auth import hash_key
from ferryman.models import (
    ApiKey,
    App,
    Artifact,
    AuditEvent,
    CoveragePeriod,
    Delivery,
    DownloadCount,
    Grant,
    License,
    Notification,
    Ramp,
    RampStep,
    Release,
    Session,
    User,
    Webhook,
)
from ferryman.models.registry import tortoise_config

_TABLES = (
    App,
    Release,
    Ramp,
    RampStep,
    Artifact,
    ApiKey,
    AuditEvent,
    DownloadCount,
    License,
    CoveragePeriod,
    User,
    Grant,
    Session,
    Webhook,
    Notification,
    Delivery,
)


@contextlib.asynccontextmanager
async def bound(url: str) -> AsyncIterator[None]:
    """The models bound to the database at ``url`` in this process: to set up, and to
    read what a server or a command wrote, beside it."""
    await Tortoise.init(config=tortoise_config(url))
    try:
        yield
    finally:
        await Tortoise.close_connections()


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, to prove that a refused request changed nothing.

    ``last_used_at`` is left out: it records that a key was used, which a refused
    request legitimately does (at most once a minute); so are the counts of update
    checks, which count every check answered.
    """
    state: dict[str, list[dict[str, Any]]] = {}
    for model in _TABLES:
        rows = await model.all().order_by("id").values()
        for row in rows:
            row.pop("last_used_at", None)
        state[model.__name__] = rows
    return state


async def key_row(secret: str) -> ApiKey:
    """The stored row of a key, found the way the server finds it (by hash)."""
    return await ApiKey.get(key_hash=hash_key(secret))


async def every_value() -> list[tuple[str, str, object]]:
    """Every value of every row of every table in the database, as (table, column, value),
    read without the models: tables no model names are searched too. On PostgreSQL each
    row is also given whole, cast to text, under the column ``(row)``."""
    connection = connections.get("default")
    postgres = connection.capabilities.dialect == "postgres"
    if postgres:
        listed = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
    else:
        listed = "SELECT name FROM sqlite_master WHERE type = 'table'"
    found: list[tuple[str, str, object]] = []
    for table in [row["name"] for row in await connection.execute_query_dict(listed)]:
        for row in await connection.execute_query_dict(f'SELECT * FROM "{table}"'):
            found.extend((table, column, value) for column, value in row.items())
        if postgres:
            whole = await connection.execute_query_dict(f'SELECT t::text AS row FROM "{table}" t')
            found.extend((table, "(row)", row["row"]) for row in whole)
    return found
