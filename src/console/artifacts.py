"""The console's page of a release's artifacts: each file with what its check found, and
uploads from the browser straight to the bucket.

An upload takes GraphQL's presigned steps (``artifact.begin_presigned_upload``, the
browser's PUT to the presigned URL, ``artifact.confirm``); the page's script drives them
through the small JSON endpoints here. Which file goes with which ``.sig`` and which platform a name
tells are ``ferryman publish``'s rules (:func:`ferryman.publisher.bundle.pair`), asked
for by the script rather than written again in it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ferryman.console import paths
from ferryman.console.pages import Pages, app_of, field_errors
from ferryman.console.sessions import Visitor
from ferryman.models import artifact as artifacts
from ferryman.models import release as releases
from ferryman.models import signing_key as signing_keys
from ferryman.models.actor import Actor, permits
from ferryman.models.app import App
from ferryman.models.artifact import Artifact
from ferryman.models.errors import DomainError, InvalidInput
from ferryman.models.platform import every_key, validate_platform
from ferryman.models.release import Release
from ferryman.models.status import ReleaseStatus
from ferryman.publisher.bundle import pair
from ferryman.signatures import PublicKey, Signature, Verifier
from ferryman.storage import Storage

# A request names at most this many files, and its JSON body is at most this long: a
# signature is under 4 KiB, a file name 255 bytes.
MAX_FILES = 100
MAX_JSON_BYTES = 64 * 1024
_FIELDS = ("platform", "filename", "signature", "fileSize")
_NOTICES = {"deleted": "Deleted the artifact and its file."}


class ArtifactPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def routes(self) -> list[BaseRoute]:
        signed_in = self.pages.signed_in
        base = "/apps/{slug}/releases/{release_id}/artifacts"
        return [
            Route(base, signed_in(self.show), methods=["GET"]),
            Route(f"{base}/pairing", signed_in(self.pairing), methods=["POST"]),
            Route(f"{base}/uploads", signed_in(self.begin), methods=["POST"]),
            Route(f"{base}/{{artifact_id}}/confirm", signed_in(self.confirm), methods=["POST"]),
            Route(f"{base}/{{artifact_id}}/delete", signed_in(self.delete), methods=["POST"]),
        ]

    async def show(self, request: Request, visitor: Visitor) -> Response:
        app, release = await _release_of(request, visitor)
        notice = _NOTICES.get(request.query_params.get("notice", ""))
        return await self._page(request, visitor, app, release, {}, notice=notice)

    async def pairing(self, request: Request, visitor: Visitor) -> Response:
        """Which chosen files pair with which ``.sig``, on which platform (a name's own,
        or the one chosen for it), and what stands in the way."""
        await _release_of(request, visitor)
        try:
            body = await _json(request)
            names = _names(body.get("names"))
            overrides = _overrides(body.get("overrides"))
        except DomainError as error:
            return _refused(error)
        paired = pair(names, overrides)
        return JSONResponse(
            {
                "files": [
                    {
                        "name": file.name,
                        "signature": file.signature,
                        "platform": file.platform,
                        "problems": list(file.problems),
                    }
                    for file in paired.files
                ],
                "leftOver": list(paired.left_over),
                "ready": paired.ready,
            }
        )

    async def begin(self, request: Request, visitor: Visitor) -> Response:
        """Record the upload and hand out its presigned URL, as artifactUploadCreate does."""
        _, release = await _release_of(request, visitor)
        try:
            body = await _json(request)
            new = artifacts.NewArtifact(
                platform=_string(body, "platform"),
                filename=_string(body, "filename"),
                signature=_string(body, "signature"),
                file_size=_size(body.get("fileSize")),
            )
            artifact, upload = await artifacts.begin_presigned_upload(
                visitor.actor, release.id, new, _storage(request), Verifier.for_upload
            )
        except DomainError as error:
            return _refused(error)
        return JSONResponse(
            {"artifact": _view(artifact), "upload": {"url": upload.url, "headers": upload.headers}}
        )

    async def confirm(self, request: Request, visitor: Visitor) -> Response:
        """Check the uploaded file: READY, or FAILED with the reason."""
        _, release = await _release_of(request, visitor)
        artifact = await _artifact_of(request, visitor.actor, release)
        try:
            checked = await artifacts.confirm(
                visitor.actor, artifact.id, _storage(request), Verifier.for_upload
            )
        except DomainError as error:
            return _refused(error)
        return JSONResponse({"artifact": _view(checked)})

    async def delete(self, request: Request, visitor: Visitor) -> Response:
        app, release = await _release_of(request, visitor)
        artifact = await _artifact_of(request, visitor.actor, release)
        try:
            await artifacts.delete(visitor.actor, artifact.id, _storage(request))
        except DomainError as error:
            return await self._page(request, visitor, app, release, field_errors(error), 400)
        return RedirectResponse(f"{_path(app, release)}?notice=deleted", 303)

    async def _page(
        self,
        request: Request,
        visitor: Visitor,
        app: App,
        release: Release,
        errors: dict[str, str],
        status: int = 200,
        notice: str | None = None,
    ) -> Response:
        listed = await Artifact.filter(release_id=release.id).order_by("platform")
        context = {
            "current_app": app,
            "release": release,
            "rows": [(a, a.key_id or _key_id(a.signature)) for a in listed],
            "app_key_id": _app_key_id(app),
            "held": {key.key_id: key for key in await signing_keys.rows(app.id)},
            "blocker": await releases.publish_blocker(release),
            "is_draft": release.status is ReleaseStatus.DRAFT,
            "may_upload": permits(artifacts.require_changer, visitor.actor),
            "platforms": every_key(),
            "page_path": _path(app, release),
            "release_path": f"{paths.HOME}/{app.slug}/releases/{release.id}",
            "errors": errors,
            "notice": notice,
        }
        return await self.pages.render_for(request, "artifacts.html", visitor, context, status)


async def _release_of(request: Request, visitor: Visitor) -> tuple[App, Release]:
    """The path's app and release, when the visitor may see them and they belong together."""
    app = await app_of(request, visitor)
    release = await releases.of_app(visitor.actor, app.id, request.path_params["release_id"])
    return app, release


async def _artifact_of(request: Request, actor: Actor, release: Release) -> Artifact:
    return await artifacts.of_release(actor, release.id, request.path_params["artifact_id"])


def _path(app: App, release: Release) -> str:
    return f"{paths.HOME}/{app.slug}/releases/{release.id}/artifacts"


def _storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def _refused(error: DomainError) -> JSONResponse:
    """A domain refusal for the page's script: the message keyed by the field it names."""
    return JSONResponse({"errors": field_errors(error, *_FIELDS)}, status_code=400)


def _view(artifact: Artifact) -> dict[str, Any]:
    return {
        "id": artifact.id,
        "platform": artifact.platform,
        "status": artifact.status.value,
        "failureReason": artifact.failure_reason,
        "warning": artifact.warning,
    }


def _key_id(signature: str) -> str | None:
    """The id of the key that made a stored signature (what minisign calls it)."""
    try:
        return Signature.parse(signature).key_id_hex
    except DomainError:
        return None


def _app_key_id(app: App) -> str | None:
    if not app.public_key:
        return None
    try:
        return PublicKey.parse(app.public_key).key_id_hex
    except DomainError:
        return None


async def _json(request: Request) -> Mapping[str, Any]:
    """The request's JSON object, read up to :data:`MAX_JSON_BYTES`."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise InvalidInput(f"the request is over {MAX_JSON_BYTES} bytes")
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidInput("the request must be a JSON object")
    return value


def _string(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text", ("input", name))
    return value


def _size(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("fileSize must be a whole number of bytes", ("input", "fileSize"))
    return value


def _names(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise InvalidInput("names must be a list of file names")
    if len(value) > MAX_FILES:
        raise InvalidInput(f"choose at most {MAX_FILES} files at a time")
    return value


def _overrides(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidInput("overrides must map file names to platform keys")
    return {name: validate_platform(key) for name, key in value.items() if key}
