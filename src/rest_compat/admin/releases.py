"""``/admin/apps/{app_id}/releases...``: the seed's release management and lifecycle.

Every answer about a release is one object: the seed's list entry with the release's
``app_id`` and ``channel``, and each artifact's ``id`` and ``status`` beside the seed's
``platform`` and ``file_size`` (an artifact is deleted or confirmed by its id).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ferryman.models import Artifact, Release, listing
from ferryman.models import artifact as artifacts
from ferryman.models import release as releases
from ferryman.models.actor import Actor
from ferryman.models.status import ReleaseStatus
from ferryman.rest_compat.admin.door import (
    Field,
    RequestHandler,
    Unreadable,
    app_of,
    cleared,
    endpoint,
    json_body,
    moment,
    query,
    release_of,
)

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = 2**31 - 1
RELEASE_STATUSES = [status.value for status in ReleaseStatus]
FILTERS = {
    "status": f"{', '.join(RELEASE_STATUSES)} or all (the default)",
    "limit": f"1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})",
    "offset": f"0 to {MAX_OFFSET} (default 0)",
}
CREATE = {
    "version": Field(required=True),
    "notes": Field(nullable=True),
    "channel": Field(nullable=True),
}
UPDATE = {
    "version": Field(),
    "notes": Field(nullable=True),
    "channel": Field(),
    "status": Field(),
}


@endpoint()
async def index(request: Request, actor: Actor) -> Response:
    """A page of the app's releases, newest first, and how many pass the filter."""
    app = await app_of(request, actor)
    asked = query(request, FILTERS)
    status = asked.get("status", "all")
    limit = _number(asked, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _number(asked, "offset", 0, 0, MAX_OFFSET)
    shown = None if status == "all" else _status(status, FILTERS["status"])
    rows = listing.listed(app.id, listing.ReleaseFilter(status=shown))
    page = await rows.order_by("-id").offset(offset).limit(limit)
    return JSONResponse({"releases": await bodies(page), "total": await rows.count()})


@endpoint()
async def create(request: Request, actor: Actor) -> Response:
    releases.require_creator(actor)
    app = await app_of(request, actor)
    body = await json_body(request, CREATE)
    release = await releases.create(actor, app.id, _changes(body))
    return JSONResponse(await body_of(release), status_code=201)


@endpoint()
async def update(request: Request, actor: Actor) -> Response:
    """The seed's PATCH: fields, and a ``status`` that publishes or archives the release."""
    release = await release_of(request, actor)
    body = await json_body(request, UPDATE)
    status = body.get("status")
    target = None if status is None else _status(status, ", ".join(RELEASE_STATUSES))
    changed = await releases.revise(actor, release.id, _changes(body), target)
    return JSONResponse(await body_of(changed))


@endpoint(invalid_state=400)
async def delete(request: Request, actor: Actor) -> Response:
    """Drafts only: a published release is refused with 400, as the seed says."""
    release = await release_of(request, actor)
    await releases.delete(actor, release.id)
    return Response(status_code=204)


def _lifecycle(step: Callable[[Actor, str], Awaitable[Release]]) -> RequestHandler:
    """The endpoint of a lifecycle step, which takes no body."""

    @endpoint()
    async def move(request: Request, actor: Actor) -> Response:
        release = await release_of(request, actor)
        await json_body(request, {})
        return JSONResponse(await body_of(await step(actor, release.id)))

    return move


publish = _lifecycle(releases.publish)
archive = _lifecycle(releases.archive)


def _status(text: str, accepted: str) -> ReleaseStatus:
    if text not in RELEASE_STATUSES:
        raise Unreadable(f"status {text[:40]!r} is not one of {accepted}")
    return ReleaseStatus(text)


def _number(asked: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = asked.get(name)
    if text is None:
        return default
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(high))
    if not digits or not low <= int(text) <= high:
        raise Unreadable(f"{name} must be a whole number from {low} to {high}, got {text[:40]!r}")
    return int(text)


def _changes(body: dict[str, Any]) -> releases.ReleaseChanges:
    return releases.ReleaseChanges(
        version=body.get("version"), notes=cleared(body, "notes"), channel=body.get("channel")
    )


async def body_of(release: Release) -> dict[str, Any]:
    return (await bodies([release]))[0]


async def bodies(listed: list[Release]) -> list[dict[str, Any]]:
    """The releases as the API answers them, their artifacts read in one query."""
    files = await artifacts.of_releases([release.id for release in listed])
    return [
        {
            "id": release.id,
            "app_id": release.app_id,
            "version": release.version,
            "channel": release.channel,
            "status": release.status.value,
            "notes": release.notes,
            "pub_date": moment(release.pub_date),
            "artifacts": [_artifact(artifact) for artifact in files[release.id]],
            "created_at": moment(release.created_at),
        }
        for release in listed
    ]


def _artifact(artifact: Artifact) -> dict[str, Any]:
    return {
        "id": artifact.id,
        "platform": artifact.platform,
        "status": artifact.status.value,
        "file_size": artifact.file_size,
    }
