"""``POST /ci/apps/{app_slug}/releases``: the original CI contract, body as the seed has it.

``{"version", "notes", "artifacts": [{"platform", "signature", "r2_key"}], "auto_publish"}``
(and an optional ``"channel"``).

The rules are ``models.submission``'s, shared with ``ciReleaseSubmit``: this module only
reads the request and words the answer (201 created, 200 updated or unchanged, JSON 4xx).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ferryman import auth
from ferryman.auth import AuthenticationError
from ferryman.models import Artifact
from ferryman.models import submission as submissions
from ferryman.models.errors import DomainError, Forbidden, InvalidInput
from ferryman.models.text import reject_unencodable
from ferryman.rest_compat.errors import error_response, refused
from ferryman.signatures import Verifier
from ferryman.storage import Storage

MAX_BODY = 1024 * 1024


async def submit_release(request: Request) -> JSONResponse:
    try:
        actor = await auth.authenticate(request)
    except AuthenticationError as error:
        return error_response(401, "UNAUTHENTICATED", str(error))
    body = await request.body()  # at most MAX_BODY: the route's BodyLimit sees to it
    try:
        data = json.loads(body)
        reject_unencodable(data)
        submission = _submission(data)
    except InvalidInput as error:
        return error_response(400, "INVALID_INPUT", error.message)
    except (ValueError, TypeError, KeyError, RecursionError) as error:
        return error_response(
            400,
            "INVALID_INPUT",
            f"the body is not a release submission ({error}); send JSON "
            '{"version", "notes", "artifacts": [{"platform", "signature", "r2_key"}], '
            '"auto_publish", "channel"}',
        )
    storage: Storage = request.app.state.storage
    try:
        outcome = await submissions.submit(
            actor, request.path_params["app_slug"], submission, storage, Verifier.for_upload
        )
    except Forbidden as error:
        return error_response(403, "FORBIDDEN", str(error))
    except DomainError as error:
        return refused(error)
    release = outcome.release
    artifacts = await Artifact.filter(release_id=release.id).order_by("platform")
    return JSONResponse(
        {
            "id": release.id,
            "app_id": release.app_id,
            "version": release.version,
            "status": release.status.value,
            "notes": release.notes,
            "published": outcome.published,
            "notice": outcome.notice,
            "artifacts": [
                {
                    "id": a.id,
                    "platform": a.platform,
                    "status": a.status.value,
                    "failure_reason": a.failure_reason,
                    "file_size": a.file_size,
                    "checksum": a.checksum,
                }
                for a in artifacts
            ],
        },
        status_code=201 if outcome.created else 200,
    )


def _submission(data: Any) -> submissions.Submission:
    if not isinstance(data, dict):
        raise TypeError("expected a JSON object")
    version = data["version"]
    notes = data.get("notes")
    items = data.get("artifacts", [])
    auto_publish = data.get("auto_publish", False)
    channel = data.get("channel")
    if not isinstance(version, str) or not all(
        value is None or isinstance(value, str) for value in (notes, channel)
    ):
        raise TypeError("version, notes and channel must be strings")
    if not isinstance(items, list) or not isinstance(auto_publish, bool):
        raise TypeError("artifacts must be a list and auto_publish true or false")
    artifacts = []
    for item in items:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("platform", "signature", "r2_key")
        ):
            raise TypeError("each artifact needs string platform, signature and r2_key")
        artifacts.append(
            submissions.SubmittedArtifact(item["platform"], item["signature"], item["r2_key"])
        )
    return submissions.Submission(version, notes, artifacts, auto_publish, channel)
