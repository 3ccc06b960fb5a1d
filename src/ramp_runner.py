"""Rollout schedules and health gates, kept: a periodic look for gates to evaluate and
schedule steps that are due.

It runs in every worker; which worker takes a step does not matter, since each step is
taken once (a compare-and-set in :func:`ferryman.models.ramp.advance`'s transaction),
with one audit event and one ``release.rollout_changed`` message. Gates are evaluated
first (:func:`ferryman.models.health.evaluate`, a compare-and-set on each gate's next
evaluation), so a halt pauses a schedule before its due step; a gated release's step is
taken only when its gate has enough downloads to judge (:func:`ferryman.models.health.hold`).
"""

from __future__ import annotations

import asyncio
import logging

from ferryman.background import BackgroundLoop
from ferryman.models import health
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
        """Evaluate the gates due and take the steps due now; returns how many schedules
        this worker moved (held ones included). An outage is logged, and the next tick
        finds the same work due."""
        now = self.clock()
        try:
            await health.evaluate(now)
        except Exception as error:
            log.warning("health gates: could not evaluate: %s", error)
        try:
            return await ramps.advance(now, health.hold)
        except Exception as error:
            log.warning("rollout schedules: could not take due steps: %s", error)
            return 0
