"""Release channels: which releases an install on a channel may be offered.

An app orders its channels from the most stable (``stable, beta, alpha, nightly`` by
default). An install on a channel sees that channel's releases and every more stable
one's, so a beta tester converges back to stable as soon as stable overtakes beta.
"""

from __future__ import annotations

import re

from ferryman.models.errors import InvalidInput

DEFAULT_ORDER = ("stable", "beta", "alpha", "nightly")
NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
MAX_CHANNELS = 16
STORED_MAX = (32 + 1) * MAX_CHANNELS


def validated_order(names: list[str], field: tuple[str, ...]) -> tuple[str, ...]:
    """An app's channel order: 1 to 16 distinct names, the most stable first."""
    if not 1 <= len(names) <= MAX_CHANNELS:
        raise InvalidInput(
            f"channels must list 1 to {MAX_CHANNELS} names, the most stable first", field
        )
    for name in names:
        validated_name(name, field)
    if len(set(names)) != len(names):
        raise InvalidInput("channels must not name a channel twice", field)
    return tuple(names)


def validated_name(name: str, field: tuple[str, ...]) -> str:
    if not NAME.fullmatch(name):
        raise InvalidInput(
            f"channel {name[:40]!r} is not a channel name: 1 to 32 lowercase letters, digits "
            "and dashes, starting with a letter (for example beta)",
            field,
        )
    return name


def stored(order: tuple[str, ...]) -> str:
    return ",".join(order)


def order_of(text: str) -> tuple[str, ...]:
    """The order as an app stores it (comma-separated)."""
    return tuple(text.split(","))


def rank(order: tuple[str, ...], name: str, field: tuple[str, ...]) -> int:
    """How unstable ``name`` is in ``order`` (0: the most stable), or InvalidInput."""
    try:
        return order.index(name)
    except ValueError:
        raise InvalidInput(
            f"channel {name[:40]!r} is not one of this app's channels: {', '.join(order)}",
            field,
        ) from None
