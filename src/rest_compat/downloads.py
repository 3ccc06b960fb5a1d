"""Downloads: ``GET /dl/{app_id}/{version}/{platform}`` → 302 to the file, counted.

A link names its app by id, which no other app can ever have: it stays right when the
app is renamed and never leads to another app's file, even one that took the old slug.
Links that named the slug (made before 0009) are followed only to the artifact they
were made for (``Artifact.legacy_link``), and only while it is the one artifact with
that link; otherwise they fail closed.

The redirect goes to the verified copy of the file: its public bucket URL when one is
configured, else a presigned GET that expires soon. A LICENSED app's files are only
reached through the signed, short-lived links its update checks hand out
(``rest_compat.links``), and always by a presigned GET. Counting must never slow a
download down, so events are queued in memory and written in batches by a background
task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ferryman.background import BackgroundLoop, pause
from ferryman.models import Artifact, DownloadEvent, ids
from ferryman.models.app import SLUG_PATTERN
from ferryman.models.errors import InvalidInput
from ferryman.models.ids import new_id
from ferryman.models.platform import validate_platform
from ferryman.models.status import ArtifactStatus, Distribution, ReleaseStatus
from ferryman.rest_compat.errors import error_response
from ferryman.rest_compat.manifest import Resolver
from ferryman.storage import Storage
from ferryman.versions import InvalidVersion, Version

log = logging.getLogger("ferryman.downloads")

PRESIGNED_SECONDS = 900
FLUSH_SECONDS = 2.0
BATCH = 500
QUEUE_LIMIT = 100_000


class DownloadLog(BackgroundLoop):
    """Queues download events and writes them in batches, off the request path."""

    def __init__(self) -> None:
        self._pending: list[DownloadEvent] = []
        self._wake = asyncio.Event()

    def add(self, event: DownloadEvent) -> None:
        if len(self._pending) >= QUEUE_LIMIT:
            log.warning("download log is full; dropping an event")
            return
        self._pending.append(event)
        if len(self._pending) >= BATCH:
            self._wake.set()

    async def stop(self) -> None:
        """Stop the writer and write what is still queued."""
        await super().stop()
        await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            try:
                await DownloadEvent.bulk_create(batch)
            except Exception:  # analytics must never take the server down
                log.exception("could not write %d download events", len(batch))

    async def run(self) -> None:
        while True:
            await pause(self._wake, FLUSH_SECONDS)
            self._wake.clear()
            await self.flush()


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
    downloads: DownloadLog = request.app.state.downloads
    downloads.add(
        DownloadEvent(
            id=new_id("dl"),
            artifact_id=artifact.id,
            app_id=artifact.release.app_id,
            platform=platform,
            version=version,
            ip_country=_country(request.headers.get("cf-ipcountry")),
        )
    )
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


def _country(header: str | None) -> str | None:
    # Cloudflare sends ISO 3166 alpha-2, or XX / T1 for unknown and Tor.
    if header and len(header) == 2 and header.isalpha() and header.upper() not in ("XX",):
        return header.upper()
    return None
