"""Licence expiry, announced: a periodic look for licences about to end or just ended.

It runs in every worker, beside the dispatcher; which worker finds a licence first does
not matter, since each expiry is announced once (:func:`ferryman.models.license.
announce_expiries`). The messages then go out like any other, through the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from ferryman.background import BackgroundLoop
from ferryman.models import license as licenses
from ferryman.notifications.dispatcher import Clock, utc_now

log = logging.getLogger("ferryman.notifications")

EVERY_SECONDS = 600.0  # how late, at most, an expiry is announced


class ExpiryCheck(BackgroundLoop):
    """Announces licence expiries every ``every`` seconds, from its start."""

    def __init__(self, days: int, *, clock: Clock = utc_now, every: float = EVERY_SECONDS):
        self.ahead = timedelta(days=days)
        self.clock = clock
        self.every = every

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception as error:  # an outage: the next look finds the same licences
                log.warning("notifications: could not check licence expiries: %s", error)
            await asyncio.sleep(self.every)

    async def check(self) -> int:
        """Announce what is due now; returns how many expiries were announced."""
        return await licenses.announce_expiries(self.clock(), self.ahead)
