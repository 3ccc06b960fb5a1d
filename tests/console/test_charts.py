"""The charts' shapes, worked out from answers of the read layer built by hand: which
versions get a band of their own, where each band's outline runs, and the bars' scale."""

from __future__ import annotations

from datetime import date, timedelta

from ferryman.analytics.series import (
    Adoption,
    Bucket,
    Dimension,
    Measure,
    Point,
    Series,
    Share,
    Source,
)
from ferryman.console.charts import bars, parts, stacked
from ferryman.models.usage import OTHER_VERSION

DAY = timedelta(days=1)
FIRST = date(2026, 11, 2)


def adoption(days: int, installs: dict[tuple[int, str], int]) -> Adoption:
    """An adoption over ``days`` days from FIRST: installs by (day number, version)."""
    totals = {n: sum(c for (d, _), c in installs.items() if d == n) for n in range(days)}
    points = [
        Share(FIRST + n * DAY, version, count, count / totals[n])
        for (n, version), count in sorted(installs.items())
    ]
    return Adoption(Source.EXACT, FIRST, FIRST + (days - 1) * DAY, points)


def test_the_versions_with_most_installs_get_bands_and_the_rest_is_other() -> None:
    installs = {(0, f"1.{n}.0"): 10 + 2 * n for n in range(8)}
    installs[0, "0.9.0"] = 100
    installs[0, OTHER_VERSION] = 500  # never released: never a band of its own
    installs[1, "1.0.0"] = 5  # 15 in all: fewer than the six others'
    installs[1, "1.7.0"] = 5

    stack = stacked(adoption(3, installs), top=6)

    bottom_up = ["other", "0.9.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0", "1.7.0"]
    assert [band.label for band in stack.bands] == bottom_up
    assert [band.label for band in stack.legend] == bottom_up[::-1]
    assert len({band.tone for band in stack.bands}) == 7
    assert stack.installs == (sum(c for (d, _), c in installs.items() if d == 0), 10, 0)
    other = stack.bands[0]
    assert other.shares == ((500 + 10 + 12 + 14) / stack.installs[0], 0.5, 0.0)
    for day in (0, 1):
        assert abs(sum(band.shares[day] for band in stack.bands) - 1) < 1e-9
    assert stack.rows()[1] == (FIRST + DAY, 10, (0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5))
    assert stack.summary() == f"On {FIRST + DAY}: 1.7.0 50%, other 50%."


def test_versions_as_popular_as_each_other_go_to_the_newer_first() -> None:
    installs = {(0, "1.0.0"): 5, (0, "1.1.0"): 5, (0, "0.9.0"): 5}

    stack = stacked(adoption(1, installs), top=2)

    assert [band.label for band in stack.bands] == ["other", "1.0.0", "1.1.0"]


def test_each_band_steps_a_day_along_its_top_and_back_along_its_bottom() -> None:
    stack = stacked(adoption(2, {(0, "1.0.0"): 3, (0, "1.1.0"): 1, (1, "1.1.0"): 2}))

    assert [(band.label, band.path) for band in stack.bands] == [
        ("1.0.0", "M0,25.0 L1,25.0 L1,100.0 L2,100.0 L2,100.0 L1,100.0 L1,100.0 L0,100.0 Z"),
        ("1.1.0", "M0,0.0 L1,0.0 L1,0.0 L2,0.0 L2,100.0 L1,100.0 L1,25.0 L0,25.0 Z"),
    ]


def test_days_without_installs_are_empty_and_said_so() -> None:
    stack = stacked(adoption(2, {}))

    assert (stack.bands, stack.installs) == ((), (0, 0))
    assert stack.summary() == "No installs were counted in these days."


def series(values: list[int], measure: Measure = Measure.UPDATE_CHECKS) -> Series:
    points = [Point(FIRST + n * DAY, value) for n, value in enumerate(values)]
    last = FIRST + (len(values) - 1) * DAY
    return Series(measure, Bucket.DAY, FIRST, last, (), points)


def test_bars_reach_a_round_top_and_are_as_tall_as_their_share_of_it() -> None:
    drawn = bars(series([2341, 0, 1250]))

    assert (drawn.top, drawn.ticks, drawn.width) == (2500, ("2,500", "1,250", "0"), 3)
    assert [(bar.x, bar.y, bar.height) for bar in drawn.bars] == [
        (0.15, 6.36, 93.64),
        (1.15, 100.0, 0.0),
        (2.15, 50.0, 50.0),
    ]
    assert bars(series([7, 3])).ticks == ("7", "3.5", "0")
    assert bars(series([0, 0])).top == 1
    assert bars(series([101])).top == 150


def test_parts_are_a_labels_sum_over_the_range_largest_first() -> None:
    points = [
        Point(FIRST, 3, country="US"),
        Point(FIRST, 1, country="DE"),
        Point(FIRST + DAY, 1, country="US"),
        Point(FIRST + DAY, 3, country="DE"),
        Point(FIRST + DAY, 2, country="XX"),
    ]
    found = Series(Measure.DOWNLOADS, Bucket.DAY, FIRST, FIRST + DAY, (Dimension.COUNTRY,), points)

    assert [(p.label, p.count, p.share) for p in parts(found, Dimension.COUNTRY)] == [
        ("DE", 4, 0.4),
        ("US", 4, 0.4),
        ("XX", 2, 0.2),
    ]
