"""Prefixed ULIDs: sortable by creation time, and the prefix names the type.

The prefix is what lets ``node(id:)`` find any object, and what makes an id pasted
into the wrong place fail with a clear message instead of a silent miss.
"""

from __future__ import annotations

from ulid import ULID

PREFIXES = {
    "app": "App",
    "rel": "Release",
    "art": "Artifact",
    "key": "ApiKey",
    "evt": "AuditEvent",
    "dl": "DownloadEvent",
}
MAX_LENGTH = 32


def new_id(prefix: str) -> str:
    """A fresh id such as ``app_01JDX3...``."""
    assert prefix in PREFIXES, prefix
    return f"{prefix}_{ULID()}"


def prefix_of(value: str) -> str | None:
    """The id's prefix when it is one of ours, else None."""
    prefix, sep, rest = value.partition("_")
    if not sep or prefix not in PREFIXES or len(rest) != 26:
        return None
    return prefix
