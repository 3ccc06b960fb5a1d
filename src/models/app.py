"""Apps: the tenants of one Ferryman deployment, and the rules for changing them."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from ferryman.models import audit_event, channel, ids
from ferryman.models import generation as generations
from ferryman.models import signing_key as signing_keys
from ferryman.models.actor import Actor
from ferryman.models.errors import InvalidInput, InvalidState, NotFound, Taken
from ferryman.models.ids import MAX_LENGTH, new_id
from ferryman.models.status import Distribution, ExpiredPolicy, ReleaseStatus
from ferryman.models.text import reject_nul
from ferryman.signatures import PublicKey

if TYPE_CHECKING:
    from ferryman.models.license import License
    from ferryman.models.release import Release

SLUG_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
# First path segments the server itself answers, where a new app's slug could be mistaken
# for them. (An app that took "admin" before the admin API came keeps it: the API lives
# under /admin/apps, and its update checks under /admin/update.)
RESERVED_SLUGS = frozenset(
    {
        "graphql",
        "healthz",
        "readyz",
        "metrics",
        "static",
        "dl",
        "ci",
        "console",
        "admin",
        "health",
    }
)
NAME_MAX = 200
DESCRIPTION_MAX = 2_000
PUBLIC_KEY_MAX = 2_000
GRACE_DAYS_MAX = 366


class App(Model):
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    slug = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=NAME_MAX)
    description = fields.TextField(null=True)
    public_key = fields.TextField(null=True)
    generation = fields.BigIntField(default=0, db_default=0)
    ci_may_publish = fields.BooleanField(default=False, db_default=False)
    # The channel order, most stable first, comma-separated (see models/channel.py).
    channels = fields.CharField(
        max_length=channel.STORED_MAX,
        default=channel.stored(channel.DEFAULT_ORDER),
        db_default=channel.stored(channel.DEFAULT_ORDER),
    )
    distribution = fields.CharEnumField(
        Distribution, max_length=16, default=Distribution.OPEN, db_default="OPEN"
    )
    expired_policy = fields.CharEnumField(
        ExpiredPolicy, max_length=16, default=ExpiredPolicy.MAINTAIN, db_default="MAINTAIN"
    )
    grace_days = fields.IntField(default=0, db_default=0)
    # Clients on a yanked release are offered the newest release below it.
    offer_downgrade_on_yank = fields.BooleanField(default=False, db_default=False)
    # Mirrors the client's requireSignedVersion: artifacts whose signature names no version
    # are refused, as such a client would refuse them at download.
    require_signed_version = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    releases: fields.ReverseRelation[Release]
    licenses: fields.ReverseRelation[License]

    class Meta:
        table = "apps"


@dataclasses.dataclass(frozen=True, slots=True)
class AppChanges:
    """Fields to set; None leaves a field as it is (an empty string clears an optional one)."""

    slug: str | None = None
    name: str | None = None
    description: str | None = None
    public_key: str | None = None
    ci_may_publish: bool | None = None
    channels: list[str] | None = None
    distribution: Distribution | None = None
    expired_policy: ExpiredPolicy | None = None
    grace_days: int | None = None
    offer_downgrade_on_yank: bool | None = None
    require_signed_version: bool | None = None


async def bump_generation(app_id: str) -> None:
    """Mark the app's update answers as changed; call inside the change's transaction."""
    await App.filter(id=app_id).update(generation=F("generation") + 1)
    await generations.notify(app_id)


def visible(actor: Actor) -> QuerySet[App]:
    """The apps this caller may see: all of them, or those it is limited to."""
    return App.all() if actor.apps is None else App.filter(id__in=actor.apps)


async def get_visible(actor: Actor, app_id: str, field: tuple[str, ...] = ("id",)) -> App:
    """The app, when it exists and the caller may see it; otherwise NotFound."""
    app = await App.get_or_none(id=ids.require(app_id, "app", field))
    if app is None or not actor.sees(app.id):
        raise NotFound(f"app {app_id} not found", field)
    return app


async def find_visible(actor: Actor, slug: str) -> App | None:
    """Look an app up by slug; None when it does not exist or the caller may not see it."""
    if not SLUG_PATTERN.fullmatch(slug):
        return None
    app = await App.get_or_none(slug=slug)
    return app if app is not None and actor.sees(app.id) else None


def require_creator(actor: Actor) -> None:
    actor.require_global_admin("creating an app")


def require_editor(actor: Actor) -> None:
    actor.require_admin("editing an app")


async def create(actor: Actor, changes: AppChanges) -> App:
    require_creator(actor)
    if changes.slug is None or changes.name is None:
        raise InvalidInput("slug and name are required", ("input",))
    values = _validated(changes)
    try:
        async with in_transaction():
            app = await App.create(id=new_id("app"), **values)
            await audit_event.record(
                actor, "app.create", app.id, app.id, f"created app {app.slug} ({app.name})"
            )
    except IntegrityError:
        raise _slug_taken(changes.slug) from None
    return app


async def update(actor: Actor, app_id: str, changes: AppChanges) -> App:
    require_editor(actor)
    app = await get_visible(actor, app_id)
    if changes.slug == app.slug:  # kept, even a slug that has been reserved since
        changes = dataclasses.replace(changes, slug=None)
    values = _validated(changes)
    if not values:
        return app
    if "channels" in values:
        await _check_channels_in_use(app, channel.order_of(values["channels"]))
    if "public_key" in values and await signing_keys.rows(app.id):
        raise InvalidState(
            f"app {app.slug} is moving between signing keys, so its publicKey follows its "
            "bridges: add a key with appSigningKeyAdd and publish a bridge release to it",
            ("input", "publicKey"),
        )
    changed = ", ".join(sorted(values))
    try:
        async with in_transaction():
            await App.filter(id=app.id).update(**values)
            await bump_generation(app.id)
            await audit_event.record(
                actor, "app.update", app.id, app.id, f"changed {changed} of app {app.slug}"
            )
    except IntegrityError:
        raise _slug_taken(values["slug"] or "") from None
    updated = await App.get(id=app.id)
    generations.announce(app.slug)
    if updated.slug != app.slug:
        generations.announce(updated.slug)
    return updated


async def delete(actor: Actor, app_id: str) -> str:
    """Delete an app that has never been live; returns its id."""
    actor.require_admin("deleting an app")
    app = await get_visible(actor, app_id)
    async with in_transaction():
        published = await app.releases.filter(status=ReleaseStatus.PUBLISHED).count()
        if published:
            raise InvalidState(
                f"app {app.slug} has {published} published release(s); "
                "archive them before deleting the app",
                ("id",),
            )
        await audit_event.record(actor, "app.delete", app.id, app.id, f"deleted app {app.slug}")
        await generations.notify(app.id, removed=True)
        await app.delete()
    generations.announce(app.slug)
    return app.id


def _validated(changes: AppChanges) -> dict[str, Any]:
    values: dict[str, Any] = {}
    reject_nul(changes.name, ("input", "name"))
    reject_nul(changes.description, ("input", "description"))
    reject_nul(changes.public_key, ("input", "publicKey"))
    if changes.slug is not None:
        if not SLUG_PATTERN.fullmatch(changes.slug):
            raise InvalidInput(
                f"slug {changes.slug[:80]!r} is not valid: use 1 to 64 lowercase letters, digits "
                "and dashes, starting and ending with a letter or digit (for example my-app)",
                ("input", "slug"),
            )
        if changes.slug in RESERVED_SLUGS:
            raise InvalidInput(
                f"slug {changes.slug!r} is reserved for the server's own paths "
                f"({', '.join(sorted(RESERVED_SLUGS))}); choose another",
                ("input", "slug"),
            )
        values["slug"] = changes.slug
    if changes.name is not None:
        name = changes.name.strip()
        if not name or len(name) > NAME_MAX:
            raise InvalidInput(
                f"name must be 1 to {NAME_MAX} characters, not blank", ("input", "name")
            )
        values["name"] = name
    if changes.description is not None:
        if len(changes.description) > DESCRIPTION_MAX:
            raise InvalidInput(
                f"description is longer than {DESCRIPTION_MAX} characters",
                ("input", "description"),
            )
        values["description"] = changes.description or None
    flags = (
        "ci_may_publish",
        "distribution",
        "expired_policy",
        "offer_downgrade_on_yank",
        "require_signed_version",
    )
    for name in flags:
        if getattr(changes, name) is not None:
            values[name] = getattr(changes, name)
    if changes.grace_days is not None:
        if not 0 <= changes.grace_days <= GRACE_DAYS_MAX:
            raise InvalidInput(
                f"graceDays must be 0 to {GRACE_DAYS_MAX}, got {changes.grace_days}",
                ("input", "graceDays"),
            )
        values["grace_days"] = changes.grace_days
    if changes.channels is not None:
        order = channel.validated_order(changes.channels, ("input", "channels"))
        values["channels"] = channel.stored(order)
    if changes.public_key is not None:
        if len(changes.public_key) > PUBLIC_KEY_MAX:
            raise InvalidInput(
                f"publicKey is longer than {PUBLIC_KEY_MAX} characters; paste the content of the "
                ".pub file that `tauri signer generate` wrote",
                ("input", "publicKey"),
            )
        if changes.public_key.strip():
            PublicKey.parse(changes.public_key, ("input", "publicKey"))
        values["public_key"] = changes.public_key.strip() or None
    return values


async def _check_channels_in_use(app: App, order: tuple[str, ...]) -> None:
    used = set(await app.releases.all().distinct().values_list("channel", flat=True))
    dropped = sorted(str(name) for name in used - set(order))
    if dropped:
        raise InvalidState(
            f"releases of {app.slug} are on {', '.join(dropped)}: keep those channels, or move "
            "the releases to another channel first",
            ("input", "channels"),
        )


def _slug_taken(slug: str) -> Taken:
    return Taken(f"slug {slug!r} is already used by another app", ("input", "slug"))
