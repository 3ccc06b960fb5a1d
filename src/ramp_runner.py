"""Rollout schedules, kept: a periodic look for schedule steps that are due.

It runs in every worker; which worker takes a step does not matter, since each step is
taken once (a compare-and-set in :func:`ferryman.models.ramp.advance`'s transaction),
with one audit event and one ``release.rollout_changed`` message.
"""

from __future__ import annotations

import asyncio
import logging

from ferryman.background import BackgroundLoop
from ferryman.models import ramp as ramps
from ferryman.notifications.dispatcher import Clock, utc_now

log = logging.getLogger("ferryman.ramps")

EVERY_SECONDS = 30.0  # how late, at most, a step is taken


class RampRunner(BackgroundLoop):
    """Takes the due steps of rollout schedules every ``every`` seconds, from its start."""

    def __init__(self, *, clock: Clock = utc_now, every: float = EVERY_SECONDS) -> None:
        self.clock = clock
        self.every = every

    async def run(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self.every)

    async def tick(self) -> int:
        """Take what is due now; returns how many schedules this worker moved. An outage
        is logged, and the next tick finds the same steps due."""
        try:
            return await ramps.advance(self.clock())
        except Exception as error:
            log.warning("rollout schedules: could not take due steps: %s", error)
            return 0
