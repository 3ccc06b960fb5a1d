"""API keys: stored only as a hash and a display prefix; the secret is shown once.

How a key looks and how it is hashed is ``auth``'s business; this module keeps the
rows and the rules about who may mint or revoke which key.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from ferryman.models import app as apps
from ferryman.models import audit_event, ids
from ferryman.models import notification as notifications
from ferryman.models.actor import Actor, KeyScope, Role
from ferryman.models.errors import InvalidInput, NotFound
from ferryman.models.ids import MAX_LENGTH, new_id
from ferryman.models.text import reject_nul
from ferryman.models.webhook import Event

if TYPE_CHECKING:
    from ferryman.models.app import App

NAME_MAX = 200


class ApiKey(Model):
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    app: fields.ForeignKeyNullableRelation[App] = fields.ForeignKeyField(
        "models.App", related_name="api_keys", null=True, on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=NAME_MAX)
    key_hash = fields.CharField(max_length=64, unique=True)
    prefix = fields.CharField(max_length=16)
    scope = fields.CharEnumField(KeyScope, max_length=8)
    last_used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    app_id: str | None

    class Meta:
        table = "api_keys"
        indexes = (("app_id",),)

    def as_actor(self, request_id: str | None) -> Actor:
        apps = None if self.app_id is None else frozenset({self.app_id})
        return Actor(Role.of_key(self.scope), apps, key_id=self.id, request_id=request_id)


@dataclasses.dataclass(frozen=True, slots=True)
class NewKey:
    """What the caller asked for, plus the hash and prefix ``auth`` derived from the secret."""

    name: str
    scope: KeyScope
    app_id: str | None
    key_hash: str
    prefix: str


def require_manager(actor: Actor, action: str = "managing API keys") -> None:
    """Minting and revoking keys: for admins."""
    actor.require_admin(action)


def visible(actor: Actor, app_id: str | None) -> QuerySet[ApiKey]:
    """Keys an admin may list, optionally those of one app."""
    actor.require_reader("listing API keys")
    keys = ApiKey.all() if actor.apps is None else ApiKey.filter(app_id__in=actor.apps)
    if app_id is None:
        return keys
    return keys.filter(app_id=ids.require(app_id, "app", ("appId",)))


async def get_visible(actor: Actor, key_id: str, field: tuple[str, ...] = ("id",)) -> ApiKey:
    actor.require_reader("reading an API key")
    key = await ApiKey.get_or_none(id=ids.require(key_id, "key", field))
    if key is None or not _manages(actor, key.app_id):
        raise NotFound(f"API key {key_id} not found", field)
    return key


async def create(actor: Actor, new: NewKey) -> ApiKey:
    require_manager(actor, "creating an API key")
    reject_nul(new.name, ("input", "name"))
    name = new.name.strip()
    if not name or len(name) > NAME_MAX:
        raise InvalidInput(f"name must be 1 to {NAME_MAX} characters, not blank", ("input", "name"))
    app_slug = "all apps"
    if new.app_id is not None:
        app = await apps.get_visible(actor, new.app_id, ("input", "appId"))
        app_slug = f"app {app.slug}"
    elif not actor.is_global:
        raise InvalidInput(
            f"this {actor.kind} is limited to chosen apps, so it can only create keys for "
            "one of them: set input.appId",
            ("input", "appId"),
        )
    async with in_transaction():
        key = await ApiKey.create(
            id=new_id("key"),
            app_id=new.app_id,
            name=name,
            key_hash=new.key_hash,
            prefix=new.prefix,
            scope=new.scope,
        )
        await audit_event.record(
            actor,
            "api_key.create",
            key.id,
            new.app_id,
            f"created {new.scope.value} key {name!r} ({key.prefix}…) for {app_slug}",
        )
        await _announce(Event.API_KEY_CREATED, actor, key)
    return key


async def revoke(actor: Actor, key_id: str) -> ApiKey:
    """Refuse the key from now on; revoking a revoked key changes nothing."""
    require_manager(actor, "revoking an API key")
    key = await get_visible(actor, key_id)
    if key.revoked_at is not None:
        return key
    async with in_transaction():
        key.revoked_at = datetime.now(UTC)
        await key.save(update_fields=["revoked_at"])
        await audit_event.record(
            actor, "api_key.revoke", key.id, key.app_id, f"revoked key {key.name!r} ({key.prefix}…)"
        )
        await _announce(Event.API_KEY_REVOKED, actor, key)
    return key


async def _announce(event: Event, actor: Actor, key: ApiKey) -> None:
    """Tell the listeners which key (never its secret) and who changed it."""
    about = {"id": key.id, "name": key.name, "prefix": key.prefix, "scope": key.scope.value}
    actor_data = await notifications.describe_actor(actor)
    data = {"api_key": about, "app_id": key.app_id, "actor": actor_data}
    await notifications.emit(event, key.app_id, data)


def _manages(actor: Actor, app_id: str | None) -> bool:
    # An actor limited to chosen apps manages their keys only, never the global ones.
    return actor.is_global or (app_id is not None and actor.sees(app_id))
