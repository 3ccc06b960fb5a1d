"""The ``Node`` interface: every object is found again by its prefixed id."""

from __future__ import annotations

import strawberry


@strawberry.interface(description="An object with a global id such as app_01JD…")
class Node:
    id: strawberry.ID
