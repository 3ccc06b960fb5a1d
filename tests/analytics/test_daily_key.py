"""Day keys on a real database: one per day however many workers ask, gone once the day
is over, and nothing stored that names an install."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from tortoise import connections

from ferryman.analytics.sketch import InstallSketch, identity, token
from ferryman.models import DailyKey
from ferryman.models.daily_key import KEY_BYTES, forget_before, key_for

pytestmark = pytest.mark.usefixtures("orm_url")
TODAY = date(2026, 3, 14)
YESTERDAY = TODAY - timedelta(days=1)
INSTALL_ID = "7f1c9a52-install-id-fed-in"
ADDRESS = "203.0.113.77"
USER_AGENT = "tauri-plugin-updater/2.9.0 MyApp"
BY_ID = identity(INSTALL_ID.encode(), ADDRESS.encode(), USER_AGENT.encode())


async def test_a_day_has_one_key_and_another_day_another() -> None:
    key = await key_for(TODAY)

    assert len(key) == KEY_BYTES
    assert await key_for(TODAY) == key
    assert await key_for(YESTERDAY) != key
    assert await DailyKey.all().count() == 2


async def test_workers_asking_at_once_get_the_same_key() -> None:
    keys = await asyncio.gather(*(key_for(TODAY) for _ in range(8)))

    assert len(set(keys)) == 1
    assert await DailyKey.filter(day=TODAY).count() == 1
    assert bytes((await DailyKey.get(day=TODAY)).secret) == keys[0]


async def test_forgetting_leaves_no_earlier_key_so_a_token_is_never_made_again() -> None:
    old_key = await key_for(TODAY - timedelta(days=30))
    yesterdays_key = await key_for(YESTERDAY)
    todays_key = await key_for(TODAY)
    yesterdays_token = token(yesterdays_key, BY_ID)

    assert await forget_before(TODAY) == 2
    assert await forget_before(TODAY) == 0

    assert [key.day for key in await DailyKey.all()] == [TODAY]
    assert await key_for(TODAY) == todays_key
    remade = await key_for(YESTERDAY)  # asked again, the day gets a new key, not the old
    assert remade not in (yesterdays_key, old_key)
    assert token(remade, BY_ID) != yesterdays_token


async def test_nothing_stored_names_an_install_its_address_or_user_agent() -> None:
    sketch = InstallSketch()
    for day in (YESTERDAY, TODAY):
        key = await key_for(day)
        sketch.add(token(key, BY_ID))
        sketch.add(token(key, identity(None, ADDRESS.encode(), USER_AGENT.encode())))
    await forget_before(TODAY)

    _, rows = await connections.get("default").execute_query("SELECT * FROM daily_keys")
    stored = [as_bytes(value) for row in rows for value in dict(row).values()]
    stored.append(sketch.to_bytes())  # what the roll-ups will store
    assert len(stored) == 3  # today's day and key, and the sketch
    for fed_in in (INSTALL_ID, ADDRESS, USER_AGENT):
        assert not [value for value in stored if fed_in.encode() in value]


def as_bytes(value: object) -> bytes:
    """A stored value as the bytes to search (a date or text as its text)."""
    return value if isinstance(value, bytes) else str(value).encode()
