"""Tortoise's SQLite engine, with transactions that take the write lock as they begin.

Tortoise begins a transaction with a plain ``BEGIN``, which SQLite defers: the write lock
is taken at the first write. A transaction that reads first (is this release still a
draft?) and then writes fails at once with "database is locked" when another process
committed in between: SQLite cannot let it write on what it read before, and the busy
timeout does not apply. Every transaction Ferryman opens writes, so here each begins
``IMMEDIATE``: it waits its turn for the write lock (up to the busy timeout), and what it
reads stays true until it commits, as ``SELECT ... FOR UPDATE`` (which SQLite lacks)
promises on PostgreSQL. Writes outside a transaction (one statement, or a bulk insert)
write first, so the busy timeout covers them; readers never wait (WAL).
"""

from __future__ import annotations

import sqlite3

from tortoise.backends.base.client import TransactionalDBClient, TransactionContext
from tortoise.backends.sqlite import client
from tortoise.connection import get_connections
from tortoise.exceptions import TransactionManagementError


class SqliteClient(client.SqliteClient):
    """Tortoise's client but for how a transaction begins."""

    def _in_transaction(self) -> TransactionContext:
        return _Begin(_Transaction(self), self._lock)


class _Transaction(client.SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            await self._connection.commit()  # as Tortoise does: nothing may still be open
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:  # busy past the timeout
            raise TransactionManagementError(error) from error


class _Begin(client.SqliteTransactionContext):
    """Tortoise's, but a BEGIN that fails (the lock stayed busy, or the task was cancelled
    while it waited) gives the process's connection back instead of keeping it locked."""

    async def __aenter__(self) -> TransactionalDBClient:
        transaction: _Transaction = self.connection
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            await transaction.begin()
        except BaseException:
            try:
                if transaction._connection is not None:  # a cancelled BEGIN may yet succeed
                    await transaction._connection.rollback()
            finally:
                self._trxlock.release()
            raise
        self.token = get_connections().set(self.connection_name, transaction)
        return transaction


client_class = SqliteClient  # the name Tortoise looks for in an engine module
