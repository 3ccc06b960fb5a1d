"""Work a server process does beside its requests: one asyncio task per job, started in
the lifespan and cancelled cleanly at shutdown."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundLoop:
    """Runs :meth:`run` as a task from :meth:`start` until :meth:`stop`."""

    _task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
