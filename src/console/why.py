"""The console's "Why no update?": one install's values, answered by the very rule the
updater route applies (``updatePreview``'s domain), in its own words. The form is posted,
so that a licence key never lands in a URL or the browser's history; a link may still
carry the other values in its query."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ferryman import auth
from ferryman.console.pages import Pages, field_errors, form_of
from ferryman.console.sessions import Visitor
from ferryman.models import app as apps
from ferryman.models import preview as previews
from ferryman.models.errors import DomainError
from ferryman.models.platform import ARCHITECTURES, INSTALLERS, OPERATING_SYSTEMS

_FIELDS = (
    "appId",
    "platform",
    "bundleType",
    "currentVersion",
    "channel",
    "licenseKey",
    "installId",
)
# The domain names the platform as GraphQL's argument does.
_RENAMED = {"target": "platform"}
# Suggestions for the platform field: every OS-ARCH pair, and each OS alone.
PLATFORMS = [
    *(f"{os}-{arch}" for os in OPERATING_SYSTEMS for arch in ARCHITECTURES),
    *OPERATING_SYSTEMS,
]


class WhyPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def routes(self) -> list[BaseRoute]:
        return [Route("/why", self.pages.signed_in(self.index), methods=["GET", "POST"])]

    async def index(self, request: Request, visitor: Visitor) -> Response:
        values = await form_of(request) if request.method == "POST" else request.query_params
        choices = await apps.visible(visitor.actor).order_by("slug")
        context: dict[str, Any] = {
            "active": "why",
            "apps": choices,
            "values": values,
            "platforms": PLATFORMS,
            "installers": sorted({name for names in INSTALLERS.values() for name in names}),
            "result": None,
        }
        status = 200
        if "appId" in values:
            try:
                context["result"] = await previews.preview(
                    visitor.actor, str(values["appId"]), _install(values)
                )
            except DomainError as error:
                context["errors"] = field_errors(error, *_FIELDS, renamed=_RENAMED)
                status = 400
        return await self.pages.render_for(request, "why.html", visitor, context, status)


def _install(values: ImmutableMultiDict[str, Any]) -> previews.Install:
    """The install's values as the form has them: the platform is OS-ARCH (an installer
    suffix may stand in for the installer field), or an OS alone for a check without an
    arch."""

    def value(name: str) -> str:
        given = values.get(name, "")
        return given.strip() if isinstance(given, str) else ""

    target, _, arch = value("platform").partition("-")
    bundle = value("bundleType") or None
    if bundle is None and "-" in arch:
        arch, _, bundle = arch.partition("-")
    return previews.Install(
        os=target,
        arch=arch or None,
        bundle=bundle,
        current=value("currentVersion"),
        channel=value("channel") or None,
        install_id=value("installId") or None,
        license_hash=auth.typed_license_hash(value("licenseKey") or None),
    )
