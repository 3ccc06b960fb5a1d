"""Several workers' recorders on one database: flushing the same rows at the same moment,
each in its own order, adds up exactly (and on PostgreSQL never deadlocks), and a worker
that restarts adds to what its predecessor wrote."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from ferryman.analytics.recorder import Recorder
from ferryman.analytics.sketch import InstallSketch
from ferryman.models.usage import NEVER, SketchCount
from ferryman.settings import Analytics
from tests.support.checks import Clock, actives_by, check_scope, checks_by, downloads_by, new_app

pytestmark = pytest.mark.usefixtures("orm_url")
EVERY_PART = frozenset(Analytics)
TODAY = date(2026, 3, 14)
NOON = datetime(2026, 3, 14, 12, tzinfo=UTC)
VERSIONS = ("1.0.0", "1.1.0", "1.2.0")
PLATFORMS = (("darwin", "aarch64"), ("darwin", "x86_64"), ("linux", "x86_64"))
ANSWERS = (b"none", b"1.2.0")
WORKERS = 3
ROUNDS = 6

Row = tuple[str, str, str]  # version, platform key, answer


def label_set() -> list[tuple[str, tuple[str, str], bytes]]:
    return list(itertools.product(VERSIONS, PLATFORMS, ANSWERS))


async def test_workers_flushing_the_same_rows_at_once_add_up_exactly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app_id = await new_app(versions=VERSIONS)
    recorders = [Recorder(EVERY_PART, clock=Clock(NOON)) for _ in range(WORKERS)]
    rng = random.Random(3)
    checks: Counter[Row] = Counter()
    downloads: Counter[tuple[str]] = Counter()
    installs: dict[tuple[str, str], set[str]] = {}
    for round_ in range(ROUNDS):
        for worker, recorder in enumerate(recorders):
            # Every worker counts every row, each in an order of its own.
            for n, (version, (os, arch), answer) in enumerate(rng.sample(label_set(), 18)):
                install = f"install-{(round_ + worker + n) % 40}"
                scope = check_scope(
                    current=version, platform=(os, arch), install=install, last_check="never"
                )
                recorder.checked(scope, answer)
                checks[version, f"{os}-{arch}", answer.decode()] += 1
                installs.setdefault((version, f"{os}-{arch}"), set()).add(install)
            for version, country in rng.sample(list(itertools.product(VERSIONS, "AB")), 6):
                recorder.downloaded(app_id, version, "darwin-aarch64", "stable", f"N{country}")
                downloads[(f"N{country}",)] += 1
        await asyncio.gather(*(recorder.flush() for recorder in recorders))

    assert "could not write" not in caplog.text  # no deadlock, nor anything else refused
    assert await checks_by("version", "platform", "answer") == checks
    assert await actives_by("gap") == {(NEVER,): checks.total()}
    assert await downloads_by("country") == downloads
    # Each row's sketch is the union of the workers': that of its installs (this few are
    # counted exactly).
    stored = await SketchCount.all().values_list("version", "platform", "sketch")
    assert len(stored) == len(installs)
    for version, platform, sketch in stored:
        assert InstallSketch.from_bytes(bytes(sketch)).estimate() == len(
            installs[version, platform]
        )


async def test_a_restarted_worker_adds_to_what_the_stopped_one_wrote() -> None:
    await new_app(versions=("1.0.0",))
    before = Recorder(EVERY_PART, clock=Clock(NOON))
    before.start()
    for n in range(5):
        before.checked(check_scope(install=f"install-{n}", last_check="never"), b"none")
    await before.flush()
    before.checked(check_scope(install="install-0", last_check="never"), b"none")
    await before.stop()

    after = Recorder(EVERY_PART, clock=Clock(NOON))
    after.start()
    for n in range(3, 8):
        after.checked(check_scope(install=f"install-{n}", last_check="never"), b"1.0.0")
    await after.stop()

    assert await checks_by("answer") == {("none",): 6, ("1.0.0",): 5}
    assert await actives_by("gap") == {(NEVER,): 11}
    [stored] = await SketchCount.all().values_list("sketch", flat=True)
    assert InstallSketch.from_bytes(bytes(stored)).estimate() == 8
