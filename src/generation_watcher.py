"""Hears of update-answer changes written by other processes, and announces them here.

It keeps every app's (slug, generation) as last seen and announces the apps whose row
changed, was renamed or was removed. Where the news comes from:

* on PostgreSQL, LISTEN: each committed change arrives with the app's new row, so nothing
  is read; a poll every ``FALLBACK_SECONDS`` (and one after each reconnection) catches
  what a dropped connection missed;
* otherwise (SQLite), a poll every ``POLL_SECONDS`` reads every app's row, so a write by
  another worker on the same file is seen here within that and one read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from tortoise.backends.base.config_generator import expand_db_url

from ferryman.background import BackgroundLoop, pause
from ferryman.models import App
from ferryman.models import generation as generations
from ferryman.models.generation import Row

log = logging.getLogger("ferryman.generations")

POLL_SECONDS = 0.5  # without LISTEN: SQLite, or PostgreSQL while reconnecting
FALLBACK_SECONDS = 5.0  # with LISTEN: what a silently dropped connection missed
RECONNECT_SECONDS = 1.0


class GenerationWatcher(BackgroundLoop):
    """Applies PostgreSQL's notifications as they come, and polls as the fallback."""

    def __init__(
        self,
        database_url: str,
        *,
        interval: float = POLL_SECONDS,
        fallback: float = FALLBACK_SECONDS,
    ) -> None:
        self.interval = interval
        self.fallback = fallback
        self._postgres = database_url.startswith("postgres")
        self._database_url = database_url
        self._seen: dict[str, tuple[str, int]] | None = None  # None until the first poll
        self._news: list[tuple[str, Row]] = []
        self._rescan = True  # the next round polls, whatever news it has
        self._wake = asyncio.Event()
        self.listening = False

    async def poll(self) -> None:
        """Read every app's row and announce the differences."""
        rows = await App.all().values_list("id", "slug", "generation")
        now = {str(app_id): (str(slug), int(gen)) for app_id, slug, gen in rows}
        if self._seen is None:
            self._seen = now
            return
        for app_id in self._seen.keys() | now.keys():
            self._apply(app_id, now.get(app_id))

    def _apply(self, app_id: str, after: Row) -> None:
        assert self._seen is not None
        before = self._seen.get(app_id)
        if before == after or (before and after and after[1] < before[1]):
            return  # nothing new (a notification of a change a poll had already read)
        if before is not None and (after is None or before[0] != after[0]):
            generations.announce(before[0])  # renamed or removed
        if after is None:
            del self._seen[app_id]
        else:
            self._seen[app_id] = after
            generations.announce(*after)

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen()) if self._postgres else None
        try:
            while True:
                self._wake.clear()  # news from here on wakes the next round
                news, self._news = self._news, []
                try:
                    if self._rescan or self._seen is None:
                        self._rescan = False
                        await self.poll()
                    else:
                        for app_id, row in news:
                            self._apply(app_id, row)
                except Exception:  # an outage must not end the watch; it retries next tick
                    self._rescan = True
                    log.warning("could not poll cache generations", exc_info=True)
                if not await pause(self._wake, self.fallback if self.listening else self.interval):
                    self._rescan = True
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _listen(self) -> None:
        while True:
            try:
                connection = await asyncpg.connect(**_credentials(self._database_url))
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("cannot LISTEN for cache generations (polling instead): %s", error)
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            try:
                await self._hear(connection)
                log.warning("the LISTEN connection for cache generations was lost; reconnecting")
            finally:
                self.listening = False
                with contextlib.suppress(Exception):
                    await connection.close(timeout=1)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _hear(self, connection: asyncpg.Connection) -> None:
        """Queue every notification until the connection is lost."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        await connection.add_listener(generations.CHANNEL, self._notified)
        self.listening = True
        self._rescan = True  # what changed while nobody listened
        self._wake.set()
        await lost.wait()

    def _notified(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        self._news.append(generations.parse(payload))
        self._wake.set()


def _credentials(database_url: str) -> dict[str, Any]:
    """asyncpg's arguments for the server Tortoise connects to (pool sizes left out)."""
    credentials = expand_db_url(database_url)["credentials"]
    wanted = ("host", "port", "user", "password", "database", "ssl")
    return {name: credentials[name] for name in wanted if credentials.get(name) is not None}
