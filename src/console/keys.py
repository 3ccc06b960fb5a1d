"""The console's API keys page: the keys a visitor may see, minting one (its secret shown
once, in the answer to the form, and never stored) and revoking one."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ferryman import auth
from ferryman.console import paths
from ferryman.console.pages import Pages, choice, field_errors, form_of, next_page, text
from ferryman.console.sessions import Visitor
from ferryman.models import api_key as api_keys
from ferryman.models import app as apps
from ferryman.models import keyset
from ferryman.models.actor import KeyScope, permits
from ferryman.models.errors import DomainError

KEYS = f"{paths.MOUNT}/keys"
PAGE_SIZE = 50
_FIELDS = ("name", "scope", "appId")


class KeyPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def routes(self) -> list[BaseRoute]:
        signed_in = self.pages.signed_in
        return [
            Route("/keys", signed_in(self.index), methods=["GET"]),
            Route("/keys", signed_in(self.create), methods=["POST"]),
            Route("/keys/{key_id}/revoke", signed_in(self.revoke), methods=["POST"]),
        ]

    async def index(self, request: Request, visitor: Visitor) -> Response:
        notice = None
        revoked = request.query_params.get("revoked")
        if revoked:
            key = await api_keys.get_visible(visitor.actor, revoked, ("revoked",))
            notice = f"Revoked {key.name} ({key.prefix}…): it is refused from now on."
        return await self._page(request, visitor, {}, notice=notice)

    async def create(self, request: Request, visitor: Visitor) -> Response:
        form = await form_of(request)
        minted = auth.mint()
        try:
            new = api_keys.NewKey(
                name=text(form, "name"),
                scope=choice(KeyScope, text(form, "scope"), ("input", "scope")),
                app_id=text(form, "appId") or None,
                key_hash=minted.key_hash,
                prefix=minted.prefix,
            )
            key = await api_keys.create(visitor.actor, new)
        except DomainError as error:
            return await self._page(request, visitor, field_errors(error, *_FIELDS), form, 400)
        created = {"key": key, "secret": minted.secret}
        return await self._page(request, visitor, {}, created=created)

    async def revoke(self, request: Request, visitor: Visitor) -> Response:
        key = await api_keys.revoke(visitor.actor, request.path_params["key_id"])
        return RedirectResponse(f"{KEYS}?revoked={key.id}", 303)

    async def _page(
        self,
        request: Request,
        visitor: Visitor,
        errors: dict[str, str],
        form: FormData | None = None,
        status: int = 200,
        *,
        notice: str | None = None,
        created: dict[str, object] | None = None,
    ) -> Response:
        """The list (filtered by the query's app), the form, and what just happened."""
        shown = request.query_params.get("app") or None
        listed = api_keys.visible(visitor.actor, shown)
        page = await keyset.page(listed, PAGE_SIZE, after=request.query_params.get("after"))
        choices = await apps.visible(visitor.actor).order_by("slug")
        context = {
            "active": "keys",
            "keys": page.rows,
            "next_page": next_page(request, page.end_cursor),
            "apps": choices,
            "slugs": {app.id: app.slug for app in choices},
            "shown": shown,
            "values": form or {"scope": KeyScope.CI.value},
            "errors": errors,
            "notice": notice,
            "created": created,
            "scopes": [scope.value for scope in KeyScope],
            "may_manage": permits(api_keys.require_manager, visitor.actor),
        }
        return await self.pages.render_for(request, "keys.html", visitor, context, status)
