"""The console's page of one release: its editor (version, channel, notes with a preview),
its platforms against the release before it, its way to installs once offered (update
checks offered it, downloads, installs running it), and its lifecycle controls (publish after a
confirmation that says who will be offered what, archive, yank, roll back, roll out, a
rollout schedule (``schedules.py``), date for licences). Each control is a small form
calling the domain operation GraphQL calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ferryman.analytics import series as stats
from ferryman.console import schedules
from ferryman.console.pages import Pages, app_of, field_errors, form_of, text
from ferryman.console.releases import EDITED, may_manage, releases_path, rendered
from ferryman.console.sessions import Visitor
from ferryman.console.signing_keys import bridge_of
from ferryman.models import channel as channels
from ferryman.models import health, listing, outlook, rotation
from ferryman.models import release as releases
from ferryman.models import rollout as rollouts
from ferryman.models.actor import permits
from ferryman.models.app import App
from ferryman.models.errors import DomainError, InvalidInput
from ferryman.models.release import Release
from ferryman.models.status import ArtifactStatus, ReleaseStatus

NOTICES = {
    "created": "Created the draft.",
    "saved": "Saved.",
    "published": "Published: installs are offered it from now on.",
    "archived": "Archived: it is offered to nobody now.",
    "yanked": "Yanked: it is offered to nobody now.",
    "rolled-back": "Rolled back: the release before it is offered again, to every install.",
    "rollout": "Changed the rollout.",
    "coverage": "Changed the date licences judge it by.",
    "bridge": "Changed which key it is the bridge to.",
    "scheduled": "Started the rollout schedule.",
    "paused": "Paused the rollout schedule: it takes no step until it is resumed.",
    "resumed": "Resumed the rollout schedule: its pending steps moved later by the pause.",
    "unscheduled": "Cancelled the rollout schedule: the percentage stays where it is.",
    "lifted": "Lifted the halt: new installs on that platform are offered it again.",
}

# What a control does to a release, given the posted form; it raises DomainError.
Action = Callable[[Visitor, App, Release, FormData], Awaitable[object]]


class ReleaseEditorPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def routes(self) -> list[BaseRoute]:
        signed_in = self.pages.signed_in
        base = "/apps/{slug}/releases/{release_id}"

        def control(action: Action, name: str, fields: dict[str, str], done: str) -> Route:
            async def handler(request: Request, visitor: Visitor) -> Response:
                return await self._control(request, visitor, action, name, fields, done)

            return Route(f"{base}/{name}", signed_in(handler), methods=["POST"])

        return [
            Route(base, signed_in(self.show), methods=["GET"]),
            Route(base, signed_in(self.save), methods=["POST"]),
            Route(f"{base}/delete", signed_in(self.delete), methods=["POST"]),
            Route(f"{base}/publish/confirm", signed_in(self.confirm_publish), methods=["POST"]),
            control(_publish, "publish", {}, "published"),
            control(_archive, "archive", {}, "archived"),
            control(_yank, "yank", {"reason": "reason"}, "yanked"),
            control(_rollback, "rollback", {"reason": "reason", "channel": ""}, "rolled-back"),
            control(_rollout, "rollout", {"percent": "percent"}, "rollout"),
            control(
                _coverage, "coverage", {"coverageDate": "date", "reason": "reason"}, "coverage"
            ),
            control(_bridge, "bridge", {"signingKeyId": "key"}, "bridge"),
            control(schedules.start, "schedule", schedules.FIELDS, "scheduled"),
            control(schedules.pause, "pause", {"reason": "reason"}, "paused"),
            control(schedules.resume, "resume", {}, "resumed"),
            control(schedules.cancel, "unschedule", {}, "unscheduled"),
            control(_lift, "lift", {"platform": "platform", "reason": "reason"}, "lifted"),
        ]

    async def show(self, request: Request, visitor: Visitor) -> Response:
        app, release = await _release_of(request, visitor)
        notice = NOTICES.get(request.query_params.get("notice", ""))
        return await self._editor(request, visitor, app, release, notice=notice)

    async def save(self, request: Request, visitor: Visitor) -> Response:
        app, release = await _release_of(request, visitor)
        form = await form_of(request)
        if text(form, "action") == "preview":
            return await self._editor(request, visitor, app, release, form=form)
        version = form.get("version")
        changes = releases.ReleaseChanges(
            version=version if isinstance(version, str) else None,
            notes=text(form, "notes"),
            channel=text(form, "channel") or None,
        )
        try:
            await releases.update(visitor.actor, release.id, changes)
        except DomainError as error:
            errors = field_errors(error, *EDITED)
            return await self._editor(request, visitor, app, release, errors, form, 400)
        return RedirectResponse(f"{releases_path(app)}/{release.id}?notice=saved", 303)

    async def delete(self, request: Request, visitor: Visitor) -> Response:
        app, release = await _release_of(request, visitor)
        try:
            await releases.delete(visitor.actor, release.id)
        except DomainError as error:
            return await self._editor(
                request, visitor, app, release, {"": error.message}, None, 400
            )
        return RedirectResponse(f"{releases_path(app)}?notice=deleted", 303)

    async def confirm_publish(self, request: Request, visitor: Visitor) -> Response:
        """The first step of publishing: what installs will be offered once it is live."""
        app, release = await _release_of(request, visitor)
        outlooks = await outlook.publish_outlook(visitor.actor, release.id)
        blocker = await releases.publish_blocker(release)
        if blocker is not None:
            return await self._editor(request, visitor, app, release, {"": blocker}, None, 400)
        context = {"current_app": app, "tab": "releases", "release": release, "outlooks": outlooks}
        return await self.pages.render_for(request, "release_publish.html", visitor, context)

    async def _control(
        self,
        request: Request,
        visitor: Visitor,
        action: Action,
        name: str,
        fields: dict[str, str],
        done: str,
    ) -> Response:
        """Run one lifecycle control; a refusal is shown next to its form's field."""
        app, release = await _release_of(request, visitor)
        form = await form_of(request)
        try:
            await action(visitor, app, release, form)
        except DomainError as error:
            found = field_errors(error, *fields)
            errors = {(f"{name}-{fields[k]}" if fields.get(k) else ""): v for k, v in found.items()}
            return await self._editor(request, visitor, app, release, errors, form, 400)
        return RedirectResponse(f"{releases_path(app)}/{release.id}?notice={done}", 303)

    async def _editor(
        self,
        request: Request,
        visitor: Visitor,
        app: App,
        release: Release,
        errors: dict[str, str] | None = None,
        form: FormData | None = None,
        status: int = 200,
        notice: str | None = None,
    ) -> Response:
        actor = visitor.actor
        now = datetime.now(UTC)
        today = now.date()
        previous = await listing.previous_published(release)
        states = await listing.artifact_states([release.id, *([previous.id] if previous else [])])
        mine = states[release.id]
        draft = release.status is ReleaseStatus.DRAFT
        # The editor's own form comes back as it was typed; a control's form does not.
        values = form if form is not None and "notes" in form else None
        shown = values or {
            "version": release.version,
            "channel": release.channel,
            "notes": release.notes or "",
        }
        context = {
            "current_app": app,
            "tab": "releases",
            "release": release,
            "errors": errors or {},
            "notice": notice,
            "values": shown,
            "controls": _controls(release, form),
            "preview": rendered(str(shown.get("notes") or "")),
            "channels": channels.order_of(app.channels),
            "previous": previous,
            "checklist": [(p, mine.get(p)) for p in states[previous.id]] if previous else [],
            "ready": sum(state is ArtifactStatus.READY for state in mine.values()),
            "artifacts": len(mine),
            "blocker": await releases.publish_blocker(release) if draft else None,
            "funnel": None if draft else await stats.funnel(app.id, release.version, today),
            "may_edit": permits(lambda a: releases.require_editor(a, release), actor),
            "may_publish": draft and permits(lambda a: releases.require_publisher(a, app), actor),
            "may_delete": draft and permits(releases.require_creator, actor),
            "may_manage": may_manage(actor),
            "bridge": await bridge_of(actor, app, release),
            "schedule": await schedules.view(release, now),
            "phased_words": schedules.PHASED_WORDS,
            "may_schedule": permits(lambda a: releases.require_rollout_changer(a, app), actor),
            "health": await health.read(release.id),
            "gate": await health.HealthGate.get_or_none(release_id=release.id),
        }
        return await self.pages.render_for(request, "release.html", visitor, context, status)


def _controls(release: Release, form: FormData | None) -> dict[str, str]:
    """The control forms' values: as posted, else the release's own."""
    coverage = release.coverage_date.date().isoformat() if release.coverage_date else ""
    values = {
        "rollout-percent": str(release.rollout_percent),
        "coverage-date": coverage,
        "schedule-kind": schedules.PHASED,
    }
    posted = form.multi_items() if form is not None else []
    return values | {name: value for name, value in posted if isinstance(value, str)}


async def _release_of(request: Request, visitor: Visitor) -> tuple[App, Release]:
    """The path's app and release, when the release is that app's and the visitor may see it."""
    app = await app_of(request, visitor)
    release = await releases.of_app(visitor.actor, app.id, request.path_params["release_id"])
    return app, release


async def _publish(visitor: Visitor, app: App, release: Release, form: FormData) -> object:
    return await releases.publish(visitor.actor, release.id)


async def _archive(visitor: Visitor, app: App, release: Release, form: FormData) -> object:
    return await releases.archive(visitor.actor, release.id)


async def _yank(visitor: Visitor, app: App, release: Release, form: FormData) -> object:
    return await rollouts.yank(visitor.actor, release.id, text(form, "yank-reason"))


async def _rollback(visitor: Visitor, app: App, release: Release, form: FormData) -> object:
    reason = text(form, "rollback-reason") or None
    return await rollouts.rollback(visitor.actor, app.id, release.channel, reason)


async def _rollout(visitor: Visitor, app: App, release: Release, form: FormData) -> object:
    typed = text(form, "rollout-percent").strip()
    try:
        percent = int(typed)
    except ValueError:
        raise InvalidInput(
            f"percent must be a whole number from 0 to 100, got {typed[:20]!r}", ("percent",)
        ) from None
    return await rollouts.rollout(visitor.actor, release.id, percent)


async def _coverage(visitor: Visitor, app: App, release: Release, form: FormData) -> object:
    typed = text(form, "coverage-date").strip()
    try:
        day = date.fromisoformat(typed) if typed else None
    except ValueError:
        raise InvalidInput(
            f"{typed[:40]!r} is not a date: use YYYY-MM-DD, or leave it empty to clear it",
            ("coverageDate",),
        ) from None
    moment = None if day is None else datetime.combine(day, time(), UTC)
    reason = text(form, "coverage-reason")
    return await rollouts.set_coverage_date(visitor.actor, release.id, moment, reason)


async def _lift(visitor: Visitor, app: App, release: Release, form: FormData) -> object:
    platform, reason = text(form, "lift-platform"), text(form, "lift-reason")
    return await health.lift(visitor.actor, release.id, platform, reason)


async def _bridge(visitor: Visitor, app: App, release: Release, form: FormData) -> object:
    key = text(form, "bridge-key") or None
    return await rotation.set_bridge(visitor.actor, release.id, key)
