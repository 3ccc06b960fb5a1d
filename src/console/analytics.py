"""The console's Analytics tab: an app's active installs, each version's share of them,
its update checks and its downloads by platform and country over a range of days, and
each series as a CSV file. Everything is read through :mod:`ferryman.analytics.series`,
as GraphQL reads it, by whoever may see the app."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ferryman.analytics import series as stats
from ferryman.analytics.series import Bucket, Dimension, Measure, Source
from ferryman.console import charts, paths
from ferryman.console.pages import Pages, app_of, choice, field_errors
from ferryman.console.sessions import Visitor
from ferryman.models import channel as channels
from ferryman.models.app import App
from ferryman.models.errors import DomainError, InvalidInput

DEFAULT_DAYS = 28
FIELDS = ("from", "to", "bucket", "channel")
WINDOWS = {
    Measure.ACTIVE_INSTALLS_1D: "1 day",
    Measure.ACTIVE_INSTALLS_7D: "7 days",
    Measure.ACTIVE_INSTALLS_28D: "28 days",
}
# Countries as Cloudflare names them, where a code alone says little.
COUNTRIES = {"XX": "unknown", "T1": "Tor"}


@dataclasses.dataclass(frozen=True, slots=True)
class Range:
    """What the form asks for: the days (UTC, both included), a bucket, one channel or all."""

    start: date
    end: date
    bucket: Bucket
    channel: str | None

    @classmethod
    def of(cls, query: QueryParams, today: date) -> Range:
        """The query's range; by default the 28 days up to today, by day, every channel."""
        end = _date(query, "to") or today
        start = _date(query, "from") or date.fromordinal(
            max(1, end.toordinal() - (DEFAULT_DAYS - 1))
        )
        bucket = choice(Bucket, query.get("bucket") or Bucket.DAY.value, ("bucket",))
        return cls(start, end, bucket, query.get("channel") or None)

    def fields(self) -> dict[str, str]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "bucket": self.bucket.value,
            "channel": self.channel or "",
        }

    def export(self, app: App, measure: Measure, *by: Dimension) -> str:
        """The link to ``measure`` over this range as CSV."""
        query = [("measure", measure.value), *(("by", d.value) for d in by)]
        query += [(name, value) for name, value in self.fields().items() if value]
        return f"{analytics_path(app)}/export?{urlencode(query)}"


def analytics_path(app: App) -> str:
    return f"{paths.HOME}/{app.slug}/analytics"


class AnalyticsPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def routes(self) -> list[BaseRoute]:
        signed_in = self.pages.signed_in
        return [
            Route("/apps/{slug}/analytics", signed_in(self.show), methods=["GET"]),
            Route("/apps/{slug}/analytics/export", signed_in(self.export), methods=["GET"]),
        ]

    async def show(self, request: Request, visitor: Visitor) -> Response:
        app = await app_of(request, visitor)
        query = request.query_params
        context: dict[str, Any] = {
            "current_app": app,
            "tab": "analytics",
            "channels": channels.order_of(app.channels),
            "buckets": [bucket.value for bucket in Bucket],
            "values": {name: query.get(name, "") for name in FIELDS},
            "report": None,
        }
        try:
            chosen = Range.of(query, datetime.now(UTC).date())
            context["values"] = chosen.fields()
            context["report"] = await _report(app, chosen)
        except DomainError as error:
            context["errors"] = field_errors(error, *FIELDS)
            return await self.pages.render_for(request, "analytics.html", visitor, context, 400)
        return await self.pages.render_for(request, "analytics.html", visitor, context)

    async def export(self, request: Request, visitor: Visitor) -> Response:
        """One series as a CSV file (the same as GraphQL's ``csv`` and ``ferryman stats
        export``); a bad measure, breakdown or range is a page that says so."""
        app = await app_of(request, visitor)
        query = request.query_params
        chosen = Range.of(query, datetime.now(UTC).date())
        measure = choice(Measure, query.get("measure", ""), ("measure",))
        by = [choice(Dimension, value, ("by",)) for value in query.getlist("by")]
        found = await stats.series(
            app.id, measure, chosen.start, chosen.end, chosen.bucket, by, chosen.channel
        )
        labels = "".join(f"-by-{d.value}" for d in found.by)
        name = f"{app.slug}-{measure.value}{labels}-{chosen.start}-to-{chosen.end}.csv"
        disposition = f'attachment; filename="{name}"'
        return Response(
            stats.csv_of(found),
            media_type="text/csv",
            headers={"Content-Disposition": disposition},
        )


async def _report(app: App, chosen: Range) -> dict[str, Any]:
    """The tab's figures, charts and tables for ``chosen``."""
    start, end, channel = chosen.start, chosen.end, chosen.channel
    adoption = await stats.adoption(app.id, start, end, channel)
    actives = [
        (label, await _on_last_day(app, m, chosen), chosen.export(app, m))
        for m, label in WINDOWS.items()
    ]
    estimated = await _on_last_day(app, Measure.ESTIMATED_ACTIVE_INSTALLS_1D, chosen)
    checks = await stats.series(
        app.id, Measure.UPDATE_CHECKS, start, end, chosen.bucket, channel=channel
    )
    downloads = {
        by: charts.parts(
            await stats.series(app.id, Measure.DOWNLOADS, start, end, by=[by], channel=channel),
            by,
        )
        for by in (Dimension.PLATFORM, Dimension.COUNTRY)
    }
    adoption_exact = adoption.source is Source.EXACT
    exact = adoption_exact or any(value for _, value, _ in actives)
    installs = (
        Measure.ACTIVE_INSTALLS_1D if adoption_exact else Measure.ESTIMATED_ACTIVE_INSTALLS_1D
    )
    return {
        "range": chosen,
        "exact": exact,
        "adoption_exact": adoption_exact,
        "actives": actives,
        "estimated": estimated,
        "stack": charts.stacked(adoption),
        "checks": charts.bars(checks),
        "platforms": downloads[Dimension.PLATFORM],
        "countries": downloads[Dimension.COUNTRY],
        "country_names": COUNTRIES,
        "exports": {
            "adoption": chosen.export(app, installs, Dimension.VERSION),
            "estimated": chosen.export(app, Measure.ESTIMATED_ACTIVE_INSTALLS_1D),
            "checks": chosen.export(app, Measure.UPDATE_CHECKS),
            "platforms": chosen.export(app, Measure.DOWNLOADS, Dimension.PLATFORM),
            "countries": chosen.export(app, Measure.DOWNLOADS, Dimension.COUNTRY),
        },
    }


async def _on_last_day(app: App, measure: Measure, chosen: Range) -> int:
    """``measure`` on the range's last day (every channel's, or the chosen one's)."""
    found = await stats.series(app.id, measure, chosen.end, chosen.end, channel=chosen.channel)
    return found.points[0].value


def _date(query: QueryParams, name: str) -> date | None:
    value = query.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{name} {value[:40]!r} is not a date: use YYYY-MM-DD, such as 2026-03-01", (name,)
        ) from None
