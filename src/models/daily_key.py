"""The random key of each UTC day that install tokens are made with, and its forgetting.

While a day lasts, every worker must make the same token for the same install (so it is
counted once), hence one stored key per day. Once the day is over the key is deleted, so
no token of that day can ever be recomputed from an install id, address or user agent,
nor linked to the same install's tokens of other days.
"""

from __future__ import annotations

import secrets
from datetime import date

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

KEY_BYTES = 32


class DailyKey(Model):
    day = fields.DateField(primary_key=True)
    secret = fields.BinaryField()

    class Meta:
        table = "daily_keys"


async def key_for(day: date) -> bytes:
    """The key of ``day`` (a UTC date), made on first use. Workers that ask at once all
    get the key of the one whose insert won."""
    found = await DailyKey.get_or_none(day=day)
    if found is not None:
        return bytes(found.secret)
    secret = secrets.token_bytes(KEY_BYTES)
    try:
        async with in_transaction():  # on PostgreSQL a failed insert spoils its transaction
            await DailyKey.create(day=day, secret=secret)
    except IntegrityError:  # another worker made this day's key first
        found = await DailyKey.get(day=day)
        return bytes(found.secret)
    return secret


async def forget_before(day: date) -> int:
    """Delete the keys of the days before ``day``; how many went."""
    return await DailyKey.filter(day__lt=day).delete()
