"""The console's licences of a LICENSED app: search, issue (the key shown once), renew,
suspend, reactivate, revoke, and import many from a CSV, all through the licence rules."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ferryman import auth, license_import
from ferryman.console import paths
from ferryman.console.pages import (
    Pages,
    app_of,
    choice,
    day,
    field_errors,
    form_of,
    next_page,
    text,
    upload_form_of,
)
from ferryman.console.sessions import Visitor
from ferryman.models import keyset
from ferryman.models import license as licenses
from ferryman.models.actor import permits
from ferryman.models.app import App
from ferryman.models.errors import DomainError, InvalidInput, NotFound
from ferryman.models.license import License
from ferryman.models.status import LicenseStatus

PAGE_SIZE = 50
_SEARCH = ("customer", "status", "expiresAfter", "expiresBefore")
# The search form has a customer field too, so the new licence's is newCustomer.
_NEW = ("newCustomer", "startsAt", "endsAt")
_DONE = {
    "renewed": "Renewed.",
    "suspended": "Suspended: its updates are refused until it is reactivated.",
    "reactivated": "Reactivated.",
    "revoked": "Revoked for good.",
}


class LicencePages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def routes(self) -> list[BaseRoute]:
        signed_in = self.pages.signed_in
        base = "/apps/{slug}/licences"
        one = base + "/{license_id}"
        return [
            Route(base, signed_in(self.index), methods=["GET"]),
            Route(base, signed_in(self.create), methods=["POST"]),
            Route(base + "/import", signed_in(self.importer), methods=["GET"]),
            Route(base + "/import", signed_in(self.import_csv, upload=True), methods=["POST"]),
            Route(one, signed_in(self.show), methods=["GET"]),
            Route(one + "/renew", signed_in(self.renew), methods=["POST"]),
            Route(one + "/suspend", signed_in(self.suspend), methods=["POST"]),
            Route(one + "/reactivate", signed_in(self.reactivate), methods=["POST"]),
            Route(one + "/revoke", signed_in(self.revoke), methods=["POST"]),
        ]

    async def index(self, request: Request, visitor: Visitor) -> Response:
        return await self._index(request, visitor, await app_of(request, visitor), {})

    async def create(self, request: Request, visitor: Visitor) -> Response:
        app = await app_of(request, visitor)
        form = await form_of(request)
        minted = auth.mint(auth.LICENSE_PREFIX)
        try:
            new = licenses.NewLicense(
                key_hash=minted.key_hash,
                prefix=minted.prefix,
                customer=text(form, "newCustomer"),
                starts_at=day(text(form, "startsAt"), "startsAt"),
                ends_at=day(text(form, "endsAt"), "endsAt"),
            )
            license = await licenses.create(visitor.actor, app.id, new)
        except DomainError as error:
            errors = field_errors(error, *_NEW, renamed={"customer": "newCustomer"})
            return await self._index(request, visitor, app, errors, form, 400)
        created = {"license": license, "key": minted.secret}
        return await self._index(request, visitor, app, {}, created=created)

    async def show(self, request: Request, visitor: Visitor) -> Response:
        app, license = await self._licence(request, visitor)
        notice = _DONE.get(request.query_params.get("done", ""))
        return await self._show(request, visitor, app, license, {}, notice=notice)

    async def renew(self, request: Request, visitor: Visitor) -> Response:
        app, license = await self._licence(request, visitor)
        form = await form_of(request)
        try:
            starts_at = day(text(form, "startsAt"), "startsAt")
            ends_at = day(text(form, "endsAt"), "endsAt")
            await licenses.renew(visitor.actor, license.id, starts_at, ends_at)
        except DomainError as error:
            errors = field_errors(error, "startsAt", "endsAt")
            return await self._show(request, visitor, app, license, errors, form, 400)
        return _done(app, license, "renewed")

    async def suspend(self, request: Request, visitor: Visitor) -> Response:
        app, license = await self._licence(request, visitor)
        form = await form_of(request)
        try:
            await licenses.suspend(visitor.actor, license.id, text(form, "reason") or None)
        except DomainError as error:
            errors = field_errors(error, "reason")
            return await self._show(request, visitor, app, license, errors, form, 400)
        return _done(app, license, "suspended")

    async def reactivate(self, request: Request, visitor: Visitor) -> Response:
        app, license = await self._licence(request, visitor)
        try:
            await licenses.reactivate(visitor.actor, license.id)
        except DomainError as error:
            return await self._show(request, visitor, app, license, field_errors(error), None, 400)
        return _done(app, license, "reactivated")

    async def revoke(self, request: Request, visitor: Visitor) -> Response:
        app, license = await self._licence(request, visitor)
        form = await form_of(request)
        try:
            await licenses.revoke(visitor.actor, license.id, text(form, "revokeReason") or None)
        except DomainError as error:
            # The page's suspend form has a reason field too.
            errors = field_errors(error, "revokeReason", renamed={"reason": "revokeReason"})
            return await self._show(request, visitor, app, license, errors, form, 400)
        return _done(app, license, "revoked")

    async def importer(self, request: Request, visitor: Visitor) -> Response:
        app = await app_of(request, visitor)
        return await self._import(request, visitor, app)

    async def import_csv(self, request: Request, visitor: Visitor) -> Response:
        """The same path as ``ferryman licenses import``: every line checked, then all of
        them created in one transaction, or none."""
        app = await app_of(request, visitor)
        licenses.require_manager(visitor.actor)  # before the file is parsed
        form = await upload_form_of(request)
        upload = form.get("file")
        source, content = "the pasted CSV", text(form, "csv")
        try:
            if isinstance(upload, UploadFile) and upload.filename:
                source = upload.filename[:100]
                content = license_import.decode(source, await upload.read())
            if not content.strip():
                raise InvalidInput("choose a CSV file or paste its lines", ("csv",))
            rows = license_import.parse(source, content)
            await license_import.check_unused(source, rows)
            news = [row.new for row in rows]
            try:
                created = await licenses.create_many(
                    visitor.actor, app.id, news, (license_import.FIELD,)
                )
            except DomainError as error:
                raise license_import.explain(source, error, rows) from None
        except license_import.BadFile as bad:
            context = {"source": source, "problems": bad.problems, "pasted": form}
            return await self._import(request, visitor, app, context, 400)
        except DomainError as error:
            context = {"errors": field_errors(error, "csv"), "pasted": form}
            return await self._import(request, visitor, app, context, 400)
        issued = list(zip(rows, created, strict=True))
        return await self._import(request, visitor, app, {"issued": issued})

    async def _licence(self, request: Request, visitor: Visitor) -> tuple[App, License]:
        """The path's app and its licence (another app's licence is not found here)."""
        app = await app_of(request, visitor)
        license_id = request.path_params["license_id"]
        license = await licenses.get_visible(visitor.actor, license_id)
        if license.app_id != app.id:
            raise NotFound(f"licence {license_id} not found", ("id",))
        return app, license

    async def _index(
        self,
        request: Request,
        visitor: Visitor,
        app: App,
        errors: dict[str, str],
        form: FormData | None = None,
        status: int = 200,
        *,
        created: dict[str, Any] | None = None,
    ) -> Response:
        query = request.query_params
        context: dict[str, Any] = {
            "current_app": app,
            "values": form or {},
            "errors": errors,
            "created": created,
            "search": query,
            "statuses": [s.value for s in LicenseStatus],
            "may_manage": permits(licenses.require_manager, visitor.actor),
        }
        wanted = query.get("status", "")
        try:
            search = licenses.LicenseSearch(
                customer=query.get("customer") or None,
                status=choice(LicenseStatus, wanted, ("status",)) if wanted else None,
                expires_after=day(query.get("expiresAfter", ""), "expiresAfter"),
                expires_before=day(query.get("expiresBefore", ""), "expiresBefore"),
            )
            found = licenses.visible(visitor.actor, app.id, search)
            page = await keyset.page(found, PAGE_SIZE, after=query.get("after"))
        except DomainError as error:
            context["search_errors"] = field_errors(error, *_SEARCH)
            context["rows"], context["next_page"] = [], None
            return await self.pages.render_for(request, "licences.html", visitor, context, 400)
        expiry = await licenses.periods_of([license.id for license in page.rows])
        context["rows"] = [(lic, max(p.ends_at for p in expiry[lic.id])) for lic in page.rows]
        context["next_page"] = next_page(request, page.end_cursor)
        context.setdefault("search_errors", {})
        return await self.pages.render_for(request, "licences.html", visitor, context, status)

    async def _show(
        self,
        request: Request,
        visitor: Visitor,
        app: App,
        license: License,
        errors: dict[str, str],
        form: FormData | None = None,
        status: int = 200,
        *,
        notice: str | None = None,
    ) -> Response:
        license = await License.get(id=license.id)  # as it is now, after a refused change
        context = {
            "current_app": app,
            "license": license,
            "periods": (await licenses.periods_of([license.id]))[license.id],
            "values": form or {},
            "errors": errors,
            "notice": notice,
            "may_manage": permits(licenses.require_manager, visitor.actor),
        }
        return await self.pages.render_for(request, "licence.html", visitor, context, status)

    async def _import(
        self,
        request: Request,
        visitor: Visitor,
        app: App,
        context: dict[str, Any] | None = None,
        status: int = 200,
    ) -> Response:
        values = {
            "current_app": app,
            "problems": [],
            "issued": None,
            "pasted": {},
            "may_manage": permits(licenses.require_manager, visitor.actor),
            **(context or {}),
        }
        return await self.pages.render_for(request, "licence_import.html", visitor, values, status)


def _done(app: App, license: License, what: str) -> Response:
    return RedirectResponse(f"{paths.HOME}/{app.slug}/licences/{license.id}?done={what}", 303)
