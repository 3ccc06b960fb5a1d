"""Prefixed ULIDs: sortable by creation time, and the prefix names the type.

The prefix is what lets ``node(id:)`` find any object, and what makes an id pasted
into the wrong place fail with a clear message instead of a silent miss.
"""

from __future__ import annotations

import re

from ulid import ULID

from ferryman.models.errors import InvalidInput

PREFIXES = {
    "app": "app",
    "rel": "release",
    "art": "artifact",
    "key": "API key",
    "evt": "audit event",
    "dl": "download event",
    "lic": "licence",
    "per": "coverage period",
    "usr": "person",
    "uap": "app grant",
    "ses": "session",
    "whk": "notification endpoint",
    "msg": "notification",
    "dlv": "delivery",
    "sgk": "signing key",
}
MAX_LENGTH = 32
# The 26 characters after the prefix; anything else (NUL, spaces) is no id of ours.
_ULID_BODY = re.compile(r"[0-9A-Za-z]{26}")


def new_id(prefix: str) -> str:
    """A fresh id such as ``app_01JDX3...``."""
    assert prefix in PREFIXES, prefix
    return f"{prefix}_{ULID()}"


def prefix_of(value: str) -> str | None:
    """The id's prefix when it is one of ours, else None."""
    prefix, sep, rest = value.partition("_")
    if not sep or prefix not in PREFIXES or len(rest) != 26 or not _ULID_BODY.fullmatch(rest):
        return None
    return prefix


def require(value: str, prefix: str, field: tuple[str, ...]) -> str:
    """``value`` when it is an id of the ``prefix`` kind, else InvalidInput saying what is."""
    if prefix_of(value) != prefix:
        name = PREFIXES[prefix]
        raise InvalidInput(
            f"{value[:40]!r} is not a valid {name} id ({name} ids are {prefix}_ followed by "
            "26 letters and digits)",
            field,
        )
    return value
