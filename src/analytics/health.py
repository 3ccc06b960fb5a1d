"""The health signal's writes (``models.health`` says what it means): downloads made
marks, and update checks moving them to failed or arrived, each first move added to the
day's counts, all in one transaction per flush.

Which worker sees a download or a check does not matter: the marks are rows every worker
reads, and each move is a conditional update that only one worker's flush wins.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from ferryman.models.health import HealthCount, HealthMark
from ferryman.models.release import Release
from ferryman.versions import InvalidVersion, Version

CHUNK = 500  # tokens looked up per query

# A download to mark: day, release id, platform, token, when.
Attempt = tuple[date, str, str, bytes, datetime]
# A check to read: app slug, the version it runs, its platform (os-arch or os), token.
Sighting = tuple[str, str, str, bytes]
# The labels of a count row: release id, platform, day.
Key = tuple[str, str, date]


async def write(
    attempts: list[Attempt],
    sightings: dict[date, set[Sighting]],
    reported: dict[str, Counter[Key]],
    now: datetime,
    settle: timedelta,
) -> None:
    """Mark the downloads, move the marks the checks of each day tell about, and add
    those and the beacons' ``reported`` sessions to the counts."""
    counts: dict[str, Counter[Key]] = {
        "attempts": Counter(),
        "failed": Counter(),
        "arrived": Counter(),
        **reported,
    }
    # A release deleted since (its app was) would refuse the whole transaction, every time.
    named = {a[1] for a in attempts} | {key[0] for c in reported.values() for key in c}
    kept: set[str] = set()
    if named:
        kept = {str(i) for i in await Release.filter(id__in=named).values_list("id", flat=True)}
    for counter in reported.values():
        for key in [key for key in counter if key[0] not in kept]:
            del counter[key]
    async with in_transaction() as connection:
        for day, release_id, platform, token, at in sorted(a for a in attempts if a[1] in kept):
            made = await _insert_mark(connection, day, release_id, platform, token, at)
            if made:
                counts["attempts"][release_id, platform, day] += 1
        for day, seen in sorted(sightings.items()):
            if seen:
                await _move(connection, day, seen, now, settle, counts)
        await add(connection, counts)


async def add(connection: BaseDBAsyncClient, counts: dict[str, Counter[Key]]) -> None:
    """Add each count to its day's row, rows in the order of their labels (so workers'
    transactions lock them in one order)."""
    names = ("attempts", "failed", "arrived", "sessions", "crashed")
    keys = sorted({key for counter in counts.values() for key in counter})
    if not keys:
        return
    table = HealthCount._meta.db_table
    rows = [
        [release_id, platform, _day(connection, day)]
        + [counts[name][release_id, platform, day] if name in counts else 0 for name in names]
        for release_id, platform, day in keys
    ]
    columns = ("release_id", "platform", "day", *names)
    await connection.execute_many(
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(placeholders(connection, len(columns)))}) "
        "ON CONFLICT (release_id, platform, day) DO UPDATE SET "
        + ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in names),
        rows,
    )


async def _insert_mark(
    connection: BaseDBAsyncClient,
    day: date,
    release_id: str,
    platform: str,
    token: bytes,
    at: datetime,
) -> bool:
    """Mark one download; False when the install had downloaded it today already."""
    table = HealthMark._meta.db_table
    # Rows, not a count: asyncpg counts an INSERT's rows without returning them.
    made = await connection.execute_query_dict(
        f"INSERT INTO {table} (day, release_id, platform, token, marked_at) "
        f"VALUES ({', '.join(placeholders(connection, 5))}) "
        "ON CONFLICT (day, token, release_id, platform) DO NOTHING RETURNING id",
        [_day(connection, day), release_id, platform, token, _moment(connection, at)],
    )
    return bool(made)


async def _move(
    connection: BaseDBAsyncClient,
    day: date,
    seen: set[Sighting],
    now: datetime,
    settle: timedelta,
    counts: dict[str, Counter[Key]],
) -> None:
    """Failed: a marked install still on an older version ``settle`` after its download;
    arrived: one on the marked release's version (undoing a failure seen before)."""
    if not await HealthMark.filter(day=day).exists():
        return  # nothing was downloaded this day: no check can tell about a mark
    by_token: dict[bytes, list[tuple[str, str, str]]] = {}
    for slug, version, platform, token in seen:
        by_token.setdefault(token, []).append((slug, version, platform))
    tokens = sorted(by_token)
    failing: list[int] = []
    arriving: list[int] = []
    versions: dict[str, Version | None] = {}
    for start in range(0, len(tokens), CHUNK):
        marks = await HealthMark.filter(
            day=day, token__in=tokens[start : start + CHUNK], arrived_at__isnull=True
        ).values(
            "id",
            "token",
            "platform",
            "marked_at",
            "failed_at",
            "release__version",
            "release__app__slug",
        )
        for mark in marks:
            target = _version(versions, str(mark["release__version"]))
            if target is None:
                continue
            for slug, running, platform in by_token.get(bytes(mark["token"]), ()):
                if slug != mark["release__app__slug"] or not _same_platform(
                    str(mark["platform"]), platform
                ):
                    continue
                current = _version(versions, running)
                if current is None:
                    continue
                if current == target:
                    arriving.append(mark["id"])
                elif (
                    current < target
                    and mark["failed_at"] is None
                    and now - mark["marked_at"] >= settle
                ):
                    failing.append(mark["id"])
    arrived = set(arriving)
    failing = sorted(set(failing) - arrived)
    for release_id, platform, mark_day, _ in await _set(
        connection, "failed_at", failing, now, "failed_at IS NULL AND arrived_at IS NULL"
    ):
        counts["failed"][release_id, platform, mark_day] += 1
    for release_id, platform, mark_day, failed in await _set(
        connection, "arrived_at", sorted(arrived), now, "arrived_at IS NULL"
    ):
        counts["arrived"][release_id, platform, mark_day] += 1
        if failed:
            counts["failed"][release_id, platform, mark_day] -= 1


async def _set(
    connection: BaseDBAsyncClient, column: str, ids: list[int], now: datetime, unless: str
) -> Iterable[tuple[str, str, date, bool]]:
    """Set ``column`` on the marks still meeting ``unless``; the ones this call moved."""
    moved: list[tuple[str, str, date, bool]] = []
    table = HealthMark._meta.db_table
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        first, *rest = placeholders(connection, len(chunk) + 1)
        rows = await connection.execute_query_dict(
            f"UPDATE {table} SET {column} = {first} WHERE id IN ({', '.join(rest)}) "
            f"AND {unless} RETURNING release_id, platform, day, failed_at",
            [_moment(connection, now), *chunk],
        )
        for row in rows:
            stored = row["day"]
            day = stored if isinstance(stored, date) else date.fromisoformat(str(stored))
            failed = row["failed_at"] is not None and column == "arrived_at"
            moved.append((str(row["release_id"]), str(row["platform"]), day, failed))
    return moved


def _same_platform(marked: str, checked: str) -> bool:
    """A check names os-arch (or the bare OS); the file may be an installer's key of it."""
    return marked == checked or marked.startswith(f"{checked}-")


def _version(cache: dict[str, Version | None], text: str) -> Version | None:
    if text not in cache:
        try:
            cache[text] = Version.parse(text)
        except InvalidVersion:
            cache[text] = None
    return cache[text]


def _day(connection: BaseDBAsyncClient, day: date) -> object:
    # asyncpg takes a date; SQLite stores the ISO text Tortoise stores.
    return day if connection.capabilities.dialect == "postgres" else day.isoformat()


def _moment(connection: BaseDBAsyncClient, moment: datetime) -> object:
    return moment if connection.capabilities.dialect == "postgres" else moment.isoformat()


def placeholders(connection: BaseDBAsyncClient, count: int) -> list[str]:
    """Parameter marks for ``count`` values, in the connection's dialect."""
    if connection.capabilities.dialect == "postgres":
        return [f"${n}" for n in range(1, count + 1)]
    return ["?"] * count
