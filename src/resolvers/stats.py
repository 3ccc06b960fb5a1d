"""Analytics in the GraphQL API: series on ``App`` and ``Release`` (with their CSV),
an app's adoption by version, and a release's funnel, read by
:mod:`ferryman.analytics.series`.

They are fields of the app and the release, so whoever may read those may read these,
and no one else: a key limited to one app never reaches another's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Self

import strawberry

from ferryman.analytics import series as stats
from ferryman.analytics.series import Bucket, Dimension, Measure, Source
from ferryman.resolvers.scalars import Count

if TYPE_CHECKING:
    from ferryman.resolvers.apps import App
    from ferryman.resolvers.releases import Release

strawberry.enum(
    Measure,
    name="StatsMeasure",
    description=(
        "UPDATE_CHECKS and DOWNLOADS are counts. ACTIVE_INSTALLS_1D, _7D and _28D are the "
        "distinct installs that checked in the 1, 7 or 28 days up to a day, counted exactly "
        "from the last-check day the app sends (each under the version, platform and "
        "channel of its first check in those days). ESTIMATED_ACTIVE_INSTALLS_1D is the "
        "distinct installs that checked on a day, estimated (within about 2 %) with no "
        "help from the app."
    ),
)
strawberry.enum(Bucket, name="StatsBucket", description="DAY, or WEEK: ISO weeks, from Monday.")
strawberry.enum(
    Dimension,
    name="StatsDimension",
    description=(
        "A label to break a series down by: VERSION the installs run (or downloaded), "
        "PLATFORM key, CHANNEL; COUNTRY of a download (DOWNLOADS only; XX when unknown); "
        "ANSWER, the version a check was offered or none (UPDATE_CHECKS only)."
    ),
)
strawberry.enum(
    Source,
    name="AdoptionSource",
    description="EXACT: from the last-check days the app sends. ESTIMATED: from sketches.",
)

_FROM = strawberry.argument(name="from", description="The first day (UTC), included.")
_TO = strawberry.argument(description="The last day (UTC), included; at most 400 days on.")
_BY = strawberry.argument(description="Labels to break the series down by.")


@strawberry.type(description="One bucket's value; only the labels of the breakdown are set.")
class StatsPoint:
    start: date = strawberry.field(description="The bucket's first day (a Monday for weeks).")
    value: Count
    version: str | None
    platform: str | None
    channel: str | None
    country: str | None
    answer: str | None

    @classmethod
    def from_point(cls, point: stats.Point) -> Self:
        return cls(
            start=point.start,
            value=Count(point.value),
            version=point.version,
            platform=point.platform,
            channel=point.channel,
            country=point.country,
            answer=point.answer,
        )


@strawberry.type(
    description=(
        "A measure over time. Counts are summed over each bucket; active installs are a "
        "state, so a week's is that of its last day within the range. Without a breakdown "
        "every bucket is there (0 when nothing was counted); with one, only groups counted."
    )
)
class StatsSeries:
    measure: Measure
    bucket: Bucket
    from_: date = strawberry.field(name="from")
    to: date
    by: list[Dimension]
    points: list[StatsPoint]
    series: strawberry.Private[stats.Series]

    @classmethod
    def from_series(cls, series: stats.Series) -> Self:
        return cls(
            measure=series.measure,
            bucket=series.bucket,
            from_=series.start,
            to=series.end,
            by=list(series.by),
            points=[StatsPoint.from_point(point) for point in series.points],
            series=series,
        )

    @strawberry.field(
        description="The same series as CSV (RFC 4180): a header start,<the breakdown's "
        "labels>,value and a line a point."
    )
    def csv(self) -> str:
        return stats.csv_of(self.series)


@strawberry.type(description="The installs on one version on one day.")
class AdoptionPoint:
    day: date
    version: str
    installs: Count
    share: float = strawberry.field(description="Of the day's installs, from 0 to 1.")


@strawberry.type(description="Each day's installs by version: who runs what.")
class Adoption:
    source: Source
    from_: date = strawberry.field(name="from")
    to: date
    points: list[AdoptionPoint]


@strawberry.type(description="A release's way to its installs.")
class ReleaseFunnel:
    offered: Count = strawberry.field(description="Update checks answered with it, ever.")
    downloaded: Count = strawberry.field(description="Its downloads through the server, ever.")
    running: Count | None = strawberry.field(
        description="Installs whose first check yesterday (UTC) was on it (exact); null "
        "when the app sent no last-check days in the last 28 days."
    )
    running_estimated: Count = strawberry.field(
        description="Installs that checked on it yesterday (estimated)."
    )


async def app_stats(
    root: App,
    measure: Measure,
    from_: Annotated[date, _FROM],
    to: Annotated[date, _TO],
    bucket: Bucket = Bucket.DAY,
    by: Annotated[list[Dimension], _BY] = [],  # noqa: B006 (GraphQL's default, never changed)
    channel: Annotated[str | None, strawberry.argument(description="One channel's.")] = None,
) -> StatsSeries:
    found = await stats.series(root.id, measure, from_, to, bucket, by, channel)
    return StatsSeries.from_series(found)


async def release_stats(
    root: Release,
    measure: Measure,
    from_: Annotated[date, _FROM],
    to: Annotated[date, _TO],
    bucket: Bucket = Bucket.DAY,
    by: Annotated[list[Dimension], _BY] = [],  # noqa: B006 (GraphQL's default, never changed)
) -> StatsSeries:
    found = await stats.series(root.app_id, measure, from_, to, bucket, by, version=root.version)
    return StatsSeries.from_series(found)


async def app_adoption(
    root: App,
    from_: Annotated[date, _FROM],
    to: Annotated[date, _TO],
    channel: Annotated[str | None, strawberry.argument(description="One channel's.")] = None,
) -> Adoption:
    found = await stats.adoption(root.id, from_, to, channel)
    return Adoption(
        source=found.source,
        from_=found.start,
        to=found.end,
        points=[
            AdoptionPoint(day=s.day, version=s.version, installs=Count(s.installs), share=s.share)
            for s in found.points
        ],
    )


async def release_funnel(root: Release) -> ReleaseFunnel:
    found = await stats.funnel(root.app_id, root.version, datetime.now(UTC).date())
    return ReleaseFunnel(
        offered=Count(found.offered),
        downloaded=Count(found.downloaded),
        running=None if found.running is None else Count(found.running),
        running_estimated=Count(found.running_estimated),
    )
