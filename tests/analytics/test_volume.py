"""The issue's limit on volume: memory and storage grow with apps, versions, platforms and
days, never with the number of installs. 100,000 distinct installs (half telling their
install id, half only their address and user agent) go through the real counting code,
:meth:`Recorder.checked` and :meth:`Recorder.flush`, on a real database, and are compared
with 1,000 installs over the same labels."""

from __future__ import annotations

import gc
import ipaddress
import itertools
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ferryman.analytics.recorder import Recorder
from ferryman.analytics.series import Measure, series
from ferryman.models.daily_key import DailyKey
from ferryman.models.usage import ActiveCount, CheckCount, DownloadCount, SketchCount
from ferryman.settings import Analytics
from tests.support.checks import check_scope, new_app
from tests.support.usage import FIXED_KEY, UsageRow

NOW = datetime(2026, 11, 4, 12, tzinfo=UTC)
TODAY = NOW.date()
RELEASED = ("1.0.0", "1.1.0")
# A version the app never released: stored as "other", one row whatever is sent.
VERSIONS = (*RELEASED, "0.9.0")
PLATFORMS = (("linux", "x86_64"), ("darwin", "aarch64"), ("windows", "x86_64"))
LABELS = list(itertools.product(VERSIONS, PLATFORMS))
# Each install's previous check: every one makes it a daily active today.
LAST_CHECKS = (
    "never",
    (TODAY - timedelta(days=1)).isoformat(),
    (TODAY - timedelta(days=3)).isoformat(),
    (TODAY - timedelta(days=40)).isoformat(),
)
AGENTS = ("tauri-updater/2.0.0", "tauri-updater/2.1.0", "MyApp/1.0 (Windows NT 10.0)")
MODELS: tuple[type[UsageRow], ...] = (CheckCount, ActiveCount, SketchCount, DownloadCount)
BATCHES = 4
# Memory blocks a worker may keep after counting 100,000 installs beyond those it keeps
# after 1,000: noise of the allocator's free lists and the database driver (a few hundred
# measured), a twentieth of the 100,000 that one object kept per install would add.
# Counted in blocks (sys.getallocatedblocks) rather than traced bytes: tracemalloc made
# the drive four times slower, and anything Python keeps per install is an object.
MEMORY_MARGIN = 5_000


def scopes(slug: str, installs: int) -> Iterator[dict[str, Any]]:
    """One update check per install, every install distinct: the even ones by their
    install id, the odd ones by their own address (v4 and v6 in turn) and a user agent."""
    v4, v6 = ipaddress.IPv4Address("10.0.0.0"), ipaddress.IPv6Address("2001:db8::")
    for n in range(installs):
        version, (target, arch) = LABELS[n % len(LABELS)]
        # Distinct installs: by id, or by an address of their own with a shared agent.
        install_id = f"{slug}-{n}" if n % 2 == 0 else None
        address = v4 + n if n % 4 == 1 else v6 + n
        yield check_scope(
            slug,
            version,
            platform=(target, arch),
            address=str(address),
            agent=AGENTS[n % len(AGENTS)],
            install=install_id,
            last_check=LAST_CHECKS[(n // len(LABELS)) % len(LAST_CHECKS)],
        )


async def count(slug: str, installs: int) -> int:
    """Drive ``installs`` checks of the app through one worker's recorder, flushed in
    :data:`BATCHES` batches; the memory blocks the worker still holds afterwards
    (everything allocated since it started and not freed, the recorder included: any
    object kept per install would be one more)."""
    gc.collect()
    before = sys.getallocatedblocks()
    recorder = Recorder(frozenset(Analytics), clock=lambda: NOW)
    per_batch = -(-installs // BATCHES)
    for n, scope in enumerate(scopes(slug, installs), start=1):
        offer = b"none" if scope["path"].endswith("/1.1.0") else b"1.1.0"
        recorder.checked(scope, offer)
        if n % per_batch == 0 or n == installs:
            await recorder.flush()
    del scope
    gc.collect()
    kept = sys.getallocatedblocks() - before
    assert recorder.parts == frozenset(Analytics)  # still alive: its memory is counted
    return kept


async def rows(app_id: str) -> dict[str, int]:
    return {model.__name__: await model.filter(app_id=app_id).count() for model in MODELS}


async def test_100000_installs_take_the_rows_and_memory_of_1000(orm_url: str) -> None:
    # The day's key, fixed: a random one would put the estimate outside ±2 % about one
    # day in a hundred, which is the estimate's nature and would make this test flaky.
    await DailyKey.create(day=TODAY, secret=FIXED_KEY)
    warm, few, many = [await new_app(slug, RELEASED) for slug in ("warm", "few", "many")]
    await count("warm", 1_000)  # the first batch makes caches (parsed URLs, SQL) once

    kept_few = await count("few", 1_000)
    kept_many = await count("many", 100_000)

    assert kept_many < kept_few + MEMORY_MARGIN, (kept_few, kept_many)
    stored = await rows(many)
    assert stored == await rows(few) == await rows(warm)
    # Labels alone make rows: a row a version (0.9.0 stored as "other") and platform, by
    # the answer (one per version here), by the gap (never and 40 days share NEVER).
    assert stored == {
        "CheckCount": len(LABELS),
        "ActiveCount": len(LABELS) * 3,
        "SketchCount": len(LABELS),
        "DownloadCount": 0,
    }
    checks = await series(many, Measure.UPDATE_CHECKS, TODAY, TODAY)
    exact = await series(many, Measure.ACTIVE_INSTALLS_1D, TODAY, TODAY)
    estimated = await series(many, Measure.ESTIMATED_ACTIVE_INSTALLS_1D, TODAY, TODAY)
    assert [point.value for point in checks.points] == [100_000]
    assert [point.value for point in exact.points] == [100_000]
    [estimate] = [point.value for point in estimated.points]
    assert abs(estimate - 100_000) / 100_000 < 0.02, estimate
