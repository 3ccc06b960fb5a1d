"""Work a server process does beside its requests: one asyncio task per job, started in
the lifespan and cancelled cleanly at shutdown."""

from __future__ import annotations

import asyncio
import contextlib

BACKGROUND = "background:"  # the prefix of every job's task name


class BackgroundLoop:
    """Runs :meth:`run` as a task from :meth:`start` until :meth:`stop`."""

    _task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        # Named, so logs and tests can tell the job's queries from the requests'.
        self._task = asyncio.create_task(self.run(), name=f"{BACKGROUND}{type(self).__name__}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
