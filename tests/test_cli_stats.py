"""``ferryman stats export``: a series as CSV from the server's console, the same as
csv_of gives GraphQL, and usage errors for what it cannot read."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
import pytest

from ferryman.analytics.series import Bucket, Dimension, Measure, csv_of, series
from ferryman.cli.stats import BUCKETS, MEASURES, export
from ferryman.models import app as apps
from ferryman.models.actor import Actor
from ferryman.models.usage import NEVER
from tests.support.cli import ferryman
from tests.support.database import bound
from tests.support.usage import active, check, download, store

NOV_2 = date(2026, 11, 2)
NOV_9 = date(2026, 11, 9)


@pytest.fixture
async def stats_url(database_url: str) -> str:
    """my-app, with a few days of downloads, checks and active installs."""
    async with bound(database_url):
        app = await apps.create(Actor.console(), apps.AppChanges(slug="my-app", name="My App"))
        await store(
            [
                download(app.id, NOV_2, 3, version="1.0.0", platform="linux-x86_64"),
                download(app.id, NOV_2, 5, version="1.1.0", country="NL"),
                download(app.id, NOV_9, 2, version="1.1.0", channel="beta"),
                check(app.id, NOV_2, 7, answer="1.1.0"),
                active(app.id, NOV_2, NEVER, 4),
            ]
        )
    return database_url


def test_the_command_names_every_measure_and_bucket() -> None:
    options = {p.name: p.type for p in export.params if isinstance(p.type, click.Choice)}

    assert tuple(options["measure"].choices) == MEASURES == tuple(m.value for m in Measure)
    assert tuple(options["bucket"].choices) == BUCKETS == tuple(b.value for b in Bucket)


async def test_export_prints_the_series_csv(stats_url: str, tmp_path: Path) -> None:
    arguments = ("--measure", "downloads", "--from", "2026-11-01", "--to", "2026-11-30")
    result = ferryman(
        "stats",
        "export",
        "my-app",
        *arguments,
        "--bucket",
        "week",
        "--by",
        "version, platform",
        "--channel",
        "stable",
        database_url=stats_url,
        cwd=tmp_path,
    )

    # The runner reads standard output as text, so each line ends in \n here (the file
    # test below reads the bytes, \r\n and all).
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "start,version,platform,value\n"
        "2026-11-02,1.0.0,linux-x86_64,3\n"
        "2026-11-02,1.1.0,darwin-aarch64,5\n"
    )
    async with bound(stats_url):
        app = await apps.App.get(slug="my-app")
        same = await series(
            app.id,
            Measure.DOWNLOADS,
            date(2026, 11, 1),
            date(2026, 11, 30),
            Bucket.WEEK,
            {Dimension.VERSION, Dimension.PLATFORM},
            "stable",
        )
    assert result.stdout == csv_of(same).replace("\r\n", "\n")


async def test_export_writes_a_file_when_asked(stats_url: str, tmp_path: Path) -> None:
    target, nowhere = tmp_path / "actives.csv", tmp_path / "missing" / "actives.csv"
    arguments = ("stats", "export", "my-app", "--measure", "active-installs-7d")
    arguments += ("--from", "2026-11-01", "--to", "2026-11-03", "--output")

    result = ferryman(*arguments, str(target), database_url=stats_url, cwd=tmp_path)
    failed = ferryman(*arguments, str(nowhere), database_url=stats_url, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert target.read_bytes() == (
        b"start,value\r\n2026-11-01,0\r\n2026-11-02,4\r\n2026-11-03,4\r\n"
    )
    assert failed.returncode == 1
    assert f"cannot write {nowhere}: No such file or directory" in failed.stderr


@pytest.mark.parametrize(
    ("arguments", "status", "words"),
    [
        (("nope", "--measure", "downloads"), 2, "no app has the slug 'nope'"),
        (("my-app", "--measure", "installs"), 2, "'installs' is not one of 'update-checks'"),
        (("my-app", "--measure", "downloads", "--by", "colour"), 2, "'colour' is not a label"),
        (("my-app", "--measure", "downloads", "--from", "2026-11-31"), 2, "'%Y-%m-%d'"),
        (("my-app", "--measure", "downloads", "--by", "answer"), 1, "not by answer"),
        (("my-app", "--measure", "downloads", "--to", "2028-01-01"), 1, "at most 400 days"),
        (("my-app", "--measure", "downloads", "--channel", "x"), 1, "stable, beta"),
    ],
)
async def test_export_refuses_what_it_cannot_read(
    stats_url: str, tmp_path: Path, arguments: tuple[str, ...], status: int, words: str
) -> None:
    # Later options win, so each case's own --from or --to replaces these.
    days = ("--from", "2026-11-01", "--to", "2026-11-30")
    result = ferryman(
        "stats",
        "export",
        *arguments[:3],
        *days,
        *arguments[3:],
        database_url=stats_url,
        cwd=tmp_path,
    )

    assert result.returncode == status, result.stderr
    assert words in result.stderr
    assert result.stdout == ""
