"""Work a server process does beside its requests: one asyncio task per job, started in
the lifespan and cancelled cleanly at shutdown."""

from __future__ import annotations

import asyncio

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
        """Cancel the job and wait for it; what ended it other than that is raised here."""
        task = self._task
        if task is None:
            return
        task.cancel()
        await asyncio.wait({task})  # unlike awaiting the task, a cancelled stopper stays so
        self._task = None
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error


async def pause(wake: asyncio.Event, seconds: float) -> bool:
    """Wait until ``wake`` is set (True) or ``seconds`` have passed (False).

    Not ``asyncio.wait_for``: on Python 3.11 it drops a cancellation that arrives as the
    event is set, and a loop woken at its shutdown would go on for ever.
    """
    try:
        async with asyncio.timeout(seconds):
            await wake.wait()
    except TimeoutError:
        return False
    return True
