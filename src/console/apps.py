"""The console's app pages: the list with each app's figures, creating an app, its
settings, and moving it between signing keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ferryman.console import paths
from ferryman.console.pages import Pages, app_of, choice, field_errors, form_of, text
from ferryman.console.sessions import Visitor
from ferryman.console.signing_keys import key_rows
from ferryman.models import app as apps
from ferryman.models import channel, rotation, summary
from ferryman.models.actor import permits
from ferryman.models.app import App
from ferryman.models.errors import DomainError, InvalidInput, NotFound
from ferryman.models.status import Distribution, ExpiredPolicy


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
            Route("/apps/{slug}/settings", signed_in(self.settings), methods=["GET"]),
            Route("/apps/{slug}/settings", signed_in(self.update), methods=["POST"]),
            Route("/apps/{slug}/delete", signed_in(self.delete), methods=["POST"]),
            Route("/apps/{slug}/signing-keys", signed_in(self.add_key), methods=["POST"]),
            Route(
                "/apps/{slug}/signing-keys/{key_id}/retire",
                signed_in(self.retire_key),
                methods=["POST"],
            ),
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

    async def settings(self, request: Request, visitor: Visitor) -> Response:
        app = await app_of(request, visitor)
        notice = _NOTICES.get(request.query_params.get("notice", ""))
        if request.query_params.get("saved"):
            notice = "Settings saved."
        return await self._settings(request, visitor, app, _values_of(app), {}, notice=notice)

    async def update(self, request: Request, visitor: Visitor) -> Response:
        app = await app_of(request, visitor)
        apps.require_editor(visitor.actor)  # before the form's fields are read
        form = await form_of(request)
        try:
            changed = await apps.update(visitor.actor, app.id, _changes(form))
        except DomainError as error:
            errors = field_errors(error, *SETTINGS_FIELDS)
            return await self._settings(request, visitor, app, form, errors, status=400)
        return RedirectResponse(f"{paths.HOME}/{changed.slug}/settings?saved=1", 303)

    async def delete(self, request: Request, visitor: Visitor) -> Response:
        """Deleting needs the slug typed out: a slip of the mouse cannot take an app."""
        app = await app_of(request, visitor)
        form = await form_of(request)
        if text(form, "confirmSlug").strip() != app.slug:
            errors = {"confirmSlug": f"type {app.slug} to confirm that this app is to be deleted"}
            return await self._settings(request, visitor, app, _values_of(app), errors, 400)
        try:
            await apps.delete(visitor.actor, app.id)
        except DomainError as error:
            errors = {"confirmSlug": error.message}
            return await self._settings(request, visitor, app, _values_of(app), errors, 400)
        return RedirectResponse(f"{paths.HOME}?deleted={app.slug}", 303)

    async def add_key(self, request: Request, visitor: Visitor) -> Response:
        """The next key, from its ``.pub`` content: NEXT until a bridge to it is published."""
        app = await app_of(request, visitor)
        apps.require_editor(visitor.actor)  # before the form's fields are read
        form = await form_of(request)
        try:
            await rotation.add(visitor.actor, app.id, text(form, "nextKey"))
        except DomainError as error:
            errors = field_errors(error, "nextKey", renamed={"publicKey": "nextKey"})
            values = {**_values_of(app), "nextKey": text(form, "nextKey")}
            return await self._settings(request, visitor, app, values, errors, 400)
        return RedirectResponse(
            f"{paths.HOME}/{app.slug}/settings?notice=key-added#signing-keys", 303
        )

    async def retire_key(self, request: Request, visitor: Visitor) -> Response:
        app = await app_of(request, visitor)
        apps.require_editor(visitor.actor)
        key = await rotation.get_visible(visitor.actor, request.path_params["key_id"])
        if key.app_id != app.id:
            raise NotFound(f"signing key {key.id} is not one of {app.slug}'s")
        try:
            await rotation.retire(visitor.actor, key.id)
        except DomainError as error:
            errors = {f"retire-{key.id}": error.message}
            return await self._settings(request, visitor, app, _values_of(app), errors, 400)
        return RedirectResponse(
            f"{paths.HOME}/{app.slug}/settings?notice=key-retired#signing-keys", 303
        )

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

    async def _settings(
        self,
        request: Request,
        visitor: Visitor,
        app: App,
        values: Mapping[str, Any],
        errors: dict[str, str],
        status: int = 200,
        notice: str | None = None,
    ) -> Response:
        context = {
            "current_app": app,
            "values": values,
            "errors": errors,
            "notice": notice,
            "distributions": [d.value for d in Distribution],
            "expired_policies": [p.value for p in ExpiredPolicy],
            "may_change": permits(
                lambda actor: actor.require_admin("editing an app"), visitor.actor
            ),
            "keys": await key_rows(app),
        }
        return await self.pages.render_for(request, "app_settings.html", visitor, context, status)

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


SETTINGS_FIELDS = (
    "slug",
    "name",
    "description",
    "publicKey",
    "channels",
    "ciMayPublish",
    "distribution",
    "expiredPolicy",
    "graceDays",
    "offerDowngradeOnYank",
    "requireSignedVersion",
)
_FLAGS = ("ciMayPublish", "offerDowngradeOnYank", "requireSignedVersion")
_NOTICES = {
    "key-added": (
        "Added the next key. Sign a release with the current key that ships the new one, "
        "mark it as the bridge to it on its page, and publish it."
    ),
    "key-retired": "Retired the key: uploads signed with it are refused from now on.",
}


def _values_of(app: App) -> dict[str, Any]:
    """The settings form's fields as the app has them."""
    return {
        "slug": app.slug,
        "name": app.name,
        "description": app.description or "",
        "publicKey": app.public_key or "",
        "channels": ", ".join(channel.order_of(app.channels)),
        "ciMayPublish": app.ci_may_publish,
        "distribution": app.distribution.value,
        "expiredPolicy": app.expired_policy.value,
        "graceDays": str(app.grace_days),
        "offerDowngradeOnYank": app.offer_downgrade_on_yank,
        "requireSignedVersion": app.require_signed_version,
    }


def _changes(form: FormData) -> apps.AppChanges:
    """Every setting from the form (a checkbox left unticked is sent as nothing: off)."""
    return apps.AppChanges(
        slug=text(form, "slug").strip(),
        name=text(form, "name"),
        description=text(form, "description"),
        # Absent while the app moves between keys: its publicKey then follows its bridges.
        public_key=text(form, "publicKey") if "publicKey" in form else None,
        channels=[name for name in re.split(r"[\s,]+", text(form, "channels")) if name],
        ci_may_publish=form.get("ciMayPublish") == "on",
        distribution=choice(Distribution, text(form, "distribution"), ("input", "distribution")),
        expired_policy=choice(
            ExpiredPolicy, text(form, "expiredPolicy"), ("input", "expiredPolicy")
        ),
        grace_days=_whole_number(text(form, "graceDays"), "graceDays"),
        offer_downgrade_on_yank=form.get("offerDowngradeOnYank") == "on",
        require_signed_version=form.get("requireSignedVersion") == "on",
    )


def _whole_number(value: str, field: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{field} {value[:40]!r} is not a whole number of days", ("input", field)
        ) from None
