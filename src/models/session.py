"""Console sessions, kept on the server so that they can be ended from anywhere.

The browser holds a random token; only its SHA-256 is stored (``auth`` mints and hashes
it), so a copy of the database opens no sessions. A session ends when it is idle too
long, when it reaches its absolute age, at sign-out, when the person signs out
everywhere, and when their password is reset or they are removed.
"""

from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from ferryman.models.ids import MAX_LENGTH, new_id

if TYPE_CHECKING:
    from ferryman.models.user import User

# A busy console must not write on every request: last use is kept to the minute.
LAST_SEEN_PRECISION = timedelta(minutes=1)


@dataclasses.dataclass(frozen=True, slots=True)
class Lifetime:
    """How long a session lives without use, and at most."""

    idle: timedelta
    absolute: timedelta


class Session(Model):
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    token_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    # Sent back with every form and by the console's scripts; a cross-site page cannot read it.
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()

    user_id: str

    class Meta:
        table = "sessions"
        indexes = (("user_id",),)


async def start(user_id: str, token_hash: str, lifetime: Lifetime, now: datetime) -> Session:
    """A new session for a person who just proved who they are (always a new id)."""
    return await Session.create(
        id=new_id("ses"),
        token_hash=token_hash,
        user_id=user_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime.absolute,
    )


async def find(token_hash: str, lifetime: Lifetime, now: datetime) -> Session | None:
    """The live session with this token, its last use noted; an expired one is ended."""
    session = await Session.get_or_none(token_hash=token_hash)
    if session is None:
        return None
    if now >= session.expires_at or now - session.last_seen_at >= lifetime.idle:
        await session.delete()
        return None
    if now - session.last_seen_at >= LAST_SEEN_PRECISION:
        session.last_seen_at = now
        await Session.filter(id=session.id).update(last_seen_at=now)
    return session


async def end(session_id: str) -> None:
    await Session.filter(id=session_id).delete()


async def end_all(user_id: str) -> int:
    """Sign a person out everywhere; how many sessions ended."""
    return await Session.filter(user_id=user_id).delete()
