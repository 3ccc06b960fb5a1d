"""SQLite transactions take the write lock as they begin: a write by another process
between a transaction's read and its write makes the other wait, not this one fail."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tortoise import connections
from tortoise.context import TortoiseContext
from tortoise.exceptions import TransactionManagementError
from tortoise.transactions import in_transaction

from ferryman.models.registry import tortoise_config
from tests.services import sqlite_url


async def test_a_transaction_that_read_first_still_writes_when_another_process_writes(
    tmp_path: Path,
) -> None:
    config = tortoise_config(sqlite_url(tmp_path / "locks.sqlite3"))
    config["connections"]["other"] = config["connections"]["default"]  # a second connection
    async with TortoiseContext() as context:
        await context.init(config=config)
        ours, theirs = connections.get("default"), connections.get("other")
        await ours.execute_script("CREATE TABLE marks (n INTEGER)")
        async with in_transaction("default") as transaction:
            await transaction.execute_query("SELECT count(*) FROM marks")
            their_write = asyncio.ensure_future(
                theirs.execute_query("INSERT INTO marks VALUES (1)")
            )
            await asyncio.sleep(0.2)  # time enough to commit, were the write lock not taken
            assert not their_write.done()
            await transaction.execute_query("INSERT INTO marks VALUES (2)")
        await their_write
        _, rows = await ours.execute_query("SELECT n FROM marks ORDER BY rowid")
    assert [row["n"] for row in rows] == [2, 1]


async def test_a_transaction_that_cannot_begin_gives_the_connection_back(tmp_path: Path) -> None:
    config = tortoise_config(sqlite_url(tmp_path / "busy.sqlite3"))
    config["connections"]["default"]["credentials"]["busy_timeout"] = 100
    config["connections"]["other"] = config["connections"]["default"]
    async with TortoiseContext() as context:
        await context.init(config=config)
        ours = connections.get("default")
        async with in_transaction("other"):  # another process holds the write lock
            with pytest.raises(TransactionManagementError, match="database is locked"):
                async with in_transaction("default"):
                    pass
        _, rows = await asyncio.wait_for(ours.execute_query("SELECT 1 AS one"), 5)
    assert rows[0]["one"] == 1
