"""Keyset pages: the one way every door pages through a growing list.

Rows come newest first by their ULID, and a cursor is the id of the last row seen, so a
page costs one indexed range query however deep it lies, and rows written meanwhile
never shift a page.
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
    has_next: bool

    @property
    def end_cursor(self) -> str | None:
        """The cursor of the page after this one, when there is one."""
        return str(self.rows[-1].pk) if self.rows and self.has_next else None


async def keyset(queryset: QuerySet[ModelT], size: int, after: str | None) -> Page[ModelT]:
    """Up to ``size`` rows of ``queryset``, newest first, after the ``after`` cursor."""
    page = queryset.order_by("-id")
    if after is not None:
        if prefix_of(after) is None:
            raise InvalidInput("after must be a cursor returned in a previous page", ("after",))
        page = page.filter(id__lt=after)
    rows = await page.limit(size + 1)
    return Page(rows[:size], len(rows) > size)
