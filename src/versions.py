"""Release versions, parsed and ordered exactly as the Tauri updater client does.

The client (Rust ``semver`` crate) strips leading ``v`` characters, requires a full
``MAJOR.MINOR.PATCH[-pre][+build]``, and orders by (major, minor, patch, pre, build):
unlike SemVer 2.0 and python-semver, *build metadata takes part in the order*
(``1.0.0 < 1.0.0+1 < 1.0.0+2 < 1.0.0+10``). python-semver is used only for parsing;
the order is computed here so "is there an update?" matches what the client installs.
"""

from __future__ import annotations

import functools
from typing import Self

import semver

MAX_LENGTH = 128

_PreKey = tuple[int, tuple[tuple[int, int | str], ...]]
_BuildPart = tuple[int, int, int] | tuple[int, str]


class InvalidVersion(ValueError):
    """Text that is not a version the Tauri client would accept."""


@functools.total_ordering
class Version:
    """A parsed version; compares and hashes by the Tauri client's order."""

    __slots__ = ("_key", "_text")

    def __init__(self, parsed: semver.Version) -> None:
        self._text = str(parsed)
        self._key = (
            parsed.major,
            parsed.minor,
            parsed.patch,
            _prerelease_key(parsed.prerelease),
            _build_key(parsed.build),
        )

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``text`` as the client would, or raise :class:`InvalidVersion` saying why."""
        if len(text) > MAX_LENGTH:
            raise InvalidVersion(f"version is longer than {MAX_LENGTH} characters")
        if text != text.strip() or any(ch.isspace() for ch in text):
            raise InvalidVersion(f"version {text!r} contains white space")
        try:
            return cls(semver.Version.parse(text.lstrip("v")))
        except ValueError:
            raise InvalidVersion(
                f"{text!r} is not a version: use MAJOR.MINOR.PATCH with an optional "
                "-prerelease and +build, without leading zeros (for example 1.2.3, "
                "1.3.0-beta.2 or 1.2.3+45)"
            ) from None

    def __str__(self) -> str:
        """The canonical form, without a ``v`` prefix; this is what is stored."""
        return self._text

    def __repr__(self) -> str:
        return f"Version({self._text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key == other._key

    def __lt__(self, other: Version) -> bool:
        return self._key < other._key

    def __hash__(self) -> int:
        return hash(self._key)


def _prerelease_key(prerelease: str | None) -> _PreKey:
    # A release (no pre-release) sorts above every pre-release of the same triple.
    if not prerelease:
        return (1, ())
    parts = tuple((0, int(part)) if part.isdigit() else (1, part) for part in prerelease.split("."))
    return (0, parts)


def _build_key(build: str | None) -> tuple[_BuildPart, ...]:
    # Empty build metadata sorts below any; digits compare by value, then by
    # length (fewer leading zeros first), and sort below parts with other characters.
    if not build:
        return ()
    return tuple(
        (0, int(part), len(part)) if part.isdigit() else (1, part) for part in build.split(".")
    )
