"""Hears of update-answer changes written by other processes, and announces them here.

Each poll reads every app's (slug, generation) and announces the apps whose row changed,
was renamed or was removed. On PostgreSQL the watcher also LISTENs on the generations
channel: another process's commit wakes it at once, and the poll slows to a fallback
for notifications lost while the listening connection was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from tortoise.backends.base.config_generator import expand_db_url

from ferryman.background import BackgroundLoop
from ferryman.models import App
from ferryman.models import generation as generations

log = logging.getLogger("ferryman.generations")

POLL_SECONDS = 0.5  # without LISTEN: SQLite, or PostgreSQL while reconnecting
FALLBACK_SECONDS = 5.0  # with LISTEN: what a silently dropped connection missed
RECONNECT_SECONDS = 1.0


class GenerationWatcher(BackgroundLoop):
    """Polls the apps' generations, woken early by PostgreSQL notifications."""

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
        self._seen: dict[str, tuple[str, int]] | None = None
        self._wake = asyncio.Event()
        self.listening = False

    async def poll(self) -> None:
        rows = await App.all().values_list("id", "slug", "generation")
        seen = {str(app_id): (str(slug), int(gen)) for app_id, slug, gen in rows}
        if self._seen is not None:
            for app_id in self._seen.keys() | seen.keys():
                before, after = self._seen.get(app_id), seen.get(app_id)
                if before == after:
                    continue
                if before is not None and (after is None or before[0] != after[0]):
                    generations.announce(before[0])  # renamed or removed
                if after is not None:
                    generations.announce(after[0], after[1])
        self._seen = seen

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen()) if self._postgres else None
        try:
            while True:
                self._wake.clear()
                try:
                    await self.poll()
                except Exception:  # an outage must not end the watch; it retries next tick
                    log.warning("could not poll cache generations", exc_info=True)
                wait = self.fallback if self.listening else self.interval
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
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
        """Wake the poll on every notification until the connection is lost."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        await connection.add_listener(generations.CHANNEL, self._woken)
        self.listening = True
        self._wake.set()  # what changed while nobody listened
        await lost.wait()

    def _woken(self, *_notification: object) -> None:
        self._wake.set()


def _credentials(database_url: str) -> dict[str, Any]:
    """asyncpg's arguments for the server Tortoise connects to (pool sizes left out)."""
    credentials = expand_db_url(database_url)["credentials"]
    wanted = ("host", "port", "user", "password", "database", "ssl")
    return {name: credentials[name] for name in wanted if credentials.get(name) is not None}
