"""Health beacons: ``POST /health/{app_id}/{version}/{platform}`` with
``{"sessions": n, "crashed": m}``, an app's count of the sessions of the running version
that ended and of those that crashed, since its last beacon.

Counted per day per (release, platform), without anything of the sender's, for the
crash-free rate a health gate may judge (``models.health``). Anyone may send one, like an
update check, so each is bounded and the door's rate limit applies; a release that is not
published is refused with 404.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from ferryman.analytics.recorder import Recorder
from ferryman.models.errors import InvalidInput
from ferryman.models.platform import validate_platform
from ferryman.models.release import Release
from ferryman.models.status import ReleaseStatus
from ferryman.rest_compat.errors import error_response
from ferryman.versions import InvalidVersion, Version

MAX_BODY = 1024
MAX_SESSIONS = 10_000  # in one beacon: a day of a busy install's sessions, and then some


async def beacon(request: Request) -> Response:
    """Count one beacon; 204 once counted (written with the next flush)."""
    platform = request.path_params["platform"]
    try:
        version = str(Version.parse(request.path_params["version"]))
        validate_platform(platform)
    except (InvalidVersion, InvalidInput) as error:
        return error_response(400, "INVALID_INPUT", str(error))
    try:
        sessions, crashed = _counts(json.loads(await request.body()))
    except (ValueError, UnicodeDecodeError) as error:
        return error_response(400, "INVALID_INPUT", str(error))
    release = (
        await Release.filter(
            app_id=request.path_params["app_id"], version=version, status=ReleaseStatus.PUBLISHED
        )
        .only("id")
        .first()
    )
    if release is None:
        return error_response(
            404,
            "NOT_FOUND",
            f"no published release {version[:64]} of {request.path_params['app_id'][:64]}",
        )
    recorder: Recorder = request.app.state.recorder
    recorder.reported(release.id, platform, sessions, crashed)
    return Response(status_code=204)


def _counts(body: object) -> tuple[int, int]:
    """The body's sessions and crashed, or ValueError saying what is accepted."""
    if not isinstance(body, dict) or set(body) != {"sessions", "crashed"}:
        raise ValueError('the body is a JSON object {"sessions": n, "crashed": m}, nothing else')
    sessions, crashed = body["sessions"], body["crashed"]
    for name, value in (("sessions", sessions), ("crashed", crashed)):
        if type(value) is not int or not 0 <= value <= MAX_SESSIONS:
            raise ValueError(
                f"{name} is a whole number from 0 to {MAX_SESSIONS}, got {repr(value)[:32]}"
            )
    if crashed > sessions:
        raise ValueError(f"crashed ({crashed}) counts sessions, so at most sessions ({sessions})")
    return sessions, crashed
