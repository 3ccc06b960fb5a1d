"""Background loops stop when asked, whatever wakes them at that moment.

Python 3.11's ``asyncio.wait_for`` loses a cancellation that arrives while the awaited
event is being set: the loop took the wake-up, went round again, and ``stop()`` waited for
it forever (a hang seen once in a full PostgreSQL run, at a server's shutdown).
"""

from __future__ import annotations

import asyncio

import pytest

from ferryman.background import BackgroundLoop
from ferryman.generation_watcher import GenerationWatcher
from ferryman.notifications.dispatcher import Dispatcher
from ferryman.settings import Settings


async def stopped(loop: BackgroundLoop, wake: asyncio.Event) -> bool:
    """Start ``loop``, then wake it and stop it in the same step; True if it stopped."""
    loop.start()
    await asyncio.sleep(0.05)  # it waits for its next round
    wake.set()
    stopping = asyncio.create_task(loop.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)
    if not done:
        stopping.cancel()
    return stopping in done


async def test_a_generation_watcher_notified_as_it_is_stopped_stops(orm_url: str) -> None:
    watcher = GenerationWatcher(orm_url)

    assert await stopped(watcher, watcher._wake), "stop() waited for a loop that went on"


async def test_stopping_a_loop_passes_on_what_ended_it() -> None:
    class Failing(BackgroundLoop):
        async def run(self) -> None:
            raise LookupError("the job's own failure")

    failing = Failing()
    failing.start()
    await asyncio.sleep(0)

    with pytest.raises(LookupError, match="the job's own failure"):
        await failing.stop()


async def test_a_stopper_cancelled_meanwhile_is_cancelled() -> None:
    class Stubborn(BackgroundLoop):
        async def run(self) -> None:
            try:
                await asyncio.Event().wait()
            finally:
                await asyncio.Event().wait()  # ignores the first cancellation

    stubborn = Stubborn()
    stubborn.start()
    await asyncio.sleep(0)
    stopping = asyncio.create_task(stubborn.stop())
    await asyncio.sleep(0.05)
    stopping.cancel()

    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert stopping.cancelled()
    await stubborn.stop()  # a second cancellation ends it


async def test_a_notification_dispatcher_woken_as_it_is_stopped_stops(
    orm_url: str, settings: Settings
) -> None:
    dispatcher = Dispatcher(settings)

    assert await stopped(dispatcher, dispatcher._wake), "stop() waited for a loop that went on"
