"""The console's people pages, for owners: who may sign in, with which role on which
apps; adding someone or resetting their password shows a one-time link, once."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ferryman import auth
from ferryman.console import paths
from ferryman.console.pages import Pages, field_errors, form_of, text
from ferryman.console.sessions import Visitor
from ferryman.models import app as apps
from ferryman.models import user as people
from ferryman.models.actor import PERSON_ROLES, Role
from ferryman.models.errors import DomainError, InvalidInput
from ferryman.models.user import User

PEOPLE = f"{paths.MOUNT}/people"
_FIELDS = ("email", "role", "apps")


class PeoplePages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def routes(self) -> list[BaseRoute]:
        signed_in = self.pages.signed_in
        return [
            Route("/people", signed_in(self.index), methods=["GET"]),
            Route("/people", signed_in(self.create), methods=["POST"]),
            Route("/people/new", signed_in(self.new), methods=["GET"]),
            Route("/people/{user_id}", signed_in(self.show), methods=["GET"]),
            Route("/people/{user_id}", signed_in(self.update), methods=["POST"]),
            Route("/people/{user_id}/reset", signed_in(self.reset), methods=["POST"]),
            Route("/people/{user_id}/delete", signed_in(self.delete), methods=["POST"]),
        ]

    async def index(self, request: Request, visitor: Visitor) -> Response:
        listed = await people.visible(visitor.actor).order_by("email")
        slugs = dict(await apps.App.all().values_list("id", "slug"))
        rows = [(user, _where(await user.app_ids(), slugs)) for user in listed]
        context = {"active": "people", "rows": rows, "notice": _notice(request)}
        return await self.pages.render_for(request, "people.html", visitor, context)

    async def new(self, request: Request, visitor: Visitor) -> Response:
        people.require_manager(visitor.actor)
        return await self._form(request, visitor, None, {})

    async def create(self, request: Request, visitor: Visitor) -> Response:
        form = await form_of(request)
        minted = auth.mint(auth.LINK_PREFIX)
        link = people.Link(minted.key_hash, people.link_expiry())
        try:
            user = await people.create(visitor.actor, text(form, "email"), _access(form), link)
        except DomainError as error:
            errors = field_errors(error, *_FIELDS)
            return await self._form(request, visitor, None, errors, form, 400)
        return await self._link(request, visitor, user, minted.secret, "added")

    async def show(self, request: Request, visitor: Visitor) -> Response:
        user = await people.get_visible(visitor.actor, request.path_params["user_id"])
        return await self._form(request, visitor, user, {})

    async def update(self, request: Request, visitor: Visitor) -> Response:
        form = await form_of(request)
        user_id = request.path_params["user_id"]
        try:
            await people.change_access(visitor.actor, user_id, _access(form))
        except DomainError as error:
            shown = await people.get_visible(visitor.actor, user_id)
            errors = field_errors(error, *_FIELDS)
            return await self._form(request, visitor, shown, errors, form, 400)
        return RedirectResponse(f"{PEOPLE}?notice=changed", 303)

    async def reset(self, request: Request, visitor: Visitor) -> Response:
        minted = auth.mint(auth.LINK_PREFIX)
        link = people.Link(minted.key_hash, people.link_expiry())
        user = await people.reset(visitor.actor, request.path_params["user_id"], link)
        return await self._link(request, visitor, user, minted.secret, "reset")

    async def delete(self, request: Request, visitor: Visitor) -> Response:
        user_id = request.path_params["user_id"]
        user = await people.get_visible(visitor.actor, user_id)
        try:
            await people.delete(visitor.actor, user_id)
        except DomainError as error:
            return await self._form(request, visitor, user, field_errors(error), None, 409)
        return RedirectResponse(f"{PEOPLE}?notice=removed", 303)

    async def _link(
        self, request: Request, visitor: Visitor, user: User, secret: str, what: str
    ) -> Response:
        context = {
            "active": "people",
            "person": user,
            "what": what,
            "link": self.pages.base_url + paths.welcome_path(secret),
        }
        return await self.pages.render_for(request, "person_link.html", visitor, context)

    async def _form(
        self,
        request: Request,
        visitor: Visitor,
        user: User | None,
        errors: dict[str, str],
        form: FormData | None = None,
        status: int = 200,
    ) -> Response:
        choices = await apps.visible(visitor.actor).order_by("slug")
        if form is not None:
            role, chosen = form.get("role"), set(form.getlist("apps"))
            every = form.get("scope", "all") == "all"
        elif user is not None:
            app_ids = await user.app_ids()
            role, chosen, every = user.role.value, set(app_ids or ()), app_ids is None
        else:
            role, chosen, every = Role.ADMIN.value, set(), visitor.actor.is_global
        context = {
            "active": "people",
            "person": user,
            "errors": errors,
            "email": text(form, "email") if form is not None else "",
            "roles": [r.value for r in PERSON_ROLES],
            "role": role,
            "every": every,
            "choices": choices,
            "chosen": chosen,
            "is_self": user is not None and user.id == visitor.user.id,
        }
        return await self.pages.render_for(request, "person.html", visitor, context, status)


_NOTICES = {"changed": "Saved.", "removed": "Removed them; their sessions have ended."}


def _notice(request: Request) -> str | None:
    return _NOTICES.get(request.query_params.get("notice", ""))


def _access(form: FormData) -> people.Access:
    role = text(form, "role")
    try:
        chosen = Role(role)
    except ValueError:
        names = ", ".join(r.value for r in PERSON_ROLES)
        raise InvalidInput(f"choose a role: one of {names}", ("role",)) from None
    if text(form, "scope") != "chosen":
        return people.Access(chosen, None)
    return people.Access(chosen, frozenset(v for v in form.getlist("apps") if isinstance(v, str)))


def _where(app_ids: frozenset[str] | None, slugs: dict[str, str]) -> str:
    if app_ids is None:
        return "every app"
    return ", ".join(sorted(slugs.get(app_id, app_id) for app_id in app_ids)) or "no app"
