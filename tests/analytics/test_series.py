"""Series, adoption and funnels read from daily rows written directly (as the recorder
adds them up), on a real database: sums, windows of active installs proved against
simulated installs, unions of sketches, breakdowns, CSV, and the number of queries."""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from ferryman.analytics.recorder import LAST_CHECK, Recorder
from ferryman.analytics.series import (
    MAX_DAYS,
    SKETCH_DAYS,
    Bucket,
    Dimension,
    Measure,
    Point,
    Source,
    adoption,
    csv_of,
    funnel,
    series,
)
from ferryman.models import app as apps
from ferryman.models.actor import Actor
from ferryman.models.errors import InvalidInput
from ferryman.models.usage import LONGEST_GAP, NEVER, NO_UPDATE, UNKNOWN_COUNTRY
from ferryman.settings import Analytics
from tests.conftest import QueryCounter
from tests.support.usage import UsageRow, active, check, download, sketch, store

pytestmark = pytest.mark.usefixtures("orm_url")
MONDAY = date(2026, 11, 2)
DAY = timedelta(days=1)
WINDOWS = {
    Measure.ACTIVE_INSTALLS_1D: 1,
    Measure.ACTIVE_INSTALLS_7D: 7,
    Measure.ACTIVE_INSTALLS_28D: 28,
}


async def new_app(slug: str = "my-app") -> str:
    return (await apps.create(Actor.console(), apps.AppChanges(slug=slug, name=slug))).id


def values(points: list[Point]) -> list[tuple[date, int]]:
    return [(point.start, point.value) for point in points]


def gap_since(previous: date | None, day: date) -> int:
    """The gap the recorder counts: days since the previous check, NEVER beyond 28."""
    if previous is None or (day - previous).days > LONGEST_GAP:
        return NEVER
    return (day - previous).days


# --- checks and downloads: sums ----------------------------------------------------


async def test_checks_are_summed_by_day_with_every_day_present() -> None:
    app_id = await new_app()
    await store(
        [
            check(app_id, MONDAY, 5),
            check(app_id, MONDAY, 2, platform="windows-x86_64"),
            check(app_id, MONDAY + 2 * DAY, 7, version="1.1.0", answer="1.2.0"),
            check(app_id, MONDAY + 9 * DAY, 100),  # after the range
        ]
    )

    answer = await series(app_id, Measure.UPDATE_CHECKS, MONDAY, MONDAY + 3 * DAY)

    assert values(answer.points) == [
        (MONDAY, 7),
        (MONDAY + DAY, 0),
        (MONDAY + 2 * DAY, 7),
        (MONDAY + 3 * DAY, 0),
    ]
    assert answer.points[0] == Point(MONDAY, 7)  # no labels without a breakdown
    assert (answer.start, answer.end, answer.by) == (MONDAY, MONDAY + 3 * DAY, ())


async def test_weeks_are_iso_weeks_summed_within_the_range() -> None:
    app_id = await new_app()
    sunday_before, wednesday = MONDAY - DAY, MONDAY + 2 * DAY
    await store(
        [
            check(app_id, sunday_before - 3 * DAY, 1000),  # before the range, same week
            check(app_id, sunday_before, 1),
            check(app_id, MONDAY, 10),
            check(app_id, wednesday, 20),
            check(app_id, MONDAY + 6 * DAY, 30),
            check(app_id, MONDAY + 7 * DAY, 40),
        ]
    )

    answer = await series(
        app_id, Measure.UPDATE_CHECKS, sunday_before, MONDAY + 8 * DAY, Bucket.WEEK
    )

    assert values(answer.points) == [
        (MONDAY - 7 * DAY, 1),
        (MONDAY, 60),
        (MONDAY + 7 * DAY, 40),
    ]


async def test_breakdowns_keep_only_counted_groups_ordered_by_start_then_labels() -> None:
    app_id = await new_app()
    await store(
        [
            check(app_id, MONDAY, 3, version="1.10.0", answer=NO_UPDATE),
            check(app_id, MONDAY, 4, version="1.9.0", answer="1.10.0"),
            check(app_id, MONDAY, 1, version="1.9.0", answer="1.10.0", platform="linux-x86_64"),
            check(app_id, MONDAY, 2, version="other", answer="1.10.0"),
            check(app_id, MONDAY + DAY, 5, version="1.9.0", answer="1.10.0"),
        ]
    )

    answer = await series(
        app_id,
        Measure.UPDATE_CHECKS,
        MONDAY,
        MONDAY + 2 * DAY,
        by={Dimension.ANSWER, Dimension.VERSION},
    )

    assert answer.by == (Dimension.VERSION, Dimension.ANSWER)
    assert [(p.start, p.version, p.answer, p.value) for p in answer.points] == [
        (MONDAY, "1.9.0", "1.10.0", 5),
        (MONDAY, "1.10.0", NO_UPDATE, 3),
        (MONDAY, "other", "1.10.0", 2),
        (MONDAY + DAY, "1.9.0", "1.10.0", 5),
    ]
    assert all(p.platform is None and p.channel is None for p in answer.points)


async def test_downloads_by_country_and_platform_of_one_channel() -> None:
    app_id = await new_app()
    await store(
        [
            download(app_id, MONDAY, 4, country="DE"),
            download(app_id, MONDAY, 1, country="DE", channel="beta"),
            download(app_id, MONDAY, 2, country=UNKNOWN_COUNTRY),
            download(app_id, MONDAY, 3, country="DE", platform="windows-x86_64"),
        ]
    )

    answer = await series(
        app_id,
        Measure.DOWNLOADS,
        MONDAY,
        MONDAY,
        by=[Dimension.COUNTRY, Dimension.PLATFORM],
        channel="stable",
    )

    assert [(p.platform, p.country, p.value) for p in answer.points] == [
        ("darwin-aarch64", "DE", 4),
        ("darwin-aarch64", UNKNOWN_COUNTRY, 2),
        ("windows-x86_64", "DE", 3),
    ]
    beta = await series(app_id, Measure.DOWNLOADS, MONDAY, MONDAY, channel="beta")
    assert values(beta.points) == [(MONDAY, 1)]


async def test_a_version_keeps_its_own_rows_and_other_apps_are_never_read() -> None:
    app_id, other_id = await new_app(), await new_app("other-app")
    await store(
        [
            download(app_id, MONDAY, 4, version="1.0.0"),
            download(app_id, MONDAY, 6, version="1.1.0"),
            download(other_id, MONDAY, 50, version="1.1.0"),
        ]
    )

    answer = await series(app_id, Measure.DOWNLOADS, MONDAY, MONDAY, version="1.1.0")

    assert values(answer.points) == [(MONDAY, 6)]


# --- refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measure", "dimension", "accepted"),
    [
        (Measure.DOWNLOADS, Dimension.ANSWER, "version, platform, channel, country"),
        (Measure.UPDATE_CHECKS, Dimension.COUNTRY, "version, platform, channel, answer"),
        (Measure.ACTIVE_INSTALLS_7D, Dimension.ANSWER, "version, platform, channel;"),
        (Measure.ESTIMATED_ACTIVE_INSTALLS_1D, Dimension.COUNTRY, "version, platform, channel;"),
    ],
)
async def test_a_breakdown_the_measure_has_not_is_refused_naming_those_it_has(
    measure: Measure, dimension: Dimension, accepted: str
) -> None:
    app_id = await new_app()
    with pytest.raises(InvalidInput) as refused:
        await series(app_id, measure, MONDAY, MONDAY, by={dimension, Dimension.VERSION})

    assert accepted in refused.value.message
    assert f"not by {dimension.value}" in refused.value.message
    assert measure.value in refused.value.message


@pytest.mark.parametrize(
    ("start", "end"),
    [(MONDAY, MONDAY - DAY), (MONDAY, MONDAY + MAX_DAYS * DAY)],
)
async def test_a_range_backwards_or_too_long_is_refused_with_both_rules(
    start: date, end: date
) -> None:
    app_id = await new_app()
    for read in (
        series(app_id, Measure.UPDATE_CHECKS, start, end),
        adoption(app_id, start, end),
    ):
        with pytest.raises(InvalidInput) as refused:
            await read
        message = refused.value.message
        assert "starts on or before its end" in message
        assert f"at most {MAX_DAYS} days" in message
        assert f"{start.isoformat()} to {end.isoformat()}" in message
    longest = await series(app_id, Measure.UPDATE_CHECKS, MONDAY, MONDAY + (MAX_DAYS - 1) * DAY)
    assert len(longest.points) == MAX_DAYS


async def test_a_channel_the_app_has_not_is_refused_naming_its_channels() -> None:
    app_id = await new_app()
    with pytest.raises(InvalidInput) as refused:
        await series(app_id, Measure.DOWNLOADS, MONDAY, MONDAY, channel="canary")

    assert refused.value.message == (
        "channel 'canary' is not one of this app's channels: stable, beta, alpha, nightly"
    )


# --- exact active installs -----------------------------------------------------------


async def test_exact_actives_are_the_distinct_installs_of_each_window() -> None:
    """50 installs with their own check schedules over 40 days, counted as the recorder
    counts them, give exactly the installs that checked within each window."""
    app_id = await new_app()
    rng = random.Random(20261102)
    first, days = date(2026, 10, 1), 40
    platforms = ("darwin-aarch64", "linux-x86_64", "windows-x86_64")
    installs: list[tuple[str, list[date]]] = []
    for _ in range(50):
        every = rng.choice((0.95, 0.6, 0.25, 0.08, 0.03))
        since = rng.randrange(days)
        checked = [first + n * DAY for n in range(since, days) if rng.random() < every]
        installs.append((rng.choice(platforms), checked))
    counted: Counter[tuple[date, str, int]] = Counter()
    for platform, checked in installs:
        previous = None
        for day in checked:
            counted[day, platform, gap_since(previous, day)] += 1
            previous = day
    await store(
        [
            active(app_id, day, gap, count, platform=platform)
            for (day, platform, gap), count in counted.items()
        ]
    )
    last = first + (days - 1) * DAY

    for measure, window in WINDOWS.items():
        total = await series(app_id, measure, first, last)
        by_platform = await series(app_id, measure, first, last, by={Dimension.PLATFORM})

        for point in total.points:
            since = point.start - (window - 1) * DAY
            truth = [
                p for p, checked in installs if any(since <= d <= point.start for d in checked)
            ]
            assert point.value == len(truth), (measure, point.start)
            found = {p.platform: p.value for p in by_platform.points if p.start == point.start}
            assert found == dict(Counter(truth)), (measure, point.start)
    busy = max(total.points, key=lambda point: point.value)
    assert busy.value > 20  # the schedules made busy windows, not a run of zeros


async def test_the_recorders_own_rows_give_the_distinct_installs() -> None:
    """Checks sent through the recorder, as the updater route hands them over (some
    installs checking twice a day, one with a last-check day it cannot have), read back
    as the installs of each window."""
    app_id = await new_app()
    rng = random.Random(7)
    first, days = date(2026, 9, 1), 35
    schedules = [
        [first + n * DAY for n in range(days) if rng.random() < every]
        for every in (0.9, 0.5, 0.2, 0.1, 0.05, 0.5, 0.3, 0.02)
    ]
    now = datetime(2026, 9, 1, 12, tzinfo=UTC)
    recorder = Recorder(frozenset({Analytics.ACTIVES}), clock=lambda: now)
    previous: list[date | None] = [None] * len(schedules)
    for n in range(days):
        today = first + n * DAY
        for install, checked in enumerate(schedules):
            if today not in checked:
                continue
            told = previous[install]
            recorder.checked(_check_scope(told.isoformat() if told else "never"), b"none")
            recorder.checked(_check_scope(today.isoformat()), b"none")  # the same day again
            previous[install] = today
        recorder.checked(_check_scope("not-a-day"), b"none")
        # The flush at midnight: the day's batch counts on it, the next begins.
        now = datetime.combine(today + DAY, datetime.min.time(), UTC)
        await recorder.flush()
    last = first + (days - 1) * DAY

    for measure, window in WINDOWS.items():
        answer = await series(app_id, measure, first, last)
        for point in answer.points:
            since = point.start - (window - 1) * DAY
            truth = sum(any(since <= d <= point.start for d in s) for s in schedules)
            assert point.value == truth, (measure, point.start)


def _check_scope(last_check: str) -> dict[str, object]:
    path = "/my-app/update/darwin/aarch64/1.0.0"
    return {
        "raw_path": path.encode(),
        "path": path,
        "query_string": b"",
        "headers": [(LAST_CHECK, last_check.encode())],
        "state": {"client_ip": "192.0.2.1"},
    }


async def test_an_install_is_counted_under_the_version_of_its_first_check_in_the_window() -> None:
    app_id = await new_app()
    # Checks every day from day 0; updates to 1.1.0 on day 10 (its next check, the same
    # day, is no first check); from day 11 its first check of the day is on 1.1.0.
    start = MONDAY
    rows: list[UsageRow] = [active(app_id, start, NEVER, 1)]
    rows += [active(app_id, start + n * DAY, 1, 1) for n in range(1, 11)]
    rows += [active(app_id, start + n * DAY, 1, 1, version="1.1.0") for n in range(11, 14)]
    await store(rows)
    day = start + 13 * DAY

    daily = await series(app_id, Measure.ACTIVE_INSTALLS_1D, day, day, by={Dimension.VERSION})
    weekly = await series(app_id, Measure.ACTIVE_INSTALLS_7D, day, day, by={Dimension.VERSION})

    assert [(p.version, p.value) for p in daily.points] == [("1.1.0", 1)]
    assert [(p.version, p.value) for p in weekly.points] == [("1.0.0", 1)]


async def test_a_weeks_actives_are_those_of_its_last_day_in_the_range() -> None:
    app_id = await new_app()
    await store(
        [
            active(app_id, MONDAY, NEVER, 5),
            active(app_id, MONDAY + 3 * DAY, NEVER, 2),
            active(app_id, MONDAY + 6 * DAY, 6, 4),  # four of Monday's, back on Sunday
            active(app_id, MONDAY + 8 * DAY, NEVER, 1),
        ]
    )

    weekly = await series(app_id, Measure.ACTIVE_INSTALLS_7D, MONDAY, MONDAY + 8 * DAY, Bucket.WEEK)
    daily = await series(app_id, Measure.ACTIVE_INSTALLS_7D, MONDAY, MONDAY + 8 * DAY)
    by_day = dict(values(daily.points))

    assert values(weekly.points) == [
        (MONDAY, by_day[MONDAY + 6 * DAY]),
        (MONDAY + 7 * DAY, by_day[MONDAY + 8 * DAY]),
    ]
    assert by_day[MONDAY + 6 * DAY] == 7
    assert by_day[MONDAY + 8 * DAY] == 2 + 4 + 1  # Monday falls out, its four still in


@pytest.mark.parametrize("measure", list(Measure))
async def test_the_first_and_last_days_a_date_can_be_are_read_like_any_other(
    measure: Measure,
) -> None:
    app_id = await new_app()
    await store([active(app_id, date.min, NEVER, 2), check(app_id, date.max, 3)])

    for start, end in ((date.min, date.min + 9 * DAY), (date.max - 9 * DAY, date.max)):
        for bucket in Bucket:
            answer = await series(app_id, measure, start, end, bucket)
            assert answer.points[0].start >= date.min
            assert answer.points[-1].start <= end
    oldest = await series(app_id, Measure.ACTIVE_INSTALLS_28D, date.min, date.min + DAY)
    assert values(oldest.points) == [(date.min, 2), (date.min + DAY, 2)]
    newest = await series(app_id, Measure.UPDATE_CHECKS, date.max, date.max, Bucket.WEEK)
    assert values(newest.points) == [(date.max - date.max.weekday() * DAY, 3)]


# --- estimated active installs -------------------------------------------------------


async def test_estimated_actives_are_the_union_of_the_days_sketches() -> None:
    app_id = await new_app()
    await store(
        [
            sketch(app_id, MONDAY, range(0, 3000), version="1.0.0"),
            # 1,000 installs updated during the day: under both versions, one install each.
            sketch(app_id, MONDAY, range(2000, 4000), version="1.1.0"),
            sketch(app_id, MONDAY, range(4000, 4500), platform="linux-x86_64"),
            sketch(app_id, MONDAY + DAY, range(0, 100)),
        ]
    )

    total = await series(app_id, Measure.ESTIMATED_ACTIVE_INSTALLS_1D, MONDAY, MONDAY + DAY)
    by_version = await series(
        app_id, Measure.ESTIMATED_ACTIVE_INSTALLS_1D, MONDAY, MONDAY, by={Dimension.VERSION}
    )

    assert [p.start for p in total.points] == [MONDAY, MONDAY + DAY]
    assert abs(total.points[0].value - 4500) / 4500 < 0.02
    assert total.points[1].value == 100
    found = {p.version: p.value for p in by_version.points}
    assert found.keys() == {"1.0.0", "1.1.0"}
    assert abs(found["1.0.0"] - 3500) / 3500 < 0.02
    assert abs(found["1.1.0"] - 2000) / 2000 < 0.02


# --- CSV -----------------------------------------------------------------------------


async def test_the_csv_is_the_series_with_a_header_in_rfc_4180() -> None:
    app_id = await new_app()
    await store(
        [
            download(app_id, MONDAY, 3, version="1.0.0", country="FR"),
            download(app_id, MONDAY + DAY, 4, version="1.1.0-beta.1", country="FR"),
        ]
    )
    by = {Dimension.COUNTRY, Dimension.VERSION}

    answer = await series(app_id, Measure.DOWNLOADS, MONDAY, MONDAY + DAY, by=by)
    text = csv_of(answer)

    assert text == (
        "start,version,country,value\r\n2026-11-02,1.0.0,FR,3\r\n2026-11-03,1.1.0-beta.1,FR,4\r\n"
    )
    assert list(csv.reader(io.StringIO(text, newline="")))[2] == [
        "2026-11-03",
        "1.1.0-beta.1",
        "FR",
        "4",
    ]
    plain = csv_of(await series(app_id, Measure.DOWNLOADS, MONDAY, MONDAY + DAY))
    assert plain == "start,value\r\n2026-11-02,3\r\n2026-11-03,4\r\n"


# --- adoption and the funnel ---------------------------------------------------------


async def test_adoption_is_exact_when_the_app_sends_last_check_days() -> None:
    app_id = await new_app()
    await store(
        [
            active(app_id, MONDAY, 1, 30, version="1.0.0"),
            active(app_id, MONDAY, NEVER, 10, version="1.1.0"),
            active(app_id, MONDAY, 2, 10, version="1.1.0", platform="linux-x86_64"),
            active(app_id, MONDAY, 1, 99, version="1.1.0", channel="beta"),
            active(app_id, MONDAY + DAY, 1, 5, version="1.1.0"),
            sketch(app_id, MONDAY, range(0, 10_000)),  # not read: there is exact data
        ]
    )

    answer = await adoption(app_id, MONDAY, MONDAY + 2 * DAY, channel="stable")

    assert answer.source is Source.EXACT
    assert [(s.day, s.version, s.installs, s.share) for s in answer.points] == [
        (MONDAY, "1.0.0", 30, 0.6),
        (MONDAY, "1.1.0", 20, 0.4),
        (MONDAY + DAY, "1.1.0", 5, 1.0),
    ]


async def test_adoption_is_estimated_from_sketches_without_last_check_days() -> None:
    app_id = await new_app()
    await store(
        [
            sketch(app_id, MONDAY, range(0, 300), version="1.0.0"),
            sketch(app_id, MONDAY, range(300, 400), version="1.1.0"),
            active(app_id, MONDAY + 5 * DAY, NEVER, 1),  # outside the range
        ]
    )

    answer = await adoption(app_id, MONDAY, MONDAY + DAY)

    assert answer.source is Source.ESTIMATED
    assert [(s.version, s.installs, s.share) for s in answer.points] == [
        ("1.0.0", 300, 0.75),
        ("1.1.0", 100, 0.25),
    ]
    assert (await adoption(app_id, MONDAY + 2 * DAY, MONDAY + 3 * DAY)).points == []


async def test_a_funnel_counts_offers_downloads_and_installs_running_the_version() -> None:
    app_id = await new_app()
    today = MONDAY + 30 * DAY
    await store(
        [
            check(app_id, MONDAY - 100 * DAY, 40, version="1.0.0", answer="1.1.0"),
            check(app_id, today, 2, version="1.0.0", answer="1.1.0", platform="linux-x86_64"),
            check(app_id, today, 9, version="1.1.0", answer=NO_UPDATE),
            download(app_id, MONDAY, 12, version="1.1.0"),
            download(app_id, today, 3, version="1.1.0", country="JP"),
            download(app_id, today, 8, version="1.0.0"),
            active(app_id, today - 27 * DAY, NEVER, 6, version="1.1.0"),
            active(app_id, today - 3 * DAY, 24, 6, version="1.1.0"),  # the same six again
            active(app_id, today - 28 * DAY, NEVER, 50, version="1.1.0"),  # before the window
            active(app_id, today, NEVER, 2, version="1.1.0", platform="linux-x86_64"),
            active(app_id, today, NEVER, 70, version="1.0.0"),
            # Yesterday's first checks: 5 on 1.1.0, 4 still on 1.0.0.
            active(app_id, today - DAY, 1, 5, version="1.1.0"),
            active(app_id, today - DAY, 2, 4, version="1.0.0"),
            sketch(app_id, today - DAY, range(0, 500), version="1.1.0"),
            sketch(app_id, today - DAY, range(400, 600), version="1.1.0", platform="linux-x86_64"),
            sketch(app_id, today - DAY, range(0, 900), version="1.0.0"),
        ]
    )

    found = await funnel(app_id, "1.1.0", today)

    assert (found.offered, found.downloaded, found.running) == (42, 15, 5)
    assert found.running_estimated == 600


async def test_a_funnel_without_last_check_days_has_no_exact_running_count() -> None:
    app_id = await new_app()
    today = MONDAY + 40 * DAY
    await store([active(app_id, today - 28 * DAY, NEVER, 5)])  # too long ago

    found = await funnel(app_id, "1.0.0", today)

    assert (found.offered, found.downloaded, found.running, found.running_estimated) == (
        0,
        0,
        None,
        0,
    )


# --- cost ----------------------------------------------------------------------------


@pytest.mark.parametrize("measure", list(Measure))
async def test_a_year_of_a_large_app_is_a_handful_of_queries(
    measure: Measure, sql_log: QueryCounter
) -> None:
    """50 versions on 6 platforms, counted on days spread over a year: each series is a
    few queries, whatever the number of days, versions and platforms."""
    app_id = await new_app()
    start = date(2025, 11, 1)
    versions = [f"1.{n}.0" for n in range(50)]
    platforms = [
        f"{os}-{arch}" for os in ("darwin", "linux", "windows") for arch in ("x86_64", "aarch64")
    ]
    rows: list[UsageRow] = []
    for day in (start + n * DAY for n in range(0, 365, 73)):
        for version in versions:
            for platform in platforms:
                labels = {"version": version, "platform": platform}
                rows += [
                    check(app_id, day, 2, **labels),
                    download(app_id, day, 1, **labels),
                    active(app_id, day, NEVER, 1, **labels),
                    sketch(app_id, day, range(0, 3), **labels),
                ]
    await store(rows)
    end = start + 364 * DAY
    # Sketches are read SKETCH_DAYS at a time; everything else in one query.
    reads = -(-365 // SKETCH_DAYS) if measure is Measure.ESTIMATED_ACTIVE_INSTALLS_1D else 1

    for by in (set(), {Dimension.VERSION, Dimension.PLATFORM}):
        sql_log.statements.clear()
        answer = await series(app_id, measure, start, end, by=by, channel="stable")

        assert len(sql_log.statements) == reads + 1, sql_log.statements  # + the channel
        assert sum(point.value for point in answer.points) > 0
    assert len(answer.points) >= 5 * 300
