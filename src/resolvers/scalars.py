"""Scalars GraphQL lacks: byte counts beyond Int's 2 GiB."""

from __future__ import annotations

from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

ByteCount = NewType("ByteCount", int)

SCALARS: dict[object, ScalarDefinition] = {
    ByteCount: strawberry.scalar(
        name="ByteCount",
        description="A size in bytes, as a JSON number (exact up to 2^53).",
        serialize=int,
        parse_value=int,
    ),
}
