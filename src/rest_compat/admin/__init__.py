"""The seed's admin REST API under ``/admin/apps``: a door onto GraphQL's rules.

Each endpoint authenticates the ``Authorization: Bearer`` API key, reads the request,
calls the domain operation the matching GraphQL mutation calls (so the same permissions,
rules and audit events apply) and words the result in the seed's snake_case JSON, or
``{"error": {"code", "message"}}`` with a 4xx. One module per noun; ``door`` holds what
they share. README ("Admin REST API") lists where the answers differ from the seed's.
"""

from __future__ import annotations

from starlette.convertors import StringConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, request_response

from ferryman.body_limits import BodyLimit
from ferryman.rest_compat.admin import apps, artifacts, releases
from ferryman.rest_compat.admin.door import RequestHandler
from ferryman.rest_compat.ci import MAX_BODY
from ferryman.settings import Settings


class ArtifactSegment(StringConvertor):
    """An artifact's path segment: anything but ``presign``, the path beside it, whose
    wrong methods are then that path's 405 rather than a search for an artifact."""

    regex = "(?!presign(?:/|$))[^/]+"


register_url_convertor("artifact", ArtifactSegment())

APPS = "/admin/apps"
RELEASES = APPS + "/{app_id}/releases"
RELEASE = RELEASES + "/{release_id}"
ARTIFACTS = RELEASE + "/artifacts"
ARTIFACT = ARTIFACTS + "/{artifact_id:artifact}"


def routes(settings: Settings) -> list[Route]:
    """Every endpoint, one route per path (so a wrong method's 405 names all of the path's
    methods), each behind the CI route's body limit; the direct upload's multipart body
    may be as large as a GraphQL upload's."""
    upload = BodyLimit.with_files(
        request_response(artifacts.upload), MAX_BODY, settings.max_upload_bytes
    )
    return [
        _route(APPS, GET=apps.index, POST=apps.create),
        _route(APPS + "/{app_id}", PATCH=apps.update, DELETE=apps.delete),
        _route(RELEASES, GET=releases.index, POST=releases.create),
        _route(RELEASE, PATCH=releases.update, DELETE=releases.delete),
        _route(RELEASE + "/publish", POST=releases.publish),
        _route(RELEASE + "/archive", POST=releases.archive),
        Route(ARTIFACTS, upload, methods=["POST"]),
        _route(ARTIFACTS + "/presign", POST=artifacts.presign),
        _route(ARTIFACT + "/confirm", POST=artifacts.confirm),
        _route(ARTIFACT, DELETE=artifacts.delete),
    ]


def _route(path: str, **handlers: RequestHandler) -> Route:
    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return Route(path, BodyLimit(request_response(dispatch), MAX_BODY), methods=list(handlers))
