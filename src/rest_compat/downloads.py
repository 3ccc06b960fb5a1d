"""Downloads: ``GET /dl/{app_id}/{version}/{platform}`` → 302 to the file, counted.

A link names its app by id, which no other app can ever have: it stays right when the
app is renamed and never leads to another app's file, even one that took the old slug.
Links that named the slug (made before 0009) are followed only to the artifact they
were made for (``Artifact.legacy_link``), and only while it is the one artifact with
that link; otherwise they fail closed.

The redirect goes to the verified copy of the file: its public bucket URL when one is
configured, else a presigned GET that expires soon. A LICENSED app's files are only
reached through the signed, short-lived links its update checks hand out
(``rest_compat.links``), and always by a presigned GET. Each download is counted by
analytics (``analytics.recorder``): app, version, platform, channel, and the country a
trusted proxy named, never the address.
"""

from __future__ import annotations

import time
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ferryman.analytics.recorder import Recorder
from ferryman.models import Artifact, ids
from ferryman.models.app import SLUG_PATTERN
from ferryman.models.errors import InvalidInput
from ferryman.models.platform import validate_platform
from ferryman.models.status import ArtifactStatus, Distribution, ReleaseStatus
from ferryman.models.usage import UNKNOWN_COUNTRY
from ferryman.request_context import country
from ferryman.rest_compat.errors import error_response
from ferryman.rest_compat.manifest import Resolver
from ferryman.storage import Storage
from ferryman.versions import InvalidVersion, Version

PRESIGNED_SECONDS = 900


async def download(request: Request) -> Response:
    """Redirect to a published, READY artifact's file and count the download."""
    app = request.path_params["app_id"]  # the app's id (or a slug, in an old link)
    platform = request.path_params["platform"]
    try:
        version = str(Version.parse(request.path_params["version"]))
        validate_platform(platform)
    except (InvalidVersion, InvalidInput) as error:
        return error_response(400, "INVALID_INPUT", str(error))
    artifact = await _published_artifact(app, version, platform)
    if artifact is None:
        return error_response(
            404,
            "NOT_FOUND",
            f"no published {platform[:64]} download of {app[:64]} {version[:64]}: take the "
            "URL from a fresh update check",
        )
    licensed = artifact.release.app.distribution is Distribution.LICENSED
    if licensed:
        resolver: Resolver = request.app.state.resolver
        refusal = resolver.links.refusal(
            app,
            version,
            platform,
            request.query_params.get("expires"),
            request.query_params.get("token"),
            time.time(),
        )
        if refusal is not None:
            response = error_response(403, "FORBIDDEN", refusal)
            response.headers["Cache-Control"] = "no-store"
            return response
    storage: Storage = request.app.state.storage
    recorder: Recorder = request.app.state.recorder
    recorder.downloaded(
        artifact.release.app_id,
        version,
        platform,
        artifact.release.channel,
        country(request.scope, request.headers) or UNKNOWN_COUNTRY,
    )
    recorder.fetched(request.scope, artifact.release_id, platform)
    if storage.download_base_url and not licensed:
        target = f"{storage.download_base_url}/{quote(artifact.object_key)}"
    else:
        target = await storage.presign_get(artifact.object_key, PRESIGNED_SECONDS)
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})


async def _published_artifact(app: str, version: str, platform: str) -> Artifact | None:
    published = Artifact.filter(
        release__version=version,
        release__status=ReleaseStatus.PUBLISHED,
        platform=platform,
        status=ArtifactStatus.READY,
    ).select_related("release__app")
    if ids.prefix_of(app) == "app":
        return await published.filter(release__app_id=app).first()
    if not SLUG_PATTERN.fullmatch(app):
        return None
    # A link made before 0009: the artifact it was made for, if it is the only one.
    found = await published.filter(legacy_link=f"{app}/{version}/{platform}").limit(2)
    return found[0] if len(found) == 1 else None
