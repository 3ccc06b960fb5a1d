"""The console's app pages: the list with each app's figures, and creating an app."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ferryman.console import paths
from ferryman.console.pages import Pages, app_of, field_errors, form_of, text
from ferryman.console.sessions import Visitor
from ferryman.models import app as apps
from ferryman.models import channel, summary
from ferryman.models.actor import permits
from ferryman.models.errors import DomainError


class AppPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def routes(self) -> list[BaseRoute]:
        signed_in = self.pages.signed_in
        return [
            Route("/apps", signed_in(self.index), methods=["GET"]),
            Route("/apps", signed_in(self.create), methods=["POST"]),
            Route("/apps/new", signed_in(self.new), methods=["GET"]),
            Route("/apps/{slug}", signed_in(self.show), methods=["GET"]),
            Route("/go", signed_in(self.go), methods=["GET"]),
        ]

    async def index(self, request: Request, visitor: Visitor) -> Response:
        listed = await apps.visible(visitor.actor).order_by("slug")
        figures = await summary.summaries([app.id for app in listed])
        rows = [(app, figures[app.id], channel.order_of(app.channels)) for app in listed]
        context = {"rows": rows, "may_create": permits(apps.require_creator, visitor.actor)}
        return await self.pages.render_for(request, "apps.html", visitor, context)

    async def show(self, request: Request, visitor: Visitor) -> Response:
        app = await app_of(request, visitor)
        figures = (await summary.summaries([app.id]))[app.id]
        context = {
            "current_app": app,
            "figures": figures,
            "channels": channel.order_of(app.channels),
        }
        return await self.pages.render_for(request, "app.html", visitor, context)

    async def go(self, request: Request, visitor: Visitor) -> Response:
        """The app switcher's target (a GET form, so it works without JavaScript)."""
        slug = request.query_params.get("app", "")
        app = await apps.find_visible(visitor.actor, slug) if slug else None
        return RedirectResponse(f"{paths.HOME}/{app.slug}" if app else paths.HOME, 303)

    async def new(self, request: Request, visitor: Visitor) -> Response:
        return await self._form(request, visitor, {})

    async def create(self, request: Request, visitor: Visitor) -> Response:
        form = await form_of(request)
        changes = apps.AppChanges(
            slug=text(form, "slug").strip(),
            name=text(form, "name"),
            description=text(form, "description") or None,
            public_key=text(form, "publicKey") or None,
        )
        try:
            app = await apps.create(visitor.actor, changes)
        except DomainError as error:
            errors = field_errors(error, "slug", "name", "description", "publicKey")
            return await self._form(request, visitor, errors, form, 400)
        return RedirectResponse(f"{paths.HOME}?created={app.slug}", 303)

    async def _form(
        self,
        request: Request,
        visitor: Visitor,
        errors: dict[str, str],
        values: object = None,
        status: int = 200,
    ) -> Response:
        context = {"errors": errors, "values": values or {}}
        return await self.pages.render_for(request, "app_new.html", visitor, context, status)
