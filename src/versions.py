"""Release versions, parsed and ordered exactly as the Tauri updater client does.

The client reads versions with the Rust ``semver`` crate after stripping leading ``v``
characters: a full ``MAJOR.MINOR.PATCH[-pre][+build]`` in ASCII, numbers without leading
zeros that fit in a u64, identifiers of ``[0-9A-Za-z-]`` with no empty segment, and no
leading zero in a numeric pre-release identifier. Python's semver libraries accept more
(Unicode digits, numbers past u64), and what the server accepts that the client cannot
parse breaks every check of the app, so the grammar is written out here.

The order is (major, minor, patch, pre, build): unlike SemVer 2.0, *build metadata takes
part in it* (``1.0.0 < 1.0.0+1 < 1.0.0+2 < 1.0.0+10``), so "is there an update?" matches
what the client installs.
"""

from __future__ import annotations

import functools
import re
from typing import Self

MAX_LENGTH = 128
U64_MAX = 2**64 - 1

_NUMBER = r"0|[1-9][0-9]*"
_PRE_PART = rf"(?:{_NUMBER}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_PART = r"[0-9A-Za-z-]+"
_GRAMMAR = re.compile(
    rf"(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<pre>{_PRE_PART}(?:\.{_PRE_PART})*))?"
    rf"(?:\+(?P<build>{_BUILD_PART}(?:\.{_BUILD_PART})*))?",
    re.ASCII,
)
_RULE = (
    "use MAJOR.MINOR.PATCH with an optional -prerelease and +build, in ASCII letters, digits, "
    "dots and dashes, numbers without leading zeros and at most 18446744073709551615 (for "
    "example 1.2.3, 1.3.0-beta.2 or 1.2.3+45)"
)

_PreKey = tuple[int, tuple[tuple[int, int | str], ...]]
_BuildPart = tuple[int, int, int] | tuple[int, str]


class InvalidVersion(ValueError):
    """Text that is not a version the Tauri client would accept."""


@functools.total_ordering
class Version:
    """A parsed version; compares and hashes by the Tauri client's order."""

    __slots__ = ("_key", "_text")

    def __init__(self, text: str, key: tuple[object, ...]) -> None:
        self._text = text
        self._key = key

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``text`` as the client would, or raise :class:`InvalidVersion` saying why."""
        if len(text) > MAX_LENGTH:
            raise InvalidVersion(f"version is longer than {MAX_LENGTH} characters")
        if any(ch.isspace() for ch in text):
            raise InvalidVersion(f"version {text!r} contains white space")
        bare = text.lstrip("v")
        match = _GRAMMAR.fullmatch(bare)
        if match is None:
            raise InvalidVersion(f"{text!r} is not a version: {_RULE}")
        major, minor, patch = (int(match[name]) for name in ("major", "minor", "patch"))
        for name, number in (("major", major), ("minor", minor), ("patch", patch)):
            if number > U64_MAX:
                raise InvalidVersion(
                    f"{text!r} is not a version the updater can hold: its {name} number is "
                    f"larger than {U64_MAX} (the client stores it in 64 bits)"
                )
        key = (major, minor, patch, _prerelease_key(match["pre"]), _build_key(match["build"]))
        return cls(bare, key)

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


def parse_stored(text: str) -> Version | None:
    """A stored version as the client reads it, or None for one it cannot parse (stored
    before versions were checked as strictly as the client checks them): such a release
    can never be offered, and nothing that orders releases may fail on it."""
    try:
        return Version.parse(text)
    except InvalidVersion:
        return None


def signed_matches(signed: str, version: str) -> bool:
    """Whether a signature's ``version:`` field names ``version``, compared as the updater
    compares it: as versions when both parse, else as text."""
    try:
        return Version.parse(signed) == Version.parse(version)
    except InvalidVersion:
        return signed == version


def _prerelease_key(prerelease: str | None) -> _PreKey:
    # A release (no pre-release) sorts above every pre-release of the same triple; numeric
    # identifiers compare by value and sort below alphanumeric ones.
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
