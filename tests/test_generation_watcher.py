"""The generation watcher hears of other processes' writes: by polling, and on PostgreSQL
at once through LISTEN/NOTIFY, with the poll as the fallback when that connection drops.

Tortoise runs here without the server's lifespan, so the only watcher is the test's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from ferryman.generation_watcher import GenerationWatcher
from ferryman.models import App
from ferryman.models import app as apps
from ferryman.models import generation as generations
from ferryman.models.actor import Actor
from tests.conftest import Databases

Heard = list[tuple[str, int | None]]
SLOW = 60.0  # seconds: a poll interval no test waits for


@pytest.fixture
def heard() -> Iterator[Heard]:
    announced: Heard = []

    def record(slug: str, generation: int | None) -> None:
        announced.append((slug, generation))

    generations.subscribe(record)
    yield announced
    generations.unsubscribe(record)


class CountingWatcher(GenerationWatcher):
    """Counts its polls, so a test can tell a wake-up from the fallback timer."""

    polls = 0

    async def poll(self) -> None:
        self.polls += 1
        await super().poll()


async def bump_elsewhere(app_id: str) -> None:
    """What another process's write leaves: a new generation, nothing announced here."""
    async with in_transaction():
        await apps.bump_generation(app_id)


async def bump_rolled_back(app_id: str) -> None:
    """A change that fails after bumping the generation: its transaction rolls back."""
    with contextlib.suppress(RuntimeError):
        async with in_transaction():
            await apps.bump_generation(app_id)
            raise RuntimeError("the change fails after the bump")


async def eventually(condition: str, check: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not {condition} within {within} s"
        await asyncio.sleep(0.01)


def postgres_only(databases: Databases) -> None:
    if databases.engine != "postgres":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's: runs with --db postgres")


async def test_a_poll_announces_changes_renames_and_removals_with_their_generations(
    orm_url: str, heard: Heard
) -> None:
    console = Actor.console()
    kept = await apps.create(console, apps.AppChanges(slug="kept", name="Kept"))
    moved = await apps.create(console, apps.AppChanges(slug="old-name", name="Moved"))
    gone = await apps.create(console, apps.AppChanges(slug="gone", name="Gone"))
    watcher = GenerationWatcher(orm_url)
    await watcher.poll()
    heard.clear()  # the creations above were announced here as they happened

    await watcher.poll()
    assert heard == [], "a poll with nothing changed announces nothing"

    await bump_elsewhere(kept.id)
    async with in_transaction():
        await App.filter(id=moved.id).update(slug="new-name")
        await apps.bump_generation(moved.id)
    await App.filter(id=gone.id).delete()
    await watcher.poll()

    generation_of = {a.slug: a.generation for a in await App.all()}
    assert sorted(heard, key=str) == sorted(
        [
            ("kept", generation_of["kept"]),
            ("old-name", None),  # the old slug's answers go, whatever their generation
            ("new-name", generation_of["new-name"]),
            ("gone", None),
        ],
        key=str,
    )


async def test_each_app_counts_its_own_generation(orm_url: str) -> None:
    console = Actor.console()
    first = await apps.create(console, apps.AppChanges(slug="first", name="First"))
    second = await apps.create(console, apps.AppChanges(slug="second", name="Second"))
    for _ in range(3):
        await bump_elsewhere(first.id)
    assert (await App.get(id=first.id)).generation == first.generation + 3
    assert (await App.get(id=second.id)).generation == second.generation


async def test_a_rolled_back_change_is_never_announced(orm_url: str, heard: Heard) -> None:
    app = await apps.create(Actor.console(), apps.AppChanges(slug="my-app", name="A"))
    watcher = GenerationWatcher(orm_url)
    await watcher.poll()
    heard.clear()
    await bump_rolled_back(app.id)
    assert (await App.get(id=app.id)).generation == app.generation
    await watcher.poll()
    assert heard == []


async def test_on_sqlite_the_watcher_polls_without_listening(
    databases: Databases, orm_url: str, heard: Heard
) -> None:
    if databases.engine != "sqlite":
        pytest.skip("the SQLite pass checks the polling-only mode")
    app = await apps.create(Actor.console(), apps.AppChanges(slug="my-app", name="A"))
    watcher = CountingWatcher(orm_url, interval=0.05)
    watcher.start()
    try:
        await eventually("polled", lambda: watcher.polls >= 1)
        await bump_elsewhere(app.id)
        await eventually("announced", lambda: ("my-app", app.generation + 1) in heard)
        assert not watcher.listening
    finally:
        await watcher.stop()


async def test_a_notification_wakes_the_watcher_long_before_its_fallback_poll(
    databases: Databases, orm_url: str, heard: Heard
) -> None:
    postgres_only(databases)
    app = await apps.create(Actor.console(), apps.AppChanges(slug="my-app", name="A"))
    watcher = CountingWatcher(orm_url, interval=SLOW, fallback=SLOW)
    watcher.start()
    try:
        await eventually("listening", lambda: watcher.listening)
        await eventually("caught up after connecting", lambda: watcher.polls >= 2)
        polls = watcher.polls

        await bump_rolled_back(app.id)  # no notification either
        await asyncio.sleep(0.3)
        assert watcher.polls == polls

        await bump_elsewhere(app.id)
        await eventually("announced", lambda: ("my-app", app.generation + 1) in heard, 2.0)
        assert watcher.polls == polls, "the notification carried the row: nothing to read"
    finally:
        await watcher.stop()


async def test_a_dropped_listening_connection_is_replaced_and_caught_up(
    databases: Databases, orm_url: str, heard: Heard
) -> None:
    postgres_only(databases)
    app = await apps.create(Actor.console(), apps.AppChanges(slug="my-app", name="A"))
    watcher = CountingWatcher(orm_url, interval=SLOW, fallback=SLOW)
    watcher.start()
    try:
        await eventually("listening", lambda: watcher.listening)
        client = connections.get("default")
        await client.execute_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
        )
        await eventually("noticed the loss", lambda: not watcher.listening)
        await bump_elsewhere(app.id)  # while nobody listens: the reconnect's poll finds it
        await eventually("announced after reconnecting", lambda: bool(heard))
        assert watcher.listening
        assert heard == [("my-app", app.generation + 1)]

        await bump_elsewhere(app.id)  # and the new connection hears the next one
        await eventually("announced", lambda: ("my-app", app.generation + 2) in heard, 2.0)
    finally:
        await watcher.stop()


async def test_notifications_carry_renames_and_removals_without_a_read(
    databases: Databases, orm_url: str, heard: Heard
) -> None:
    postgres_only(databases)
    console = Actor.console()
    moved = await apps.create(console, apps.AppChanges(slug="old-name", name="Moved"))
    gone = await apps.create(console, apps.AppChanges(slug="gone", name="Gone"))
    watcher = CountingWatcher(orm_url, interval=SLOW, fallback=SLOW)
    watcher.start()
    try:
        await eventually("listening", lambda: watcher.listening)
        await eventually("caught up after connecting", lambda: watcher.polls >= 2)
        polls = watcher.polls
        heard.clear()

        async with in_transaction():  # what another process's rename and removal leave
            await App.filter(id=moved.id).update(slug="new-name")
            await apps.bump_generation(moved.id)
        async with in_transaction():
            await generations.notify(gone.id, removed=True)
            await App.filter(id=gone.id).delete()

        await eventually("announced", lambda: len(heard) == 3, 2.0)
        assert heard == [
            ("old-name", None),
            ("new-name", moved.generation + 1),
            ("gone", None),
        ]
        assert watcher.polls == polls
    finally:
        await watcher.stop()


def test_a_notification_names_the_app_and_its_new_row() -> None:
    assert generations.parse("app_01 7 my-app") == ("app_01", ("my-app", 7))
    assert generations.parse("app_01") == ("app_01", None)
