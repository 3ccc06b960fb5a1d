"""The coverage rule at its edges: period ends and grace ends are inclusive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ferryman.models.coverage import Coverage
from ferryman.models.status import ExpiredPolicy

START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2025, 1, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)
GRACE = timedelta(days=14)


def yearly(policy: ExpiredPolicy, grace: timedelta = GRACE) -> Coverage:
    return Coverage(((START, END),), policy, grace)


@pytest.mark.parametrize(
    ("effective", "covered"),
    [(START - TICK, True), (START, True), (END, True), (END + TICK, False)],
    ids=["before-start", "start", "end", "just-after-end"],
)
def test_a_period_covers_up_to_its_end_inclusive(effective: datetime, covered: bool) -> None:
    assert yearly(ExpiredPolicy.MAINTAIN).covers(effective, END) is covered


@pytest.mark.parametrize(
    ("now", "lapsed"),
    [(END, False), (END + GRACE, False), (END + GRACE + TICK, True)],
    ids=["at-end", "at-grace-end", "just-after-grace"],
)
def test_grace_ends_inclusive_and_only_delays_the_lapse(now: datetime, lapsed: bool) -> None:
    revoke = yearly(ExpiredPolicy.REVOKE)

    assert revoke.lapsed(now) is lapsed
    assert revoke.covers(START, now) is not lapsed
    # Grace never widens the period: a release dated during grace is not covered.
    assert not revoke.covers(END + timedelta(days=1), now)


def test_the_cached_answer_knows_when_it_changes() -> None:
    assert yearly(ExpiredPolicy.REVOKE).changes_at(END) == END + GRACE
    assert yearly(ExpiredPolicy.REVOKE).changes_at(END + GRACE + TICK) is None
    assert yearly(ExpiredPolicy.MAINTAIN).changes_at(END) is None


def test_a_gap_between_periods_stays_uncovered() -> None:
    renewal = (END + timedelta(days=150), END + timedelta(days=515))
    coverage = Coverage(((START, END), renewal), ExpiredPolicy.MAINTAIN)

    assert not coverage.covers(END + timedelta(days=100), END + timedelta(days=200))
    assert coverage.covers(renewal[0], END + timedelta(days=200))
    assert coverage.covers(renewal[1], renewal[1] + timedelta(days=900))


def test_allow_covers_everything_and_no_period_covers_nothing() -> None:
    later = END + timedelta(days=3000)
    assert yearly(ExpiredPolicy.ALLOW).covers(later, later)
    assert not Coverage((), ExpiredPolicy.MAINTAIN).covers(START, START)
