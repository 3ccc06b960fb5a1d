"""Counting every update check and download in the worker that answered it, and adding
the counts to the daily rows (:mod:`ferryman.models.usage`) in batches.

An update check answered from the edge cache costs a few microseconds, so all it pays
here is one tuple appended to a list (:meth:`Recorder.checked`). Every
:data:`FLUSH_SECONDS`, and at each UTC midnight, the list is worked through: each check
is read into its labels, the day's key makes its install a token for the sketch, and the
counts are added to the database in one transaction. A batch is counted on the day it
began (the flush that ends it notes the day the next one begins), so the checks of a day
are counted on that day, whenever the flush that writes them runs. An install's id,
address and user agent are in memory until then and go nowhere else.

A batch the database refused is kept, as counts, for the next flush; counts of an app
deleted since are dropped. A stopping worker waits for the flush under way and flushes
what it has. Workers' counts add up: each adds its own to the same rows, and sketches
merge as a union; every flush writes its rows in the order of their labels, so that
workers' transactions lock shared rows in one order and never deadlock each other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from starlette.types import Scope
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from ferryman.analytics import health
from ferryman.analytics.sketch import InstallSketch, Tokens, identity
from ferryman.background import BackgroundLoop
from ferryman.metrics import DOWNLOADS, PRIVATE_OFFER
from ferryman.models import channel
from ferryman.models.app import App
from ferryman.models.daily_key import forget_before, key_for
from ferryman.models.health import SETTLE, TOKEN_BYTES, HealthMark
from ferryman.models.release import Release
from ferryman.models.usage import (
    LONGEST_GAP,
    NEVER,
    OTHER_VERSION,
    ActiveCount,
    CheckCount,
    DownloadCount,
    SketchCount,
)
from ferryman.rest_compat.tauri import BadCheck, check_of
from ferryman.settings import Analytics

log = logging.getLogger("ferryman.analytics")

FLUSH_SECONDS = 5.0
# A download of a release's file, for the health signal: when, release id, platform, and
# who (install id, address, user agent), held only until the flush makes it a token.
Fetched = tuple[datetime, str, str, bytes | None, str, bytes]
# Checks waiting for a flush, at most: a few seconds of the busiest worker's traffic.
# Beyond it (the database has stalled the flush) checks go uncounted, and are logged.
QUEUE_LIMIT = 500_000
INSTALL_ID = b"x-install-id"
USER_AGENT = b"user-agent"
# The day (UTC, YYYY-MM-DD) of the install's last successful update check, or "never".
LAST_CHECK = b"x-last-check-day"
_NEVER = b"never"

# One update check as answered: raw path, path and query, the version offered, and what
# the counting needs from its headers (install id, address, user agent, last check day).
Seen = tuple[bytes | None, str, bytes, bytes, bytes | None, str, bytes, bytes | None]
# Day, app (slug for checks, id for downloads), version, platform, channel ("" for the
# app's most stable one, until written).
Labels = tuple[date, str, str, str, str]
# The checks of one batch, and the day it began.
Batch = tuple[date, list[Seen]]
T = TypeVar("T")


@dataclasses.dataclass(slots=True)
class Counts:
    """Counts not yet written: checks by answer, first checks of the day by gap, sketches
    of installs, and downloads by country."""

    checks: Counter[tuple[Labels, str]] = dataclasses.field(default_factory=Counter)
    actives: Counter[tuple[Labels, int]] = dataclasses.field(default_factory=Counter)
    sketches: dict[Labels, InstallSketch] = dataclasses.field(default_factory=dict)
    downloads: Counter[tuple[Labels, str]] = dataclasses.field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(self.checks or self.actives or self.sketches or self.downloads)

    def merge(self, other: Counts) -> None:
        self.checks.update(other.checks)
        self.actives.update(other.actives)
        self.downloads.update(other.downloads)
        for labels, sketch in other.sketches.items():
            self.sketch(labels).merge(sketch)

    def sketch(self, labels: Labels) -> InstallSketch:
        found = self.sketches.get(labels)
        if found is None:
            found = self.sketches[labels] = InstallSketch()
        return found


def flush_delay(now: datetime) -> float:
    """Seconds until the loop's next flush: :data:`FLUSH_SECONDS`, or until the next UTC
    midnight when that is sooner, so that a batch never runs into the next day."""
    now = now.astimezone(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(), UTC)
    return min(FLUSH_SECONDS, (midnight - now).total_seconds())


def gap(last_check: bytes, today: date) -> int | None:
    """Days since the install's last check as it told them (:data:`NEVER` for never or
    longer than 28); None when that check was today (the install was counted already) or
    the value is not a day, which is ignored rather than refused: a refused check is an
    install that cannot update."""
    if last_check == _NEVER:
        return NEVER
    try:
        days = (today - date.fromisoformat(last_check.decode("ascii"))).days
    except (UnicodeDecodeError, ValueError):
        return None
    if days < 1:
        return None
    return min(days, NEVER) if days > LONGEST_GAP else days


class Recorder(BackgroundLoop):
    """This worker's counts of update checks and downloads, written every
    :data:`FLUSH_SECONDS`; which parts are counted is ``FERRYMAN_ANALYTICS``."""

    def __init__(
        self, parts: frozenset[Analytics], clock: Callable[[], datetime] | None = None
    ) -> None:
        self.parts = parts
        self._checks_on = Analytics.CHECKS in parts
        self._actives_on = Analytics.ACTIVES in parts
        self._estimates_on = Analytics.ESTIMATES in parts
        self._downloads_on = Analytics.DOWNLOADS in parts
        self._health_on = Analytics.HEALTH in parts
        self.settle = SETTLE
        self._clock = clock or (lambda: datetime.now(UTC))
        self._seen: list[Seen] = []
        self._began = self._clock().date()  # the day the batch in _seen began
        self._unread: list[Batch] = []  # batches whose day's key could not be had
        self._downloads: Counter[tuple[Labels, str]] = Counter()
        self._fetched: list[Fetched] = []
        self._reported: dict[str, Counter[health.Key]] = {
            "sessions": Counter(),
            "crashed": Counter(),
        }
        self._unwritten = Counts()
        self._keyed: tuple[date, Tokens] | None = None
        self._forgotten: date | None = None  # keys of the days before it are deleted
        self._dropped = 0
        # One flush at a time, so that stop() writes after the loop's flush under way.
        self._flushing = asyncio.Lock()
        self._in_flight: asyncio.Task[None] | None = None

    @property
    def counting_checks(self) -> bool:
        return self._checks_on or self._actives_on or self._estimates_on or self._health_on

    @property
    def _keyed_on(self) -> bool:
        """Whether checks are made day tokens (for the sketches or the health signal)."""
        return self._estimates_on or self._health_on

    def use_clock(self, clock: Callable[[], datetime]) -> None:
        """Count by ``clock`` from now on (tests drive time with it); call before any
        traffic, as the batch under way begins anew on its day."""
        self._clock = clock
        self._began = clock().date()

    def checked(self, scope: Scope, offer: bytes) -> None:
        """Note one update check answered with ``offer`` (a version or "none")."""
        if len(self._seen) >= QUEUE_LIMIT:
            self._dropped += 1
            return
        install = agent = last = None
        for name, value in scope["headers"]:
            if name == INSTALL_ID:
                install = value
            elif name == USER_AGENT:
                agent = value
            elif name == LAST_CHECK:
                last = value
        if not self._actives_on:
            last = None
        # Who asked is held only for the sketch and the health signal, and only until the
        # batch is read.
        estimating = self._keyed_on
        self._seen.append(
            (
                scope.get("raw_path"),
                scope["path"],
                scope["query_string"],
                offer,
                install if estimating else None,
                scope["state"]["client_ip"] if estimating else "",
                (agent or b"") if estimating else b"",
                last,
            )
        )

    def downloaded(
        self, app_id: str, version: str, platform: str, channel: str, country: str
    ) -> None:
        """Count one download (no address or anything else of the downloader's)."""
        if self._downloads_on:
            labels = (self._clock().date(), app_id, version, platform, channel)
            self._downloads[labels, country] += 1

    def fetched(self, scope: Scope, release_id: str, platform: str) -> None:
        """Note a download of a release's file, for the health signal: which install made
        it is a day token once flushed (``models.health``)."""
        if not self._health_on or len(self._fetched) >= QUEUE_LIMIT:
            return
        install = agent = None
        for name, value in scope["headers"]:
            if name == INSTALL_ID:
                install = value
            elif name == USER_AGENT:
                agent = value
        self._fetched.append(
            (
                self._clock(),
                release_id,
                platform,
                install,
                scope["state"]["client_ip"],
                agent or b"",
            )
        )

    def reported(self, release_id: str, platform: str, sessions: int, crashed: int) -> None:
        """Count a health beacon's sessions of a release, and how many crashed."""
        if self._health_on:
            key = (release_id, platform, self._clock().date())
            self._reported["sessions"][key] += sessions
            self._reported["crashed"][key] += crashed

    def start(self) -> None:
        if not self._seen:  # the first batch begins now, not when the app was made
            self._began = self._clock().date()
        super().start()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(flush_delay(self._clock()))
            # Shielded: a stop() landing while the batch is being written must not lose
            # it; stop() waits for this flush instead.
            self._in_flight = asyncio.create_task(self._flush(final=False))
            await asyncio.shield(self._in_flight)

    async def stop(self) -> None:
        """Stop the loop, let a flush under way finish, and write what is still counted
        (what the database refuses now is lost, and logged)."""
        await super().stop()
        if self._in_flight is not None:
            await asyncio.wait({self._in_flight})
            self._in_flight = None
        await self._flush(final=True)

    async def flush(self) -> None:
        """Add everything counted so far to the database, or keep it for the next flush."""
        await self._flush(final=False)

    async def _flush(self, final: bool) -> None:
        async with self._flushing:
            # The batch ends here, and the next begins on the day it is now.
            batches = [*self._unread, (self._began, self._seen)]
            self._seen, self._began, self._unread = [], self._clock().date(), []
            counts, self._unwritten = self._unwritten, Counts()
            counts.downloads.update(self._downloads)
            self._downloads = Counter()
            fetched, self._fetched = self._fetched, []
            reported, self._reported = self._reported, {"sessions": Counter(), "crashed": Counter()}
            sightings: dict[date, set[health.Sighting]] = {}
            if self._dropped:
                log.warning(
                    "%d update checks went uncounted: the counts could not be written fast enough",
                    self._dropped,
                    extra={"count": self._dropped},
                )
                self._dropped = 0
            unread = [(day, seen) for day, seen in batches if seen]
            try:
                if self._keyed_on and not final:
                    # Every flush, not only those with checks: yesterday's key must go
                    # on a quiet day too; never the key of a day still to be read. Not
                    # a stopping worker's: with nothing to write it queries nothing.
                    oldest = min((day for day, _ in unread), default=batches[-1][0])
                    await self._forget_before(oldest)
                while unread:
                    day, seen = unread[0]
                    tokens = await self._tokens(day) if self._keyed_on else None
                    sighted = sightings.setdefault(day, set()) if self._health_on else None
                    self._observe(seen, day, tokens, counts, sighted)
                    unread.pop(0)
                if counts:
                    await _write(counts)
            except Exception:  # analytics must never take the server down
                if final:
                    log.exception("could not write the analytics counts; they are lost")
                else:
                    log.exception(
                        "could not write the analytics counts; they are kept for the next try"
                    )
                    self._keep(counts, unread)
                    self._fetched[:0] = fetched[: QUEUE_LIMIT - len(self._fetched)]
                    for name, counted in reported.items():
                        self._reported[name].update(counted)
                return
            if fetched or any(sightings.values()) or any(reported.values()):
                await self._write_health(fetched, sightings, reported, final)
            for (labels, _), count in counts.downloads.items():
                DOWNLOADS.labels(labels[3]).inc(count)

    async def _write_health(
        self,
        fetched: list[Fetched],
        sightings: dict[date, set[health.Sighting]],
        reported: dict[str, Counter[health.Key]],
        final: bool,
    ) -> None:
        """Mark the downloads, move the marks the checks tell about, add the beacons'
        sessions. Refused, the downloads and sessions are kept for the next flush; the
        checks' sightings are not (those installs check again)."""
        try:
            attempts = [
                (
                    at.date(),
                    release_id,
                    platform,
                    (await self._tokens(at.date())).of(
                        identity((install and install.strip()) or None, address.encode(), agent)
                    )[:TOKEN_BYTES],
                    at,
                )
                for at, release_id, platform, install, address, agent in fetched
            ]
            await health.write(attempts, sightings, reported, self._clock(), self.settle)
        except Exception:  # analytics must never take the server down
            log.exception("could not write the health signal")
            if not final:
                self._fetched[:0] = fetched[: max(QUEUE_LIMIT - len(self._fetched), 0)]
                for name, counts in reported.items():
                    self._reported[name].update(counts)

    def _keep(self, counts: Counts, unread: list[Batch]) -> None:
        """Keep what a refused flush had: its counts, and its checks not yet read (they
        need their day's key), up to :data:`QUEUE_LIMIT` of them."""
        self._unwritten.merge(counts)
        room = QUEUE_LIMIT
        for day, seen in unread:
            kept = seen[:room]
            self._dropped += len(seen) - len(kept)
            room -= len(kept)
            if kept:
                self._unread.append((day, kept))

    async def _forget_before(self, day: date) -> None:
        """Delete the keys of the days before ``day``, once a day."""
        if self._forgotten is None or self._forgotten < day:
            await forget_before(day)
            await HealthMark.filter(day__lt=day).delete()  # their tokens' key is gone
            self._forgotten = day

    async def _tokens(self, day: date) -> Tokens:
        """The tokens of ``day``'s installs."""
        if self._keyed is None or self._keyed[0] != day:
            self._keyed = (day, Tokens(await key_for(day)))
        return self._keyed[1]

    def _observe(
        self,
        seen: list[Seen],
        today: date,
        tokens: Tokens | None,
        counts: Counts,
        sighted: set[health.Sighting] | None = None,
    ) -> None:
        """Read ``seen`` into ``counts`` (and, for the health signal, who ran what into
        ``sighted``). Equal checks (one install asking again) are read once, and so is
        each URL and each day an install names, and each install is hashed once a
        batch."""
        read: dict[tuple[bytes | None, str, bytes, bytes], _Read | None] = {}
        gaps: dict[bytes, int | None] = {}
        made: dict[bytes, bytes] = {}
        for item, times in Counter(seen).items():
            raw_path, path, query, offer, install, address, agent, last = item
            where = (raw_path, path, query, offer)
            if where in read:
                check = read[where]
            else:
                check = read[where] = _Read.of(where, today, counts, self._estimates_on)
            if check is None:
                continue
            if self._checks_on:
                counts.checks[check.answered] += times
            if last is not None and self._actives_on:
                if last in gaps:
                    days = gaps[last]
                else:
                    days = gaps[last] = gap(last, today)
                if days is not None:
                    counts.actives[check.labels, days] += times
            if tokens is not None and (check.sketch is not None or sighted is not None):
                # A blank install id is none sent, as the offer rules read it.
                install_identity = identity(
                    (install and install.strip()) or None, address.encode(), agent
                )
                install_token = made.get(install_identity)
                if install_token is None:
                    install_token = made[install_identity] = tokens.of(install_identity)
                if check.sketch is not None:
                    check.sketch.add(install_token)
                if sighted is not None:
                    _, slug, version, platform, _ = check.labels
                    sighted.add((slug, version, platform, install_token[:TOKEN_BYTES]))


@dataclasses.dataclass(frozen=True, slots=True)
class _Read:
    """One URL answered one way, as counted: its labels, its key in the check counts, and
    the sketch of its installs."""

    labels: Labels
    answered: tuple[Labels, str]
    sketch: InstallSketch | None  # None: estimates are off

    @classmethod
    def of(
        cls,
        where: tuple[bytes | None, str, bytes, bytes],
        today: date,
        counts: Counts,
        estimating: bool,
    ) -> _Read | None:
        """None if the check does not parse (it was answered, so it did; but one odd check
        must never fail a batch)."""
        raw_path, path, query, offer = where
        try:
            check = check_of(raw_path, path, query)
        except BadCheck:
            return None
        platform = check.os if check.arch is None else f"{check.os}-{check.arch}"
        labels = (today, check.slug, str(check.current), platform, check.channel or "")
        answer = offer.decode("latin-1").removeprefix(PRIVATE_OFFER)
        return cls(labels, (labels, answer), counts.sketch(labels) if estimating else None)


async def _write(counts: Counts) -> None:
    """Add ``counts`` to the daily rows, all in one transaction, each table's rows in the
    order of their labels. Counts of apps that are gone are dropped (a row of one would
    refuse the whole transaction, every time)."""
    slugs = {labels[1] for labels in _check_labels(counts)}
    ids = {labels[1] for labels, _ in counts.downloads}
    found = await App.filter(Q(slug__in=slugs) | Q(id__in=ids)).values_list(
        "slug", "id", "channels"
    )
    apps = {slug: (app_id, channel.order_of(order)[0]) for slug, app_id, order in found}
    app_ids = {app_id for _, app_id, _ in found}
    downloads = [(key, count) for key, count in counts.downloads.items() if key[0][1] in app_ids]

    def named(labels: Labels) -> Labels | None:
        # Checks name their app by slug and leave the channel out when they ask for the
        # most stable one; rows name it by id, and every channel by name.
        found = apps.get(labels[1])
        if found is None:  # the app was deleted since
            return None
        day, _, version, platform, channel_name = labels
        return (day, found[0], version, platform, channel_name or found[1])

    checks: Counter[tuple[Labels, str]] = Counter()
    actives: Counter[tuple[Labels, int]] = Counter()
    sketches = Counts()
    for (labels, answer), count in counts.checks.items():
        if (row := named(labels)) is not None:
            checks[row, answer] += count
    for (labels, days), count in counts.actives.items():
        if (row := named(labels)) is not None:
            actives[row, days] += count
    for labels, sketch in counts.sketches.items():
        if (row := named(labels)) is not None:
            sketches.sketch(row).merge(sketch)
    released = await _released(
        {row[1] for row, _ in checks}
        | {row[1] for row in sketches.sketches}
        | {row[1] for row, _ in actives},
        {row[2] for row, _ in checks}
        | {row[2] for row in sketches.sketches}
        | {row[2] for row, _ in actives},
    )
    async with in_transaction() as connection:
        await _add(connection, CheckCount, "answer", "checks", _known(checks, released))
        await _add(connection, ActiveCount, "gap", "installs", _known(actives, released))
        await _add(connection, DownloadCount, "country", "downloads", downloads)
        known = _known_sketches(sketches.sketches, released)
        for labels in sorted(known):
            await _merge(connection, labels, known[labels])


def _check_labels(counts: Counts) -> Iterable[Labels]:
    yield from (labels for labels, _ in counts.checks)
    yield from (labels for labels, _ in counts.actives)
    yield from counts.sketches


async def _released(app_ids: set[str], versions: set[str]) -> set[tuple[str, str]]:
    """Which of ``versions`` each app has a release of: only those get rows of their own."""
    if not app_ids or not versions:
        return set()
    rows = await Release.filter(app_id__in=app_ids, version__in=versions).values_list(
        "app_id", "version"
    )
    return {(str(app_id), str(version)) for app_id, version in rows}


def _known(
    counts: Counter[tuple[Labels, T]], released: set[tuple[str, str]]
) -> Iterable[tuple[tuple[Labels, T], int]]:
    merged: Counter[tuple[Labels, T]] = Counter()
    for (labels, extra), count in counts.items():
        merged[_version_known(labels, released), extra] += count
    return merged.items()


def _known_sketches(
    sketches: dict[Labels, InstallSketch], released: set[tuple[str, str]]
) -> dict[Labels, InstallSketch]:
    merged = Counts()
    for labels, sketch in sketches.items():
        merged.sketch(_version_known(labels, released)).merge(sketch)
    return merged.sketches


def _version_known(labels: Labels, released: set[tuple[str, str]]) -> Labels:
    day, app_id, version, platform, channel_name = labels
    if (app_id, version) not in released:
        version = OTHER_VERSION
    return (day, app_id, version, platform, channel_name)


_LABELS = ("app_id", "day", "version", "platform", "channel")


async def _add(
    connection: BaseDBAsyncClient,
    model: type[CheckCount | ActiveCount | DownloadCount],
    extra: str,
    total: str,
    counts: Iterable[tuple[tuple[Labels, T], int]],
) -> None:
    """Add each count to its row, making the row when it is the first of its labels, in
    the order of the labels (see :func:`_write`)."""
    rows = [
        [*_values(connection, labels), extra_value, count]
        for (labels, extra_value), count in sorted(counts, key=lambda item: item[0])
    ]
    if not rows:
        return
    table = model._meta.db_table
    columns = (*_LABELS, extra)
    await connection.execute_many(
        f"INSERT INTO {table} ({', '.join(columns)}, {total}) "
        f"VALUES ({', '.join(_marks(connection, len(columns) + 1))}) "
        f"ON CONFLICT ({', '.join(columns)}) "
        f"DO UPDATE SET {total} = {table}.{total} + excluded.{total}",
        rows,
    )


async def _merge(connection: BaseDBAsyncClient, labels: Labels, sketch: InstallSketch) -> None:
    """Merge ``sketch`` into its row under a row lock (on SQLite, the transaction holds
    the database's one write lock already)."""
    values = _values(connection, labels)
    table = SketchCount._meta.db_table
    # As rows: PostgreSQL's client fetches none through execute_query for an INSERT.
    made = await connection.execute_query_dict(
        f"INSERT INTO {table} ({', '.join(_LABELS)}, sketch) "
        f"VALUES ({', '.join(_marks(connection, len(_LABELS) + 1))}) "
        f"ON CONFLICT ({', '.join(_LABELS)}) DO NOTHING RETURNING id",
        [*values, sketch.to_bytes()],
    )
    if made:
        return
    marks = _marks(connection, len(_LABELS))
    where = " AND ".join(f"{name} = {mark}" for name, mark in zip(_LABELS, marks, strict=True))
    lock = " FOR UPDATE" if connection.capabilities.dialect == "postgres" else ""
    _, found = await connection.execute_query(
        f"SELECT id, sketch FROM {table} WHERE {where}{lock}", values
    )
    stored = InstallSketch.from_bytes(bytes(found[0]["sketch"]))
    stored.merge(sketch)
    first, second = _marks(connection, 2)
    await connection.execute_query(
        f"UPDATE {table} SET sketch = {first} WHERE id = {second}",
        [stored.to_bytes(), found[0]["id"]],
    )


def _values(connection: BaseDBAsyncClient, labels: Labels) -> list[object]:
    day, app_id, version, platform, channel_name = labels
    # asyncpg takes a date; SQLite stores the ISO text Tortoise stores.
    stored_day: object = day if connection.capabilities.dialect == "postgres" else day.isoformat()
    return [app_id, stored_day, version, platform, channel_name]


def _marks(connection: BaseDBAsyncClient, count: int) -> list[str]:
    """Parameter marks for ``count`` values, in the connection's dialect."""
    if connection.capabilities.dialect == "postgres":
        return [f"${n}" for n in range(1, count + 1)]
    return ["?"] * count
