"""A recorder's flushes on a real database: a batch the database refused is written by the
next flush exactly once, stopping (even mid-flush) writes everything left, a batch that
straddles midnight counts on the day it began, and yesterday's key is forgotten."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from ferryman.analytics import recorder as recording
from ferryman.analytics.recorder import FLUSH_SECONDS, Recorder, flush_delay
from ferryman.models import app as apps
from ferryman.models.actor import Actor
from ferryman.models.daily_key import DailyKey
from ferryman.models.usage import CheckCount, DownloadCount
from ferryman.settings import Analytics
from tests.support.checks import (
    Clock,
    actives_by,
    check_scope,
    checks_by,
    downloads_by,
    new_app,
    rename_table,
)

pytestmark = pytest.mark.usefixtures("orm_url")
EVERY_PART = frozenset(Analytics)
DAY = date(2026, 3, 14)
NOON = datetime(2026, 3, 14, 12, tzinfo=UTC)


async def test_a_refused_batch_is_kept_and_the_next_flush_writes_it_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    await new_app()
    recorder = Recorder(EVERY_PART, clock=Clock(NOON))
    for _ in range(3):
        recorder.checked(check_scope(install="a", last_check="never"), b"none")

    await rename_table("check_counts", "check_counts_away")
    await recorder.flush()
    assert "kept for the next try" in caplog.text
    await rename_table("check_counts_away", "check_counts")
    # Nothing of the refused transaction was written, actives included.
    assert await actives_by("gap") == {}

    await recorder.flush()
    await recorder.flush()

    assert await checks_by("day", "answer") == {(DAY, "none"): 3}
    assert await actives_by("gap") == {(29,): 3}


async def test_stop_writes_what_the_loop_has_not() -> None:
    await new_app()
    recorder = Recorder(EVERY_PART)
    recorder.start()
    recorder.checked(check_scope(), b"none")
    recorder.checked(check_scope(), b"1.1.0")

    await recorder.stop()

    assert await checks_by("answer") == {("none",): 1, ("1.1.0",): 1}


async def test_stop_in_the_middle_of_a_flush_loses_nothing_and_writes_nothing_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await new_app(versions=("1.0.0",))
    monkeypatch.setattr(recording, "FLUSH_SECONDS", 0.0)  # the loop flushes all the time
    recorder = Recorder(EVERY_PART)
    recorder.start()
    await asyncio.sleep(0)
    for n in range(200):
        recorder.checked(check_scope(install=f"install-{n}", last_check="never"), b"none")
    recorder.downloaded(await _app_id(), "1.0.0", "darwin-aarch64", "stable", "NL")
    # The loop's flush takes the batch before its first query: stop while it waits on one.
    while recorder._seen:  # noqa: ASYNC110 - the loop's task is the one to wait for
        await asyncio.sleep(0)

    await recorder.stop()

    assert await checks_by("answer") == {("none",): 200}
    assert await actives_by("gap") == {(29,): 200}
    assert await downloads_by("country") == {("NL",): 1}


async def test_downloads_of_an_app_deleted_before_the_flush_are_dropped_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gone = await new_app("gone-app", versions=("1.0.0",))
    await new_app("my-app")
    recorder = Recorder(EVERY_PART, clock=Clock(NOON))
    recorder.downloaded(gone, "1.0.0", "darwin-aarch64", "stable", "NL")
    recorder.checked(check_scope("gone-app"), b"none")
    await apps.delete(Actor.console(), gone)
    recorder.checked(check_scope("my-app"), b"none")

    await recorder.flush()
    await recorder.flush()

    assert "could not write" not in caplog.text
    assert await checks_by("app_id", "answer") == {(await _app_id(), "none"): 1}
    assert await DownloadCount.all().count() == 0


async def test_a_batch_straddling_midnight_counts_on_the_day_it_began() -> None:
    await new_app()
    clock = Clock(datetime(2026, 3, 14, 23, 59, 58, tzinfo=UTC))
    recorder = Recorder(EVERY_PART, clock=clock)
    recorder.checked(check_scope(install="a", last_check="2026-03-13"), b"none")
    recorder.downloaded(await _app_id(), "1.0.0", "darwin-aarch64", "stable", "NL")
    clock.now = datetime(2026, 3, 15, 0, 0, 3, tzinfo=UTC)
    recorder.checked(check_scope(install="b", last_check="2026-03-14"), b"none")
    recorder.downloaded(await _app_id(), "1.0.0", "darwin-aarch64", "stable", "NL")

    await recorder.flush()  # the batch began on the 14th
    recorder.checked(check_scope(install="a", last_check="2026-03-14"), b"none")
    await recorder.flush()  # this one on the 15th

    march = date(2026, 3, 14), date(2026, 3, 15)
    assert await checks_by("day") == {(march[0],): 2, (march[1],): 1}
    # Gaps are counted against the day the batch began: a check of the 13th, yesterday.
    assert await actives_by("day", "gap") == {(march[0], 1): 1, (march[1], 1): 1}
    # A download keeps the day it was counted on.
    assert await downloads_by("day") == {(march[0],): 1, (march[1],): 1}


async def test_the_loop_flushes_at_midnight_however_long_its_pause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await new_app()
    monkeypatch.setattr(recording, "FLUSH_SECONDS", 3600.0)
    clock = Clock(datetime(2026, 3, 14, 23, 59, 59, 950_000, tzinfo=UTC))
    recorder = Recorder(EVERY_PART, clock=clock)
    recorder.start()
    await asyncio.sleep(0)  # the loop has chosen its pause: 50 ms
    recorder.checked(check_scope(), b"none")
    clock.now = datetime(2026, 3, 15, 0, 0, 1, tzinfo=UTC)
    try:
        async with asyncio.timeout(30):  # an hour, had it not woken at midnight
            while not await CheckCount.exists():  # noqa: ASYNC110 - rows, not an event
                await asyncio.sleep(0.02)
    finally:
        await recorder.stop()

    assert await checks_by("day") == {(date(2026, 3, 14),): 1}


def test_the_pause_ends_at_midnight() -> None:
    assert flush_delay(NOON) == FLUSH_SECONDS
    assert flush_delay(datetime(2026, 3, 14, 23, 59, 58, tzinfo=UTC)) == pytest.approx(2.0)
    assert flush_delay(datetime(2026, 3, 15, tzinfo=UTC)) == FLUSH_SECONDS


async def test_a_final_flush_the_database_refuses_says_its_counts_are_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    await new_app()
    recorder = Recorder(EVERY_PART)
    recorder.start()
    recorder.checked(check_scope(), b"none")
    await rename_table("check_counts", "check_counts_away")
    try:
        with caplog.at_level(logging.ERROR, "ferryman.analytics"):
            await recorder.stop()  # logs, never raises
    finally:
        await rename_table("check_counts_away", "check_counts")

    [record] = caplog.records
    assert "lost" in record.getMessage()
    assert "next try" not in record.getMessage()
    assert await CheckCount.all().count() == 0


async def test_the_first_flush_of_a_day_forgets_older_keys_with_no_checks_to_read() -> None:
    await new_app()
    clock = Clock(NOON)
    recorder = Recorder(EVERY_PART, clock=clock)
    recorder.checked(check_scope(install="a"), b"none")
    await recorder.flush()
    assert await DailyKey.filter(day=DAY).exists()

    clock.now = NOON + timedelta(days=1)
    await recorder.flush()  # the batch of the 14th, ended by the day's first flush
    await recorder.flush()  # the 15th's, with nothing in it

    assert await DailyKey.all().count() == 0


async def test_with_estimates_and_health_off_no_key_is_made_or_forgotten() -> None:
    await new_app()
    await DailyKey.create(day=DAY - timedelta(days=3), secret=b"k" * 32)
    recorder = Recorder(EVERY_PART - {Analytics.ESTIMATES, Analytics.HEALTH}, clock=Clock(NOON))
    recorder.checked(check_scope(install="a"), b"none")
    await recorder.flush()
    await recorder.flush()

    assert [key.day for key in await DailyKey.all()] == [DAY - timedelta(days=3)]


async def _app_id(slug: str = "my-app") -> str:
    return (await apps.App.get(slug=slug)).id
