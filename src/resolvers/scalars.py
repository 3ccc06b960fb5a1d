"""Scalars GraphQL lacks: byte counts beyond Int's 2 GiB."""

from __future__ import annotations

from typing import NewType

import strawberry
from graphql import GraphQLError

ByteCount = NewType("ByteCount", int)
BYTE_COUNT_MAX = 2**53  # what every JSON parser reads exactly


def _byte_count(value: object) -> int:
    # Negative sizes pass here, so the rules can name the field they were given for.
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > BYTE_COUNT_MAX:
        raise GraphQLError(f"ByteCount must be a whole number of at most 2^53, got {value!r:.40}")
    return value


# A count of things that happened (update checks, downloads, installs): past GraphQL's
# 32-bit Int within a busy app's lifetime. Only ever an output.
Count = NewType("Count", int)
COUNT = strawberry.scalar(
    name="Count",
    description="A count, as a JSON number (exact up to 2^53).",
    serialize=int,
)


BYTE_COUNT = strawberry.scalar(
    name="ByteCount",
    description="A size in bytes, as a JSON number (exact up to 2^53).",
    serialize=int,
    parse_value=_byte_count,
)
