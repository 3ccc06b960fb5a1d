"""Relay cursor connections over the domain's keyset pages (:mod:`ferryman.models.keyset`):
a cursor is the id of the last row a client saw."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry
from tortoise.models import Model
from tortoise.queryset import QuerySet

from ferryman.models import keyset
from ferryman.models.errors import InvalidInput
from ferryman.resolvers.errors import QueryLimitError

DEFAULT_PAGE = 20

NodeT = TypeVar("NodeT")
ModelT = TypeVar("ModelT", bound=Model)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    _count: strawberry.Private[QuerySet[Any]]

    @strawberry.field(description="How many nodes match, over all pages.")
    async def total_count(self) -> int:
        return await self._count.count()


async def paginate(
    queryset: QuerySet[ModelT],
    first: int | None,
    after: str | None,
    node: Callable[[ModelT], NodeT],
    *,
    max_page: int,
) -> Connection[NodeT]:
    """One page of ``queryset``, newest first, after the ``after`` cursor."""
    size = min(DEFAULT_PAGE, max_page) if first is None else first
    if not 1 <= size <= max_page:
        raise QueryLimitError(f"first must be between 1 and {max_page}, got {size}")
    try:
        found = await keyset.page(queryset, size, after=after)
    except InvalidInput as error:
        raise QueryLimitError(error.message) from None
    edges = [Edge(cursor=row.pk, node=node(row)) for row in found.rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=found.has_older,
            has_previous_page=found.has_newer,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _count=queryset,
    )
