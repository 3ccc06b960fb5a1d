"""Answers read from the daily counts (:mod:`ferryman.models.usage`): series of update
checks, downloads and active installs, each version's share of the active installs, and
a release's way from offer to running install; and any series as CSV.

Each answer is a few grouped queries, however long its range and however many versions
and platforms the app has: the database sums the rows by day and by the labels asked
for, and what is left (weeks, windows of days, unions of sketches) is worked out here.

Active installs are counted two ways. **Exactly**, with the app's help and without
telling installs apart (Omaha's method): an ActiveCount row says that ``installs``
installs made their first check of ``day``, and that their check before it was ``gap``
days earlier. In the window of N days ending on day D, each install active in it has one
first check there, the one whose previous check fell before the window's first day S;
so the installs active in the window are the sum, over its days d, of the rows whose gap
reaches back past S (``gap > d - S``). An install is counted under the labels (version,
platform, channel) of that first check. **By estimate**, with no help from the app: the
union of the day's install sketches (:mod:`ferryman.analytics.sketch`).
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import TypeVar

from tortoise.functions import Sum
from tortoise.models import Model
from tortoise.queryset import QuerySet

from ferryman.analytics.sketch import InstallSketch
from ferryman.models import channel as channels
from ferryman.models.app import App
from ferryman.models.errors import InvalidInput
from ferryman.models.usage import (
    LONGEST_GAP,
    ActiveCount,
    CheckCount,
    DownloadCount,
    SketchCount,
)
from ferryman.versions import parse_stored

MAX_DAYS = 400
# Days of sketches read by one query: a busy label's sketch is about 8 KiB a day, so a
# long range is read in parts rather than held at once.
SKETCH_DAYS = 100
_DAY = timedelta(days=1)
M = TypeVar("M", bound=Model)


class Measure(enum.Enum):
    """What a series counts (the values are the command line's names)."""

    UPDATE_CHECKS = "update-checks"
    DOWNLOADS = "downloads"
    ACTIVE_INSTALLS_1D = "active-installs-1d"
    ACTIVE_INSTALLS_7D = "active-installs-7d"
    ACTIVE_INSTALLS_28D = "active-installs-28d"
    ESTIMATED_ACTIVE_INSTALLS_1D = "estimated-active-installs-1d"


class Bucket(enum.Enum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, Monday to Sunday


class Dimension(enum.Enum):
    """A label to break a series down by; this order is that of the CSV's columns and of
    the points."""

    VERSION = "version"
    PLATFORM = "platform"
    CHANNEL = "channel"
    COUNTRY = "country"
    ANSWER = "answer"


class Source(enum.Enum):
    """Where an adoption's installs come from: the app's last-check days, or sketches."""

    EXACT = "exact"
    ESTIMATED = "estimated"


_INSTALL_LABELS = (Dimension.VERSION, Dimension.PLATFORM, Dimension.CHANNEL)
_BREAKDOWNS = {
    Measure.UPDATE_CHECKS: (*_INSTALL_LABELS, Dimension.ANSWER),
    Measure.DOWNLOADS: (*_INSTALL_LABELS, Dimension.COUNTRY),
}
_SUMMED: dict[Measure, tuple[type[CheckCount | DownloadCount], str]] = {
    Measure.UPDATE_CHECKS: (CheckCount, "checks"),
    Measure.DOWNLOADS: (DownloadCount, "downloads"),
}
_WINDOWS = {
    Measure.ACTIVE_INSTALLS_1D: 1,
    Measure.ACTIVE_INSTALLS_7D: 7,
    Measure.ACTIVE_INSTALLS_28D: LONGEST_GAP,
}
Group = tuple[str, ...]  # a point's labels, in the order of its series' dimensions
Values = Counter[tuple[date, Group]]


@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    """One bucket's value, for one group of labels: those of the breakdown are set."""

    start: date
    value: int
    version: str | None = None
    platform: str | None = None
    channel: str | None = None
    country: str | None = None
    answer: str | None = None

    def label(self, dimension: Dimension) -> str | None:
        label: str | None = getattr(self, dimension.value)
        return label


@dataclasses.dataclass(frozen=True, slots=True)
class Series:
    measure: Measure
    bucket: Bucket
    start: date
    end: date
    by: tuple[Dimension, ...]  # in Dimension's order
    points: list[Point]


@dataclasses.dataclass(frozen=True, slots=True)
class Share:
    """The installs on one version on one day, and their share of that day's."""

    day: date
    version: str
    installs: int
    share: float


@dataclasses.dataclass(frozen=True, slots=True)
class Adoption:
    source: Source
    start: date
    end: date
    points: list[Share]


@dataclasses.dataclass(frozen=True, slots=True)
class Funnel:
    """A release's way to its installs: checks offered it, downloads of it, installs on it."""

    offered: int
    downloaded: int
    running: int | None  # None: the app sends no last-check days
    running_estimated: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Scope:
    """The rows an answer reads: one app's, of one channel and version when given."""

    app_id: str
    channel: str | None = None
    version: str | None = None

    def rows(self, model: type[M], **filters: object) -> QuerySet[M]:
        query = model.filter(app_id=self.app_id, **filters)
        if self.channel is not None:
            query = query.filter(channel=self.channel)
        if self.version is not None:
            query = query.filter(version=self.version)
        return query


async def series(
    app_id: str,
    measure: Measure,
    start: date,
    end: date,
    bucket: Bucket = Bucket.DAY,
    by: Iterable[Dimension] = frozenset(),
    channel: str | None = None,
    version: str | None = None,
) -> Series:
    """``measure`` of the app from ``start`` to ``end`` (both included), by ``bucket``.

    Checks and downloads are summed over each bucket. Active installs are a state, not a
    sum: a week's value is that of its last day within the range (the installs active as
    of the end of the week). Without a breakdown every bucket is there, 0 when nothing
    was counted; with one, only the groups counted. ``channel`` and ``version`` keep the
    rows of one channel and one version.
    """
    _check_range(start, end)
    dimensions = _breakdown(measure, by)
    await _check_channel(app_id, channel)
    scope = _Scope(app_id, channel, version)
    ends = _bucket_ends(start, end, bucket)
    if measure in _SUMMED:
        values = await _sums(scope, measure, start, end, bucket, dimensions)
    else:
        if measure is Measure.ESTIMATED_ACTIVE_INSTALLS_1D:
            on_day = await _estimated(scope, list(ends), dimensions)
        else:
            on_day = await _exact(scope, list(ends), _WINDOWS[measure], dimensions)
        values = Counter({(ends[day], group): value for (day, group), value in on_day.items()})
    if not dimensions:
        for first in ends.values():
            values[first, ()] += 0
    points = [
        Point(first, value, **{d.value: label for d, label in zip(dimensions, group, strict=True)})
        for (first, group), value in sorted(values.items(), key=_point_order)
    ]
    return Series(measure, bucket, start, end, dimensions, points)


def csv_of(series: Series) -> str:
    """The series as CSV (RFC 4180): a header ``start,<dimensions>,value``, then a line a
    point in the series' order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["start", *(d.value for d in series.by), "value"])
    for point in series.points:
        labels = [point.label(d) for d in series.by]
        writer.writerow([point.start.isoformat(), *labels, point.value])
    return out.getvalue()


async def adoption(app_id: str, start: date, end: date, channel: str | None = None) -> Adoption:
    """Each day's installs by version and their share of the day's: exact when the app
    sends last-check days in the range (daily active installs), else estimated."""
    _check_range(start, end)
    await _check_channel(app_id, channel)
    scope, days, by = _Scope(app_id, channel), _days(start, end), (Dimension.VERSION,)
    source, installs = Source.EXACT, await _exact(scope, days, 1, by)
    if not installs:
        source, installs = Source.ESTIMATED, await _estimated(scope, days, by)
    totals: Counter[date] = Counter()
    for (day, _), count in installs.items():
        totals[day] += count
    points = [
        Share(day, version, count, count / totals[day])
        for ((day, (version,)), count) in sorted(installs.items(), key=_point_order)
    ]
    return Adoption(source, start, end, points)


async def funnel(app_id: str, version: str, today: date) -> Funnel:
    """Update checks ever answered with ``version``, its downloads, and the installs that
    ran it yesterday, the last whole day before ``today``: exactly (those whose first
    check of the day was on it; None when the app sent no last-check day in the 28 days
    up to ``today``) and by estimate. A wider window would count an install under the
    version of its first check in it, the one it ran before it took a newer release."""
    scope = _Scope(app_id, version=version)
    offered = await _total(CheckCount.filter(app_id=app_id, answer=version), "checks")
    downloaded = await _total(scope.rows(DownloadCount), "downloads")
    yesterday = today - _DAY
    running = None
    window = _Scope(app_id).rows(ActiveCount, day__gte=today - (LONGEST_GAP - 1) * _DAY)
    if await window.filter(day__lte=today).exists():
        running = (await _exact(scope, [yesterday], 1, ()))[yesterday, ()]
    estimated = (await _estimated(scope, [yesterday], ()))[yesterday, ()]
    return Funnel(offered, downloaded, running, estimated)


def _check_range(start: date, end: date) -> None:
    days = (end - start).days + 1
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(
            f"a range starts on or before its end and spans at most {MAX_DAYS} days; "
            f"got {start.isoformat()} to {end.isoformat()}",
            ("from",),
        )


def _breakdown(measure: Measure, by: Iterable[Dimension]) -> tuple[Dimension, ...]:
    accepted = _BREAKDOWNS.get(measure, _INSTALL_LABELS)
    asked = set(by)
    refused = [d.value for d in Dimension if d in asked and d not in accepted]
    if refused:
        raise InvalidInput(
            f"a series of {measure.value} can be broken down by "
            f"{', '.join(d.value for d in accepted)}; not by {', '.join(refused)}",
            ("by",),
        )
    return tuple(d for d in Dimension if d in asked)


async def _check_channel(app_id: str, channel: str | None) -> None:
    if channel is None:
        return
    order = await App.filter(id=app_id).values_list("channels", flat=True)
    for stored in order:
        channels.rank(channels.order_of(str(stored)), channel, ("channel",))


async def _sums(
    scope: _Scope,
    measure: Measure,
    start: date,
    end: date,
    bucket: Bucket,
    dimensions: tuple[Dimension, ...],
) -> Values:
    model, column = _SUMMED[measure]
    names = [d.value for d in dimensions]
    rows = (
        await scope.rows(model, day__gte=start, day__lte=end)
        .annotate(total=Sum(column))
        .group_by("day", *names)
        .values_list("day", *names, "total")
    )
    values: Values = Counter()
    for day, *labels, total in rows:
        values[_bucket_start(day, bucket), tuple(map(str, labels))] += int(total)
    return values


async def _exact(
    scope: _Scope, days: Sequence[date], window: int, dimensions: tuple[Dimension, ...]
) -> Values:
    """The installs active in the ``window`` days up to each of ``days`` (ascending), by
    group (see the module's docstring)."""
    # Days as ordinals: a window reaching before the first day a date can be is no error.
    first, last = days[0].toordinal() - (window - 1), days[-1].toordinal()
    names = [d.value for d in dimensions]
    rows = (
        await scope.rows(ActiveCount, day__gte=date.fromordinal(max(1, first)), day__lte=days[-1])
        .annotate(total=Sum("installs"))
        .group_by("day", "gap", *names)
        .values_list("day", "gap", *names, "total")
    )
    # A row's installs count in the windows whose first day S is after their previous
    # check (day - gap < S) and no later than their check (S <= day): those ending from
    # day + window - gap (or day) to day + window - 1. Each row marks where that run
    # begins and ends, and a running sum over the days adds them up.
    changes: defaultdict[Group, Counter[int]] = defaultdict(Counter)
    for day, gap, *labels, total in rows:
        change = changes[tuple(map(str, labels))]
        change[day.toordinal() + max(0, window - gap)] += int(total)
        change[day.toordinal() + window] -= int(total)
    wanted = {day.toordinal() for day in days}
    values: Values = Counter()
    for group, change in changes.items():
        running = 0
        for ordinal in range(first, last + 1):
            running += change[ordinal]
            if running and ordinal in wanted:
                values[date.fromordinal(ordinal), group] = running
    return values


async def _estimated(
    scope: _Scope, days: Sequence[date], dimensions: tuple[Dimension, ...]
) -> Values:
    """The estimated installs that checked on each of ``days``, by group: the union of
    the group's sketches of the day, so an install under two of its labels counts once."""
    names = [d.value for d in dimensions]
    values: Values = Counter()
    for part in range(0, len(days), SKETCH_DAYS):
        rows = await scope.rows(
            SketchCount, day__in=list(days[part : part + SKETCH_DAYS])
        ).values_list("day", *names, "sketch")
        sketches: defaultdict[tuple[date, Group], list[InstallSketch]] = defaultdict(list)
        for day, *labels, stored in rows:
            sketches[day, tuple(map(str, labels))].append(InstallSketch.from_bytes(bytes(stored)))
        for key, found in sketches.items():
            if estimate := InstallSketch.union(found).estimate():
                values[key] = estimate
    return values


async def _total(query: QuerySet[M], column: str) -> int:
    rows = await query.annotate(total=Sum(column)).values_list("total")
    return sum(int(total or 0) for (total,) in rows)


def _days(start: date, end: date) -> list[date]:
    return [start + n * _DAY for n in range((end - start).days + 1)]


def _bucket_start(day: date, bucket: Bucket) -> date:
    return day if bucket is Bucket.DAY else day - day.weekday() * _DAY


def _bucket_ends(start: date, end: date, bucket: Bucket) -> dict[date, date]:
    """Each bucket's last day within the range, to the bucket's first day."""
    if bucket is Bucket.DAY:
        return {day: day for day in _days(start, end)}
    mondays = _days(_bucket_start(start, bucket), end)[::7]
    return {monday + min(6, (end - monday).days) * _DAY: monday for monday in mondays}


def _point_order(item: tuple[tuple[date, Group], int]) -> tuple[date, list[tuple[int, object]]]:
    """By bucket, then labels: versions (and answers) in release order before words such
    as "other" and "none", the rest as text."""
    (first, group), _ = item
    keys: list[tuple[int, object]] = []
    for label in group:
        version = parse_stored(label)
        keys.append((0, version) if version is not None else (1, label))
    return first, keys
