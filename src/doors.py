"""Which door a request came through, read from its path alone.

Metrics label requests by door and rate limits keep one budget per door, so both need
the answer before any route has matched (an edge-cache HIT never reaches the router).
The set is closed: a label can never be chosen by a client.
"""

from __future__ import annotations

import enum


class Door(enum.StrEnum):
    GRAPHQL = "graphql"
    ADMIN = "admin"
    CONSOLE = "console"
    CI = "ci"
    DOWNLOADS = "downloads"
    UPDATES = "updates"
    PROBES = "probes"
    METRICS = "metrics"
    ASSETS = "assets"
    OTHER = "other"


_FIXED = {
    "/graphql": Door.GRAPHQL,
    "/healthz": Door.PROBES,
    "/readyz": Door.PROBES,
    "/metrics": Door.METRICS,
}
_FIRST_SEGMENT = {
    "ci": Door.CI,
    "dl": Door.DOWNLOADS,
    "health": Door.UPDATES,  # an app's health beacons: its update checks' budget
    "static": Door.ASSETS,
    "console": Door.CONSOLE,
}


def door_of(path: str) -> Door:
    """The door for a request path: ``/{slug}/update/...`` is the updater's, also for an
    app whose slug is ``admin`` (the admin API is ``/admin/apps...``)."""
    fixed = _FIXED.get(path)
    if fixed is not None:
        return fixed
    first, _, rest = path[1:].partition("/")
    if first == "admin" and (rest == "apps" or rest.startswith("apps/")):
        return Door.ADMIN
    door = _FIRST_SEGMENT.get(first)
    if door is not None:
        return door
    if rest.startswith("update/"):
        return Door.UPDATES
    return Door.OTHER


def error_body(code: str, message: str, *, graphql: bool) -> dict[str, object]:
    """An error in the door's own shape: GraphQL's ``errors`` list (no data), or the REST
    ``{"error": {"code", "message"}}``."""
    if graphql:
        return {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return {"error": {"code": code, "message": message}}
