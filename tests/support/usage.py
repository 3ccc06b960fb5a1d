"""Daily usage rows written directly, as the recorder would have added them up: for
tests of what is read from them (series, adoption, funnels, the CSV export)."""

from __future__ import annotations

import hashlib
from datetime import date

from ferryman.analytics.sketch import InstallSketch, identity, token
from ferryman.models.usage import (
    NO_UPDATE,
    UNKNOWN_COUNTRY,
    ActiveCount,
    CheckCount,
    DownloadCount,
    SketchCount,
)

# A fixed key keeps estimates repeatable (a random one would miss ±2 % about one run in
# a hundred, which is the estimate's nature, not a bug).
FIXED_KEY = hashlib.sha256(b"ferryman test day").digest()
PLATFORM = "darwin-aarch64"
UsageRow = CheckCount | ActiveCount | SketchCount | DownloadCount


def tokens(count: int, key: bytes = FIXED_KEY, start: int = 0) -> list[bytes]:
    """The tokens of installs ``start`` to ``start + count - 1`` under ``key``."""
    return [
        token(key, identity(f"install-{n}".encode(), b"", b"")) for n in range(start, start + count)
    ]


def sketch_of(install_tokens: list[bytes]) -> InstallSketch:
    sketch = InstallSketch()
    for install_token in install_tokens:
        sketch.add(install_token)
    return sketch


def check(
    app_id: str,
    day: date,
    checks: int,
    *,
    version: str = "1.0.0",
    platform: str = PLATFORM,
    channel: str = "stable",
    answer: str = NO_UPDATE,
) -> CheckCount:
    return CheckCount(
        app_id=app_id,
        day=day,
        version=version,
        platform=platform,
        channel=channel,
        answer=answer,
        checks=checks,
    )


def download(
    app_id: str,
    day: date,
    downloads: int,
    *,
    version: str = "1.0.0",
    platform: str = PLATFORM,
    channel: str = "stable",
    country: str = UNKNOWN_COUNTRY,
) -> DownloadCount:
    return DownloadCount(
        app_id=app_id,
        day=day,
        version=version,
        platform=platform,
        channel=channel,
        country=country,
        downloads=downloads,
    )


def active(
    app_id: str,
    day: date,
    gap: int,
    installs: int,
    *,
    version: str = "1.0.0",
    platform: str = PLATFORM,
    channel: str = "stable",
) -> ActiveCount:
    return ActiveCount(
        app_id=app_id,
        day=day,
        version=version,
        platform=platform,
        channel=channel,
        gap=gap,
        installs=installs,
    )


def sketch(
    app_id: str,
    day: date,
    installs: range,
    *,
    version: str = "1.0.0",
    platform: str = PLATFORM,
    channel: str = "stable",
) -> SketchCount:
    """The sketch row of the installs numbered ``installs`` (the same number is the same
    install in every row of the day)."""
    of = sketch_of(tokens(len(installs), start=installs.start))
    return SketchCount(
        app_id=app_id,
        day=day,
        version=version,
        platform=platform,
        channel=channel,
        sketch=of.to_bytes(),
    )


async def store(rows: list[UsageRow]) -> None:
    """Insert ``rows``, a statement per table."""
    for model in (CheckCount, ActiveCount, SketchCount, DownloadCount):
        of_model = [row for row in rows if isinstance(row, model)]
        if of_model:
            await model.bulk_create(of_model)
