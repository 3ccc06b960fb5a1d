"""Text the database can store: every string from every door passes through here first.

JSON and GraphQL string escapes can carry a lone surrogate (``"\\ud800"``), which Python
keeps but no UTF-8 encoder (SQLite's, PostgreSQL's, a JSON writer's) accepts; PostgreSQL
also refuses U+0000. Both are refused as input errors before any write is attempted.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ferryman.models.errors import InvalidInput


def reject_nul(value: str | None, field: tuple[str, ...]) -> None:
    """Refuse U+0000 in text: PostgreSQL cannot store it, so it must not reach a write."""
    if value is not None and "\x00" in value:
        raise InvalidInput(
            f"{field[-1]} contains a NUL character (U+0000), which is not accepted", field
        )


def reject_text(value: str, field: tuple[str, ...]) -> None:
    """Refuse text a query cannot carry to the database: NUL, or a lone surrogate."""
    reject_nul(value, field)
    reject_unencodable(value, field)


def reject_unencodable(value: Any, field: tuple[str, ...] = ()) -> None:
    """Refuse the first string within ``value`` (a string, list, dict or input dataclass,
    as a door parsed it) that is not Unicode text, naming where it was."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError as error:
            name = ".".join(field) or "a value"
            code = ord(value[error.start])
            raise InvalidInput(
                f"{name} contains a lone surrogate (U+{code:04X}), which is not text: send "
                "valid Unicode",
                field or None,
            ) from None
    elif isinstance(value, list | tuple):
        # An object in a list is named by its index, a string by the list's name.
        for index, item in enumerate(value):
            reject_unencodable(item, field if isinstance(item, str) else (*field, str(index)))
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_unencodable(key, field)
            reject_unencodable(item, (*field, str(key)))
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for spec in dataclasses.fields(value):
            reject_unencodable(getattr(value, spec.name), (*field, camel_case(spec.name)))


def camel_case(name: str) -> str:
    """A Python field name as GraphQL spells it on the wire (``app_id`` -> ``appId``)."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
