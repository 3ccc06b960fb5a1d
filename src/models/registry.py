"""Tortoise configuration: one place that says which models and migrations exist."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import DBConnectionError
from tortoise.migrations import api as migrations_api

# What a database outage looks like from here (connection refused or lost, server
# starting or shutting down): answered as "unavailable, try again", never as a bug.
UNAVAILABLE: tuple[type[Exception], ...] = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    DBConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
)

SQLITE_BUSY_MS = 5_000
SQLITE_ENGINE = "ferryman.models.sqlite"
MODELS_MODULE = "ferryman.models"
MIGRATIONS_MODULE = "ferryman.models.migrations"


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The config dict for ``Tortoise.init`` and the migration runner.

    SQLite runs in WAL mode (readers never wait for the writer), waits up to
    ``SQLITE_BUSY_MS`` for a lock instead of failing at once, and begins every transaction
    by taking the write lock (``models.sqlite``), so that several processes (workers, the
    CLI beside a server) write to one file in turn. For a SQLite file it also creates the
    file's folder: SQLite cannot, and the first connection would otherwise wait forever
    instead of failing.
    """
    connection: str | dict[str, Any] = database_url
    if database_url.startswith("sqlite://"):
        if ":memory:" not in database_url:
            path = Path(database_url.removeprefix("sqlite://"))
            path.parent.mkdir(parents=True, exist_ok=True)
        connection = expand_db_url(database_url)
        connection["engine"] = SQLITE_ENGINE
        connection["credentials"].update(journal_mode="WAL", busy_timeout=SQLITE_BUSY_MS)
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For `tortoise makemigrations` (see pyproject's [tool.tortoise]): the model state is
# compared with the committed migrations, so no real database is needed.
MIGRATION_CONFIG = tortoise_config("sqlite://:memory:")


async def migrate(database_url: str) -> None:
    """Apply every committed migration that the database has not seen yet."""
    config = tortoise_config(database_url)
    try:
        await migrations_api.migrate(config=config)
    finally:
        await connections.close_all()
