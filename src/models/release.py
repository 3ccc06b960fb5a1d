"""Releases and their lifecycle: draft → published → archived.

Only published releases are ever offered to installed apps; a draft is where CI and
admins assemble artifacts, and archiving takes a release off the update path.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from ferryman.models import app as apps
from ferryman.models import audit_event, ids
from ferryman.models import channel as channels
from ferryman.models import generation as generations
from ferryman.models import notification as notifications
from ferryman.models import signing_key as signing_keys
from ferryman.models.actor import Actor
from ferryman.models.errors import Forbidden, InvalidInput, InvalidState, NotFound, Taken
from ferryman.models.ids import MAX_LENGTH, new_id
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from ferryman.models.text import reject_nul
from ferryman.models.webhook import Event
from ferryman.versions import MAX_LENGTH as VERSION_LENGTH
from ferryman.versions import InvalidVersion, Version, signed_matches

if TYPE_CHECKING:
    from ferryman.models.app import App
    from ferryman.models.artifact import Artifact
    from ferryman.models.signing_key import SigningKey

NOTES_MAX = 100_000
REASON_MAX = 500


class Release(Model):
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    app: fields.ForeignKeyRelation[App] = fields.ForeignKeyField(
        "models.App", related_name="releases", on_delete=fields.CASCADE
    )
    version = fields.CharField(max_length=VERSION_LENGTH)
    notes = fields.TextField(null=True)
    channel = fields.CharField(max_length=32, default="stable", db_default="stable")
    status = fields.CharEnumField(ReleaseStatus, max_length=16, default=ReleaseStatus.DRAFT)
    pub_date = fields.DatetimeField(null=True)
    # An admin's audited stand-in for pub_date when licences judge the release.
    coverage_date = fields.DatetimeField(null=True)
    rollout_percent = fields.SmallIntField(default=100, db_default=100)
    yanked_at = fields.DatetimeField(null=True)
    yank_reason = fields.TextField(null=True)
    # The key this release ships inside the app (a bridge: see models/signing_key.py).
    bridge_to: fields.ForeignKeyNullableRelation[SigningKey] = fields.ForeignKeyField(
        "models.SigningKey", related_name="bridges", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    app_id: str
    bridge_to_id: str | None
    artifacts: fields.ReverseRelation[Artifact]

    class Meta:
        table = "releases"
        unique_together = (("app", "version"),)
        indexes = (("app_id", "status"), ("app_id", "id"))

    @property
    def effective_date(self) -> datetime | None:
        """The date licences judge it by: the coverage date, else the publish time."""
        return self.coverage_date or self.pub_date


@dataclasses.dataclass(frozen=True, slots=True)
class ReleaseChanges:
    """Fields to set; None leaves a field as it is."""

    version: str | None = None
    notes: str | None = None
    channel: str | None = None


async def get_visible(actor: Actor, release_id: str, field: tuple[str, ...] = ("id",)) -> Release:
    """The release, when it exists and the caller may see its app; otherwise NotFound."""
    release = await Release.get_or_none(id=ids.require(release_id, "rel", field))
    if release is None or not actor.sees(release.app_id):
        raise NotFound(f"release {release_id} not found", field)
    return release


async def of_app(actor: Actor, app_id: str, release_id: str) -> Release:
    """The release, when the caller may see it and it is the app's: for a door whose path
    names both, a release of another app is as missing as one that does not exist."""
    release = await get_visible(actor, release_id)
    if release.app_id != app_id:
        raise NotFound(f"release {release_id} not found", ("id",))
    return release


def require_creator(actor: Actor) -> None:
    actor.require_writer("creating a release")


async def create(actor: Actor, app_id: str, changes: ReleaseChanges) -> Release:
    require_creator(actor)
    app = await apps.get_visible(actor, app_id, ("appId",))
    if changes.version is None:
        raise InvalidInput("version is required", ("input", "version"))
    version = _parse_version(changes.version)
    notes = _validated_notes(changes.notes)
    order = channels.order_of(app.channels)
    on = order[0] if changes.channel is None else _validated_channel(order, changes.channel)
    try:
        async with in_transaction():
            release = await Release.create(
                id=new_id("rel"), app=app, version=version, notes=notes, channel=on
            )
            await audit_event.record(
                actor, "release.create", release.id, app.id, f"created draft {app.slug} {version}"
            )
    except IntegrityError:
        raise _version_taken(app, version) from None
    return release


async def update(actor: Actor, release_id: str, changes: ReleaseChanges) -> Release:
    actor.require_writer("editing a release")
    release = await get_visible(actor, release_id)
    require_editor(actor, release)
    values: dict[str, object] = {}
    if changes.version is not None:
        version = _parse_version(changes.version)
        if version != release.version:
            if release.status is not ReleaseStatus.DRAFT:
                raise InvalidState(
                    f"the version of a {release.status.value} release cannot change; "
                    "create a new release instead",
                    ("input", "version"),
                )
            await _require_no_artifacts(release, version)
            values["version"] = version
    if changes.notes is not None:
        values["notes"] = _validated_notes(changes.notes)
    if changes.channel is not None and changes.channel != release.channel:
        app = await release.app
        values["channel"] = _validated_channel(channels.order_of(app.channels), changes.channel)
    if not values:
        return release
    changed = ", ".join(sorted(values))
    try:
        return await change_live(
            actor,
            release,
            values,
            "release.update",
            f"changed {changed} of release {release.version}",
        )
    except IntegrityError:
        app = await release.app
        raise _version_taken(app, str(values["version"])) from None


async def revise(
    actor: Actor, release_id: str, changes: ReleaseChanges, status: ReleaseStatus | None
) -> Release:
    """Edit a release and move it to ``status`` in one step (the seed's PATCH, where a
    status is a publish or an archive): the move is checked before the edit is written,
    so a refusal of either leaves the release as it was."""
    release = await get_visible(actor, release_id)
    if status is None or status is release.status:
        return await update(actor, release_id, changes)
    await _require_move(actor, release, status)
    if changes != ReleaseChanges():
        await update(actor, release_id, changes)
    return await _transition(actor, release_id, status)


async def _require_move(actor: Actor, release: Release, target: ReleaseStatus) -> None:
    """What :func:`publish` or :func:`archive` would refuse, checked before any write."""
    if target is ReleaseStatus.DRAFT:
        raise InvalidState(
            f"release {release.version} is {release.status.value}, and a release never goes "
            "back to draft: create a new version instead",
            ("input", "status"),
        )
    if target is ReleaseStatus.PUBLISHED:
        app = await apps.App.get(id=release.app_id)
        require_publisher(actor, app)
        _require_source(release, target)
        await _require_ready_artifacts(release, app)
    else:
        require_archiver(actor)
        _require_source(release, target)


def require_editor(actor: Actor, release: Release) -> None:
    """Refuse an actor who may not edit the release: drafts are for writers (CI too),
    published and archived releases for admins."""
    actor.require_writer("editing a release")
    if release.status is not ReleaseStatus.DRAFT:
        actor.require_admin("editing a published or archived release")


async def delete(actor: Actor, release_id: str) -> str:
    """Delete a draft; returns its id. Published releases are archived, never deleted."""
    actor.require_writer("deleting a release")
    release = await get_visible(actor, release_id)
    async with in_transaction():
        locked = await lock(release.id)
        if locked.status is not ReleaseStatus.DRAFT:
            raise InvalidState(
                f"release {locked.version} is {locked.status.value}; only drafts can be deleted"
                + (" (archive it instead)" if locked.status is ReleaseStatus.PUBLISHED else ""),
                ("id",),
            )
        await audit_event.record(
            actor, "release.delete", locked.id, locked.app_id, f"deleted draft {locked.version}"
        )
        await locked.delete()
    return release.id


async def publish(actor: Actor, release_id: str) -> Release:
    """Make a draft live: from now on updaters may be offered it.

    Admin keys may; CI keys only for an app whose admin switched on ``ci_may_publish``.
    """
    actor.require_writer("publishing a release")
    release = await get_visible(actor, release_id)
    require_publisher(actor, await apps.App.get(id=release.app_id))
    return await _transition(actor, release_id, ReleaseStatus.PUBLISHED)


def require_publisher(actor: Actor, app: App) -> None:
    """Refuse an actor who may not publish the app's releases."""
    actor.require_writer("publishing a release")
    if not app.ci_may_publish and not actor.is_admin:
        raise Forbidden(
            f"CI keys may not publish releases of {app.slug}: an admin can allow it with "
            "appUpdate(input: {ciMayPublish: true})"
        )


def require_rollout_changer(actor: Actor, app: App) -> None:
    """Refuse an actor who may not change who is offered the app's releases: as for
    publishing, CI keys may only where an admin set ``ci_may_publish``."""
    actor.require_writer("changing a rollout")
    if not app.ci_may_publish:
        actor.require_admin("changing a rollout")


def require_archiver(actor: Actor) -> None:
    actor.require_admin("archiving a release")


async def archive(actor: Actor, release_id: str) -> Release:
    """Take a published release off the update path, keeping its history."""
    require_archiver(actor)
    return await _transition(actor, release_id, ReleaseStatus.ARCHIVED)


# The one status each target is reached from, and how to say so when it cannot be.
_TRANSITIONS = {
    ReleaseStatus.PUBLISHED: (
        ReleaseStatus.DRAFT,
        "is already {}; only drafts can be published",
        "publish",
        Event.RELEASE_PUBLISHED,
    ),
    ReleaseStatus.ARCHIVED: (
        ReleaseStatus.PUBLISHED,
        "is {}; only published releases can be archived",
        "archive",
        Event.RELEASE_ARCHIVED,
    ),
}


async def archive_many(actor: Actor, app_id: str, release_ids: list[str]) -> list[Release]:
    """Archive several published releases of one app in one transaction: all of them or,
    when any cannot be, none (the refusal names each that cannot)."""
    require_archiver(actor)
    wanted = await chosen(actor, app_id, release_ids)
    refusals: list[str] = []
    archived: list[Release] = []
    async with in_transaction():
        for release in wanted:
            try:
                archived.append(await _step(actor, await lock(release.id), ReleaseStatus.ARCHIVED))
            except InvalidState as error:
                refusals.append(error.message)
        if refusals:
            raise InvalidState(f"nothing was archived: {'; '.join(refusals)}", ("ids",))
    await announce(archived[0])
    return archived


async def chosen(actor: Actor, app_id: str, release_ids: list[str]) -> list[Release]:
    """The app's releases that ``release_ids`` name, newest first, or NotFound naming those
    it has not (or the caller may not see)."""
    app = await apps.get_visible(actor, app_id, ("appId",))
    wanted = list(dict.fromkeys(ids.require(i, "rel", ("ids",)) for i in release_ids))
    if not wanted:
        raise InvalidInput("choose at least one release", ("ids",))
    found = await Release.filter(app_id=app.id, id__in=wanted).order_by("-id")
    missing = sorted(set(wanted) - {release.id for release in found})
    if missing:
        raise NotFound(f"{app.slug} has no release {', '.join(missing)}", ("ids",))
    return found


async def publish_blocker(release: Release) -> str | None:
    """Why :func:`publish` would refuse the release now (its status or its artifacts), or
    None: for a door to say so before anyone tries."""
    try:
        _require_source(release, ReleaseStatus.PUBLISHED)
        await _require_ready_artifacts(release, await apps.App.get(id=release.app_id))
    except InvalidState as error:
        return error.message
    return None


async def _transition(actor: Actor, release_id: str, target: ReleaseStatus) -> Release:
    release = await get_visible(actor, release_id)
    async with in_transaction():
        locked = await _step(actor, await lock(release.id), target)
    await announce(locked)
    return locked


async def _step(actor: Actor, locked: Release, target: ReleaseStatus) -> Release:
    """Move a release, locked in the caller's transaction, to ``target``."""
    _require_source(locked, target)
    changed = ["status", "updated_at"]
    if target is ReleaseStatus.PUBLISHED:
        await _require_ready_artifacts(locked, await apps.App.get(id=locked.app_id))
        locked.pub_date = datetime.now(UTC)
        changed.append("pub_date")
    locked.status = target
    await locked.save(update_fields=changed)
    await apps.bump_generation(locked.app_id)
    if locked.bridge_to_id is not None:
        await signing_keys.follow(locked.app_id)
    _, _, verb, event = _TRANSITIONS[target]
    await audit_event.record(
        actor, f"release.{verb}", locked.id, locked.app_id, f"{target.value} {locked.version}"
    )
    await notifications.emit_release(event, actor, locked)
    return locked


def _require_source(release: Release, target: ReleaseStatus) -> None:
    source, rule, _, _ = _TRANSITIONS[target]
    if release.status is not source:
        raise InvalidState(
            f"release {release.version} {rule.format(release.status.value)}", ("id",)
        )


async def change_live(
    actor: Actor,
    release: Release,
    values: dict[str, object],
    action: str,
    summary: str,
    event: Event | None = None,
) -> Release:
    """Set fields and audit; a live release's answers change, so its app's generation too
    (and, for a published one, ``event`` is announced)."""
    async with in_transaction():
        updated = await change_held(actor, release, values, action, summary, event)
    if release.status is not ReleaseStatus.DRAFT:
        await announce(updated)
    return updated


async def change_held(
    actor: Actor,
    release: Release,
    values: dict[str, object],
    action: str,
    summary: str,
    event: Event | None = None,
) -> Release:
    """:func:`change_live`'s writes, in the caller's transaction, for an operation that
    changes other rows with them; the caller announces a live release once it commits."""
    await Release.filter(id=release.id).update(**values)
    if release.status is not ReleaseStatus.DRAFT:
        await apps.bump_generation(release.app_id)
    await audit_event.record(actor, action, release.id, release.app_id, summary)
    updated = await Release.get(id=release.id)
    if event is not None and updated.status is ReleaseStatus.PUBLISHED:
        await notifications.emit_release(event, actor, updated)
    return updated


async def _require_no_artifacts(release: Release, version: str) -> None:
    """A draft's files were checked against its version (their signatures may name it):
    the version may change only while it has none."""
    platforms = (
        await release.artifacts.all().order_by("platform").values_list("platform", flat=True)
    )
    if platforms:
        raise InvalidState(
            f"release {release.version} has artifacts ({', '.join(map(str, platforms))}) "
            f"checked for version {release.version}: delete them first (artifactDelete), "
            f"then change the version to {version} and upload files built and signed for it",
            ("input", "version"),
        )


async def _require_ready_artifacts(release: Release, app: App) -> None:
    artifacts = await release.artifacts.all().order_by("platform")
    unsettled = [a for a in artifacts if a.status is not ArtifactStatus.READY]
    if unsettled:
        named = ", ".join(f"{a.platform} ({a.status.value})" for a in unsettled)
        raise InvalidState(
            f"release {release.version} has artifacts that are not READY: {named}; confirm "
            "or delete them before publishing",
            ("id",),
        )
    other = [
        a
        for a in artifacts
        if a.signed_version is not None and not signed_matches(a.signed_version, release.version)
    ]
    if other:
        named = ", ".join(f"{a.platform} (version:{a.signed_version})" for a in other)
        raise InvalidState(
            f"release {release.version} has artifacts signed for another version: {named}; "
            "the updater refuses them: delete them and upload files signed with "
            f"--app-version {release.version}",
            ("id",),
        )
    unsigned = [a.platform for a in artifacts if a.signed_version is None]
    if app.require_signed_version and unsigned:
        raise InvalidState(
            f"the signatures of {', '.join(unsigned)} name no version, and app {app.slug} "
            "requires one (requireSignedVersion): upload them signed with --app-version "
            f"{release.version}, or delete them",
            ("id",),
        )
    if not artifacts:
        raise InvalidState(
            f"release {release.version} has no READY artifact; upload and confirm at least "
            "one before publishing",
            ("id",),
        )
    unverifiable = await signing_keys.publish_refusal(release, artifacts)
    if unverifiable:
        raise InvalidState(unverifiable, ("id",))


async def announce(release: Release) -> None:
    app = await apps.App.get(id=release.app_id)
    generations.announce(app.slug)


async def lock(release_id: str) -> Release:
    # Re-read inside the transaction (row-locked on PostgreSQL) so two concurrent
    # lifecycle calls cannot both pass the status check.
    release = await Release.select_for_update().get_or_none(id=release_id)
    if release is None:
        raise NotFound(f"release {release_id} not found", ("id",))
    return release


async def check_version(actor: Actor, app_id: str, text: str, release_id: str | None = None) -> str:
    """The version ``text`` would be stored as in the app, or the error :func:`create` (or
    :func:`update` of ``release_id``) would give for it: for a door that checks as people
    type."""
    app = await apps.get_visible(actor, app_id, ("appId",))
    version = _parse_version(text)
    if await Release.filter(app_id=app.id, version=version).exclude(id=release_id or "").exists():
        raise _version_taken(app, version)
    return version


def _parse_version(text: str) -> str:
    try:
        return str(Version.parse(text))
    except InvalidVersion as error:
        raise InvalidInput(str(error), ("input", "version")) from None


def _validated_notes(notes: str | None) -> str | None:
    reject_nul(notes, ("input", "notes"))
    if notes is not None and len(notes) > NOTES_MAX:
        raise InvalidInput(
            f"notes are {len(notes):,} characters; at most {NOTES_MAX:,} are accepted",
            ("input", "notes"),
        )
    return notes or None


def validated_reason(reason: str) -> str:
    reject_nul(reason, ("reason",))
    why = reason.strip()
    if not why or len(why) > REASON_MAX:
        raise InvalidInput(
            f"reason must be 1 to {REASON_MAX} characters, not blank: it is kept in the "
            "audit trail",
            ("reason",),
        )
    return why


def _validated_channel(order: tuple[str, ...], name: str) -> str:
    field = ("input", "channel")
    channels.validated_name(name, field)
    channels.rank(order, name, field)
    return name


def _version_taken(app: App, version: str) -> Taken:
    return Taken(f"app {app.slug} already has a release {version}", ("input", "version"))
