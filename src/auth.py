"""Keys on the wire: their format, hashing, and turning a header into an Actor.

An API key is ``uk_live_`` followed by 40 random base62 characters; a licence key,
which installed apps send on the update check, is ``lk_`` and 40 more; a console sign-in
link carries ``sl_`` and 40 more, a console session's cookie ``fs_`` and 40 more. Only their
SHA-256 is stored, so a database leak does not leak working keys, and the lookup is
by hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
import string
from datetime import UTC, datetime, timedelta

from starlette.requests import HTTPConnection

from ferryman.models import ApiKey
from ferryman.models.actor import Actor
from ferryman.models.errors import InvalidInput

KEY_PREFIX = "uk_live_"
SECRET_LENGTH = 40
DISPLAY_LENGTH = len(KEY_PREFIX) + 4
KEY_PATTERN = re.compile(r"uk_live_[0-9A-Za-z]{32,120}")
LICENSE_PREFIX = "lk_"
LICENSE_PATTERN = re.compile(r"lk_[0-9A-Za-z]{32,120}")
# A one-time sign-in link's secret (in its path), and a console session's (in its cookie).
LINK_PREFIX = "sl_"
LINK_PATTERN = re.compile(r"sl_[0-9A-Za-z]{40}")
SESSION_PREFIX = "fs_"
SESSION_PATTERN = re.compile(r"fs_[0-9A-Za-z]{40}")
LAST_USED_PRECISION = timedelta(minutes=1)
_ALPHABET = string.ascii_letters + string.digits


class AuthenticationError(Exception):
    """The request carries no usable key; the message says which way it failed."""


@dataclasses.dataclass(frozen=True, slots=True)
class MintedKey:
    """A key as Ferryman keeps it: ``secret`` goes to its holder once, the rest is stored."""

    secret: str
    key_hash: str
    prefix: str


def mint(prefix: str = KEY_PREFIX) -> MintedKey:
    """A new API key, or with ``LICENSE_PREFIX`` a new licence key."""
    return existing(
        prefix + "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH)), prefix
    )


def existing(secret: str, prefix: str = KEY_PREFIX) -> MintedKey:
    """A key made elsewhere (a licence key imported from another system), stored the way a
    minted one is; the caller has checked it against the pattern."""
    return MintedKey(secret=secret, key_hash=hash_key(secret), prefix=secret[: len(prefix) + 4])


def license_key(authorization: str | None, x_license_key: str | None) -> str | None:
    """The licence key an installed app sent (``Authorization: Bearer lk_…`` or
    ``X-License-Key``), None when it sent none, or AuthenticationError when malformed."""
    token = x_license_key
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise AuthenticationError(
                "malformed Authorization header: expected 'Bearer <licence key>'"
            )
        token = value
    if token is None:
        return None
    token = token.strip()
    if not LICENSE_PATTERN.fullmatch(token):
        raise AuthenticationError(
            f"malformed licence key: keys look like {LICENSE_PREFIX} followed by at least 32 "
            "letters and digits"
        )
    return token


def typed_license_hash(typed: str | None) -> str | None:
    """The stored hash of a licence key an admin typed in to try it (updatePreview), None
    for none, or InvalidInput naming the ``licenseKey`` field when it is malformed."""
    if typed is None:
        return None
    try:
        key = license_key(None, typed)
    except AuthenticationError as error:
        raise InvalidInput(str(error), ("licenseKey",)) from None
    return None if key is None else hash_key(key)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str:
    """The key in an ``Authorization: Bearer <key>`` header, or AuthenticationError."""
    if not authorization:
        raise AuthenticationError(
            "missing Authorization header: send 'Authorization: Bearer <api key>'"
        )
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("malformed Authorization header: expected 'Bearer <api key>'")
    token = token.strip()
    if not KEY_PATTERN.fullmatch(token):
        raise AuthenticationError(
            f"malformed API key: keys look like {KEY_PREFIX} followed by at least 32 "
            "letters and digits"
        )
    return token


async def authenticate(connection: HTTPConnection) -> Actor:
    """Resolve the request's key to its Actor; refuse unknown and revoked keys.

    A refused key marks the request (``state.authentication_failed``), which the rate
    limits count against the client's address.
    """
    authorization = connection.headers.get("authorization")
    try:
        key = await _key(authorization)
    except AuthenticationError:
        if authorization:
            connection.state.authentication_failed = True
        raise
    await _touch(key)
    return key.as_actor(connection.scope.get("state", {}).get("request_id"))


async def _key(authorization: str | None) -> ApiKey:
    token = bearer_token(authorization)
    digest = hash_key(token)
    key = await ApiKey.get_or_none(key_hash=digest)
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        raise AuthenticationError("unknown API key")
    if key.revoked_at is not None:
        raise AuthenticationError(
            f"API key {key.prefix}… was revoked at {key.revoked_at.isoformat()}"
        )
    return key


async def _touch(key: ApiKey) -> None:
    # At most one write a minute per key: a busy CI key must not write on every request.
    now = datetime.now(UTC)
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_PRECISION:
        return
    await ApiKey.filter(id=key.id).update(last_used_at=now)
