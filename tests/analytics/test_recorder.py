"""What a recorder counts of the update checks handed to it, read back from the rows its
flush wrote on a real database: answers, the days since each install's last check,
versions the app never released, channels, each part of analytics on its own, and
checks for an app that is gone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ferryman.analytics.recorder import Recorder
from ferryman.metrics import PRIVATE_OFFER
from ferryman.models import HealthMark, Release
from ferryman.models import app as apps
from ferryman.models.actor import Actor
from ferryman.models.usage import NEVER, OTHER_VERSION, SketchCount
from ferryman.settings import Analytics
from tests.support.checks import (
    Clock,
    actives_by,
    check_scope,
    checks_by,
    downloads_by,
    new_app,
)

pytestmark = pytest.mark.usefixtures("orm_url")
EVERY_PART = frozenset(Analytics)
TODAY = date(2026, 3, 14)
NOON = datetime(2026, 3, 14, 12, tzinfo=UTC)


async def flushed(
    *checks: tuple[dict[str, Any], bytes], parts: frozenset[Analytics] = EVERY_PART
) -> Recorder:
    """A recorder at noon on TODAY that was handed ``checks`` and flushed them."""
    recorder = Recorder(parts, clock=Clock(NOON))
    for scope, offer in checks:
        recorder.checked(scope, offer)
    await recorder.flush()
    return recorder


async def test_checks_are_counted_by_answer_without_the_private_offer_mark() -> None:
    await new_app(versions=("1.0.0", "1.1.0"))

    await flushed(
        (check_scope(), b"none"),
        (check_scope(), b"none"),
        (check_scope(), b"1.1.0"),
        (check_scope(), f"{PRIVATE_OFFER}1.1.0".encode()),  # a LICENSED app's offer
    )

    assert await checks_by("day", "version", "platform", "answer") == {
        (TODAY, "1.0.0", "darwin-aarch64", "none"): 2,
        (TODAY, "1.0.0", "darwin-aarch64", "1.1.0"): 2,
    }


async def test_last_check_days_are_counted_as_gaps_and_garbage_is_ignored() -> None:
    await new_app(versions=("1.0.0",))
    told = {
        "today": TODAY.isoformat(),
        "yesterday": (TODAY - timedelta(days=1)).isoformat(),
        "28 days": (TODAY - timedelta(days=28)).isoformat(),
        "29 days": (TODAY - timedelta(days=29)).isoformat(),
        "never": "never",
        "garbage": "last tuesday",
        "not ascii": "2026-03-1\u00e9",
    }

    await flushed(*((check_scope(last_check=day), b"none") for day in told.values()))

    # Today's install was counted by its first check; garbage tells nothing.
    assert await actives_by("day", "gap") == {(TODAY, 1): 1, (TODAY, 28): 1, (TODAY, NEVER): 2}
    # Every one of them is still an update check.
    assert await checks_by("answer") == {("none",): len(told)}


async def test_a_version_the_app_never_released_is_counted_as_other() -> None:
    await new_app(versions=("1.0.0",))

    await flushed(
        (check_scope(current="1.0.0", install="a", last_check="never"), b"none"),
        (check_scope(current="0.9.9", install="b", last_check="never"), b"1.0.0"),
        (check_scope(current="1.0.0+5", install="c", last_check="never"), b"none"),
    )

    assert await checks_by("version") == {("1.0.0",): 1, (OTHER_VERSION,): 2}
    assert await actives_by("version") == {("1.0.0",): 1, (OTHER_VERSION,): 2}
    assert sorted(await SketchCount.all().values_list("version", flat=True)) == [
        "1.0.0",
        OTHER_VERSION,
    ]


async def test_a_check_without_a_channel_counts_on_the_apps_first_channel() -> None:
    await new_app(versions=("1.0.0",), channels=["stable", "beta"])

    await flushed(
        (check_scope(), b"none"),
        (check_scope(channel="stable"), b"none"),
        (check_scope(channel="beta"), b"none"),
    )

    assert await checks_by("channel") == {("stable",): 2, ("beta",): 1}


@pytest.mark.parametrize("off", list(Analytics))
async def test_a_part_turned_off_leaves_its_table_empty(off: Analytics) -> None:
    app_id = await new_app(versions=("1.0.0",))
    recorder = await flushed(
        (check_scope(install="a", last_check="never"), b"none"),
        parts=EVERY_PART - {off},
    )
    recorder.downloaded(app_id, "1.0.0", "darwin-aarch64", "stable", "NL")
    release = await Release.get(app_id=app_id, version="1.0.0")
    recorder.fetched(check_scope(install="a"), release.id, "darwin-aarch64")
    await recorder.flush()

    written = {
        Analytics.CHECKS: await checks_by("answer"),
        Analytics.ACTIVES: await actives_by("gap"),
        Analytics.ESTIMATES: await SketchCount.all().count(),
        Analytics.DOWNLOADS: await downloads_by("country"),
        Analytics.HEALTH: await HealthMark.all().count(),
    }

    assert not written[off]
    assert all(written[part] for part in Analytics if part != off), written


async def test_checks_for_an_app_deleted_before_the_flush_are_dropped() -> None:
    gone = await new_app("gone-app")
    await new_app("my-app")
    recorder = Recorder(EVERY_PART, clock=Clock(NOON))
    recorder.checked(check_scope("gone-app", install="a", last_check="never"), b"none")
    recorder.checked(check_scope("my-app", install="a", last_check="never"), b"none")
    recorder.checked(check_scope("no-such-app"), b"none")
    await apps.delete(Actor.console(), gone)

    await recorder.flush()

    assert await checks_by("app_id") == {((await apps.App.get(slug="my-app")).id,): 1}
    assert await actives_by("gap") == {(NEVER,): 1}
    assert await SketchCount.all().count() == 1


async def test_a_check_the_recorder_cannot_read_is_skipped_not_the_batch() -> None:
    await new_app()
    odd = check_scope()
    odd["raw_path"] = b"/my-app/update/darwin/aarch64/not-a-version"

    await flushed((odd, b"none"), (check_scope(), b"none"))

    assert await checks_by("answer") == {("none",): 1}
