"""People's passwords: what is accepted, and Argon2id to hash and check them.

Hashing takes a tenth of a second and 64 MiB on purpose (argon2-cffi's defaults, RFC
9106's second recommendation), so it runs in a worker thread, never on the event loop.
A sign-in for an unknown address costs the same as one for a known address, so timing
does not tell which addresses have accounts.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 1024

_HASHER = PasswordHasher()
# Checked against when the address has no account (or no password yet).
_DECOY = _HASHER.hash("a password nobody has")


class WeakPassword(ValueError):
    """The password is not accepted; the message says what is."""


def check(password: str, email: str) -> None:
    """Refuse passwords that are too short, too long or the account's own address."""
    if "\x00" in password:
        raise WeakPassword("the password contains a NUL character (U+0000), which is not accepted")
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"choose a password of at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"choose a password of at most {MAX_LENGTH} characters")
    if password.strip().lower() == email.strip().lower():
        raise WeakPassword("choose a password other than your email address")


async def hashed(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from (None: no account,
    or no password chosen yet; checked against a decoy all the same)."""
    return await asyncio.to_thread(_verify, password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DECOY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
