"""Which releases a licence covers: the one rule the updater, the edge cache and
``updatePreview`` apply.

A licence holds coverage periods (a yearly licence is one period of a year; a renewal
adds one; a lapse leaves a gap). A release is judged by its *effective date*: its
publish time, or an admin's audited ``coverageDate``. It is covered when that date falls
in a period, ends included, or before the first period began (a licence bought today
covers the product as it ships today). Releases dated inside a gap stay uncovered after
a renewal: the customer did not pay for that time.

While a licence is current (now is at most its last end plus the app's grace days) this
is the whole rule. Once it has lapsed, the app's :class:`ExpiredPolicy` decides: REVOKE
covers nothing, MAINTAIN keeps the rule, ALLOW covers every release. Grace days only
delay the lapse; they never widen the periods.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from ferryman.models.status import ExpiredPolicy

Period = tuple[datetime, datetime]


@dataclasses.dataclass(frozen=True, slots=True)
class Coverage:
    """A licence's periods (sorted by start) under its app's policy."""

    periods: tuple[Period, ...]
    policy: ExpiredPolicy
    grace: timedelta = timedelta()

    @property
    def ends_at(self) -> datetime | None:
        """The end of the latest period (None for a licence with no period)."""
        return max((end for _, end in self.periods), default=None)

    def lapsed(self, now: datetime) -> bool:
        """True once now is past the last end and the grace days."""
        ends_at = self.ends_at
        return ends_at is None or now > ends_at + self.grace

    def covers(self, effective: datetime, now: datetime) -> bool:
        """May a release of this effective date be offered to this licence now?"""
        if self.policy is ExpiredPolicy.ALLOW:
            return True
        if self.policy is ExpiredPolicy.REVOKE and self.lapsed(now):
            return False
        if not self.periods:
            return False
        if effective <= self.periods[0][1]:
            return True
        return any(start <= effective <= end for start, end in self.periods)

    def changes_at(self, now: datetime) -> datetime | None:
        """The next instant at which :meth:`covers` may answer differently (the lapse)."""
        ends_at = self.ends_at
        if ends_at is None or self.policy is not ExpiredPolicy.REVOKE:
            return None
        lapse = ends_at + self.grace
        return lapse if now <= lapse else None
