"""``/admin/apps/{app_id}/releases/{release_id}/artifacts...``: the seed's two ways to upload
a release's file (direct, or a presigned URL and a confirmation) and deleting one.

Both are GraphQL's uploads: the file is verified against the app's Tauri public key as it
is stored, and installs are only ever sent to the verified copy. A file that does not
verify is refused with 422 ``VERIFICATION_FAILED``: its artifact is recorded as FAILED
(the reason is in the message) and blocks publishing until it is uploaded again or
deleted.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ferryman.models import Artifact
from ferryman.models import artifact as artifacts
from ferryman.models.actor import Actor
from ferryman.models.status import ArtifactStatus
from ferryman.rest_compat.admin.door import (
    Field,
    Unreadable,
    artifact_of,
    endpoint,
    json_body,
    moment,
    release_of,
)
from ferryman.rest_compat.errors import error_response
from ferryman.settings import Settings
from ferryman.signatures import Verifier
from ferryman.storage import Storage

PRESIGN = {
    "platform": Field(required=True),
    "filename": Field(required=True),
    "signature": Field(required=True),
    "file_size": Field(int, required=True),
    "content_type": Field(nullable=True),
}
UPLOAD_FIELDS = ("platform", "signature", "file")
_UPLOAD = "multipart/form-data with the fields platform, signature and file (the file part)"


@endpoint()
async def upload(request: Request, actor: Actor) -> Response:
    """Option A, the direct upload: the file streams to its own key as it is verified."""
    release = await release_of(request, actor)  # before a byte of the body is read
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise Unreadable(f"send {_UPLOAD}", 415, "UNSUPPORTED_MEDIA_TYPE")
    settings: Settings = request.app.state.settings
    try:
        async with request.form(max_files=1, max_fields=2) as form:
            platform, signature, file = _fields(form)
            artifact = await artifacts.upload_file(
                actor,
                release.id,
                platform,
                signature,
                file,
                settings.max_upload_bytes,
                _storage(request),
                Verifier.for_upload,
            )
    except HTTPException as error:
        if error.status_code != 400:  # over the route's size limit: its own answer
            raise
        raise Unreadable(
            f"the multipart body cannot be read ({error.detail}); send {_UPLOAD}"
        ) from None
    return _answer(artifact, 201)


@endpoint()
async def presign(request: Request, actor: Actor) -> Response:
    """Option B: a URL to PUT the file to, then :func:`confirm`."""
    release = await release_of(request, actor)
    body = await json_body(request, PRESIGN)
    new = artifacts.NewArtifact(
        platform=body["platform"],
        filename=body["filename"],
        signature=body["signature"],
        file_size=body["file_size"],
        content_type=body.get("content_type"),
    )
    artifact, url = await artifacts.begin_presigned_upload(
        actor, release.id, new, _storage(request), Verifier.for_upload
    )
    return JSONResponse(
        {
            "artifact_id": artifact.id,
            "upload_url": url.url,
            "upload_headers": url.headers,
            "expires_in": url.expires_in,
        }
    )


@endpoint()
async def confirm(request: Request, actor: Actor) -> Response:
    artifact = await artifact_of(request, actor)
    await json_body(request, {})
    checked = await artifacts.confirm(actor, artifact.id, _storage(request), Verifier.for_upload)
    return _answer(checked, 200)


@endpoint()
async def delete(request: Request, actor: Actor) -> Response:
    artifact = await artifact_of(request, actor)
    await artifacts.delete(actor, artifact.id, _storage(request))
    return Response(status_code=204)


def _fields(form: FormData) -> tuple[str, str, UploadFile]:
    unknown = [name for name in form if name not in UPLOAD_FIELDS]
    if unknown:
        raise Unreadable(f"unknown field {unknown[0][:40]!r}; send {_UPLOAD}")
    missing = [name for name in UPLOAD_FIELDS if name not in form]
    if missing:
        raise Unreadable(f"{' and '.join(missing)} missing; send {_UPLOAD}")
    platform, signature, file = (form.get(name) for name in UPLOAD_FIELDS)
    if not isinstance(file, UploadFile):
        raise Unreadable(f"file must be a file part; send {_UPLOAD}")
    if not isinstance(platform, str) or not isinstance(signature, str):
        raise Unreadable(f"platform and signature must be text fields; send {_UPLOAD}")
    return platform, signature, file


def _answer(artifact: Artifact, status: int) -> Response:
    """The artifact, or VERIFICATION_FAILED when its file was refused."""
    if artifact.status is ArtifactStatus.FAILED:
        return error_response(
            422,
            "VERIFICATION_FAILED",
            f"the {artifact.platform} file did not verify, so artifact {artifact.id} is "
            f"FAILED: {artifact.failure_reason} (upload the file again, which replaces it, "
            "or delete it)",
        )
    return JSONResponse(_body(artifact), status_code=status)


def _body(artifact: Artifact) -> dict[str, Any]:
    """An artifact as the API answers it: the seed's columns (``r2_key`` is where the
    verified file is), with its ``status``, ``failure_reason`` and ``warning``."""
    return {
        "id": artifact.id,
        "release_id": artifact.release_id,
        "platform": artifact.platform,
        "signature": artifact.signature,
        "r2_key": artifact.object_key,
        "download_url": artifact.download_url,
        "file_size": artifact.file_size,
        "checksum": artifact.checksum,
        "status": artifact.status.value,
        "failure_reason": artifact.failure_reason,
        "warning": artifact.warning,
        "created_at": moment(artifact.created_at),
    }


def _storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage
