"""Keyset pages of a query, newest first, for every door that lists rows.

Rows are ordered by their ULID (which sorts by creation time), and a page starts after or
ends before the id of a row the reader saw, so a page costs one indexed range query
however deep the reader goes, and rows created meanwhile never shift a page.
"""

from __future__ import annotations

import dataclasses
from typing import Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from ferryman.models.errors import InvalidInput
from ferryman.models.ids import prefix_of

ModelT = TypeVar("ModelT", bound=Model)


@dataclasses.dataclass(frozen=True, slots=True)
class Page(Generic[ModelT]):
    rows: list[ModelT]
    has_older: bool  # rows follow the last one
    has_newer: bool  # rows precede the first one (when reading backwards: known; else assumed)

    @property
    def end_cursor(self) -> str | None:
        """The cursor of the page after this one, when there is one."""
        return str(self.rows[-1].pk) if self.rows and self.has_older else None


async def page(
    queryset: QuerySet[ModelT], size: int, *, after: str | None = None, before: str | None = None
) -> Page[ModelT]:
    """``size`` rows of ``queryset``, newest first: those older than ``after`` or, given
    ``before``, the newest ``size`` rows newer than it (a step back). A cursor that is no
    id is refused (InvalidInput)."""
    for name, cursor in (("after", after), ("before", before)):
        if cursor is not None and prefix_of(cursor) is None:
            raise InvalidInput(f"{name} must be a cursor returned in a previous page", (name,))
    if before is not None:
        rows = await queryset.filter(id__gt=before).order_by("id").limit(size + 1)
        return Page(list(reversed(rows[:size])), has_older=True, has_newer=len(rows) > size)
    ordered = queryset.order_by("-id")
    if after is not None:
        ordered = ordered.filter(id__lt=after)
    rows = await ordered.limit(size + 1)
    return Page(rows[:size], has_older=len(rows) > size, has_newer=after is not None)
