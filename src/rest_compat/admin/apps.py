"""``/admin/apps`` and ``/admin/apps/{app_id}``: the seed's app management.

The bodies are the seed's four fields; an app's other settings (channels, CI publishing,
licensing) are GraphQL's and the console's. Every answer about an app is one object: the
seed's list entry with the app's ``public_key`` (the seed has no way to read one app).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ferryman.models import app as apps
from ferryman.models import summary
from ferryman.models.actor import Actor
from ferryman.rest_compat.admin.door import (
    Field,
    app_of,
    cleared,
    endpoint,
    json_body,
    moment,
    query,
)

_DESCRIBED = {
    "description": Field(nullable=True),
    "public_key": Field(nullable=True),
}
CREATE = {"slug": Field(required=True), "name": Field(required=True), **_DESCRIBED}
UPDATE = {"slug": Field(), "name": Field(), **_DESCRIBED}


@endpoint()
async def index(request: Request, actor: Actor) -> Response:
    """Every app the key may see, newest first."""
    query(request, {})
    listed = await apps.visible(actor).order_by("-id")
    return JSONResponse({"apps": await _bodies(listed)})


@endpoint()
async def create(request: Request, actor: Actor) -> Response:
    apps.require_creator(actor)  # before the body is read
    app = await apps.create(actor, _changes(await json_body(request, CREATE)))
    return JSONResponse(await _body(app), status_code=201)


@endpoint()
async def update(request: Request, actor: Actor) -> Response:
    apps.require_editor(actor)
    app = await app_of(request, actor)
    changed = await apps.update(actor, app.id, _changes(await json_body(request, UPDATE)))
    return JSONResponse(await _body(changed))


@endpoint(invalid_state=400)
async def delete(request: Request, actor: Actor) -> Response:
    """Refused with 400 while a release is published, as the seed says."""
    await apps.delete(actor, request.path_params["app_id"])
    return Response(status_code=204)


def _changes(body: dict[str, Any]) -> apps.AppChanges:
    return apps.AppChanges(
        slug=body.get("slug"),
        name=body.get("name"),
        description=cleared(body, "description"),
        public_key=cleared(body, "public_key"),
    )


async def _body(app: apps.App) -> dict[str, Any]:
    return (await _bodies([app]))[0]


async def _bodies(listed: list[apps.App]) -> list[dict[str, Any]]:
    app_ids = [app.id for app in listed]
    counts = await summary.release_counts(app_ids)
    latest = await summary.latest_versions(app_ids)
    return [
        {
            "id": app.id,
            "slug": app.slug,
            "name": app.name,
            "description": app.description,
            "public_key": app.public_key,
            "release_count": counts.get(app.id, 0),
            "latest_version": None if latest[app.id] is None else str(latest[app.id]),
            "created_at": moment(app.created_at),
        }
        for app in listed
    ]
