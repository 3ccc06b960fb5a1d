"""``ferryman stats``: the analytics the server counted, read from its database on the
server's console (the same series as GraphQL's ``App.stats``)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ferryman.cli.admin import run

if TYPE_CHECKING:
    from ferryman.analytics.series import Dimension
    from ferryman.settings import Settings

# The values of analytics.series' Measure and Bucket, named here so that ``--help`` needs
# no import of the server stack (a test keeps the two the same).
MEASURES = (
    "update-checks",
    "downloads",
    "active-installs-1d",
    "active-installs-7d",
    "active-installs-28d",
    "estimated-active-installs-1d",
)
BUCKETS = ("day", "week")
_DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.group()
def stats() -> None:
    """Read the analytics the server counted."""


@stats.command("export")
@click.argument("app_slug")
@click.option("--measure", type=click.Choice(MEASURES), required=True, help="What to count.")
@click.option("--from", "start", type=_DAY, required=True, help="The first day (UTC), included.")
@click.option("--to", "end", type=_DAY, required=True, help="The last day (UTC), included.")
@click.option("--bucket", type=click.Choice(BUCKETS), default="day", show_default=True)
@click.option(
    "--by",
    default="",
    metavar="LABELS",
    help="Break down by these, comma-separated: version, platform, channel, country "
    "(downloads only), answer (update checks only).",
)
@click.option("--channel", default=None, help="Only this channel's installs.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the CSV to this file instead of standard output.",
)
@click.pass_obj
def export(
    settings: Settings,
    app_slug: str,
    measure: str,
    start: datetime,
    end: datetime,
    bucket: str,
    by: str,
    channel: str | None,
    output: Path | None,
) -> None:
    """Print a series of APP_SLUG's as CSV (RFC 4180): a header start,<labels>,value, then
    a line a bucket and group. Counts are summed over a bucket; active installs are those
    of the bucket's last day."""
    from ferryman.analytics.series import Bucket, Measure, csv_of, series
    from ferryman.models import App

    dimensions = _dimensions(by)

    async def export() -> str:
        app = await App.get_or_none(slug=app_slug)
        if app is None:
            raise click.BadParameter(f"no app has the slug {app_slug!r}", param_hint="APP_SLUG")
        found = await series(
            app.id, Measure(measure), start.date(), end.date(), Bucket(bucket), dimensions, channel
        )
        return csv_of(found)

    text = run(settings, export)
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8", newline="")
        except OSError as error:
            raise click.ClickException(f"cannot write {output}: {error.strerror}") from None


def _dimensions(text: str) -> set[Dimension]:
    from ferryman.analytics.series import Dimension

    accepted = {d.value: d for d in Dimension}
    chosen = set()
    for name in filter(None, (part.strip() for part in text.split(","))):
        if name not in accepted:
            raise click.BadParameter(
                f"{name[:40]!r} is not a label to break down by: one of {', '.join(accepted)}",
                param_hint="'--by'",
            )
        chosen.add(accepted[name])
    return chosen
