"""People who sign in to the web console, their roles, and who may manage them.

A person holds a :class:`~ferryman.models.actor.Role` (owner, admin or viewer) for every
app or for chosen apps, exactly as an API key holds its scope: :meth:`User.as_actor`
turns them into the same Actor, so one set of rules decides what keys and people may do.

Passwords are never seen here: the console and the CLI check and hash them
(``ferryman.passwords``) and hand over the hash. A new person, or one whose password was
reset, gets a one-time sign-in link instead; only its hash is kept, as for keys.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from ferryman.models import audit_event, ids
from ferryman.models.actor import PERSON_ROLES, Actor, Role
from ferryman.models.app import App
from ferryman.models.errors import InvalidInput, InvalidState, NotFound, Taken
from ferryman.models.ids import MAX_LENGTH, new_id
from ferryman.models.session import Session
from ferryman.models.text import reject_nul

EMAIL_MAX = 254
# Enough to catch a typo or a pasted name; deliverability is for the mail server to say.
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LINK_LIFETIME = timedelta(hours=24)


class User(Model):
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    email = fields.CharField(max_length=EMAIL_MAX, unique=True)
    # None until the person chooses one through a sign-in link.
    password_hash = fields.CharField(max_length=200, null=True)
    role = fields.CharEnumField(Role, max_length=8)
    all_apps = fields.BooleanField(default=True)
    link_hash = fields.CharField(max_length=64, null=True, unique=True)
    link_expires_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    grants: fields.ReverseRelation[Grant]

    class Meta:
        table = "users"

    async def app_ids(self) -> frozenset[str] | None:
        """The apps this person is limited to; None for every app."""
        if self.all_apps:
            return None
        rows = await Grant.filter(user_id=self.id).values_list("app_id", flat=True)
        return frozenset(str(app_id) for app_id in rows)

    async def as_actor(self, request_id: str | None) -> Actor:
        return Actor(self.role, await self.app_ids(), user_id=self.id, request_id=request_id)


class Grant(Model):
    """One app a person limited to chosen apps may act on (goes with the app)."""

    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="grants", on_delete=fields.CASCADE
    )
    app: fields.ForeignKeyRelation[App] = fields.ForeignKeyField(
        "models.App", related_name="grants", on_delete=fields.CASCADE
    )

    user_id: str
    app_id: str

    class Meta:
        table = "user_apps"
        unique_together = (("user_id", "app_id"),)


@dataclasses.dataclass(frozen=True, slots=True)
class Access:
    """A role, for every app (``app_ids`` None) or for the apps listed."""

    role: Role
    app_ids: frozenset[str] | None


@dataclasses.dataclass(frozen=True, slots=True)
class Link:
    """A one-time sign-in link as stored: its hash, and when it stops working."""

    link_hash: str
    expires_at: datetime


def require_manager(actor: Actor) -> None:
    actor.require_owner("managing people")


def visible(actor: Actor) -> QuerySet[User]:
    """The people an owner manages: everyone, or, for an owner limited to chosen apps,
    the people limited to some of those apps."""
    require_manager(actor)
    if actor.apps is None:
        return User.all()
    outside = Subquery(Grant.exclude(app_id__in=actor.apps).values("user_id"))
    return User.filter(all_apps=False).exclude(id__in=outside)


async def get_visible(actor: Actor, user_id: str, field: tuple[str, ...] = ("id",)) -> User:
    user = await visible(actor).get_or_none(id=ids.require(user_id, "usr", field))
    if user is None:
        raise NotFound(f"person {user_id} not found", field)
    return user


async def create(actor: Actor, email: str, access: Access, link: Link) -> User:
    """Add a person, who signs in first through ``link`` and chooses a password there."""
    address = _validated_email(email)
    await _check_access(actor, access)
    try:
        async with in_transaction():
            user = await User.create(
                id=new_id("usr"),
                email=address,
                role=access.role,
                all_apps=access.app_ids is None,
                link_hash=link.link_hash,
                link_expires_at=link.expires_at,
            )
            await _grant(user, access.app_ids or ())
            await audit_event.record(
                actor, "user.create", user.id, None, f"added {address} as {_described(access)}"
            )
    except IntegrityError:
        raise Taken(f"{address} already has an account", ("email",)) from None
    return user


async def change_access(actor: Actor, user_id: str, access: Access) -> User:
    """Give a person another role or other apps; takes effect on their next request."""
    await _check_access(actor, access)
    async with in_transaction():
        user = await _locked(actor, user_id)
        await _keep_an_owner(user, access)
        user.role = access.role
        user.all_apps = access.app_ids is None
        await user.save(update_fields=["role", "all_apps", "updated_at"])
        await Grant.filter(user_id=user.id).delete()
        await _grant(user, access.app_ids or ())
        await audit_event.record(
            actor, "user.update", user.id, None, f"made {user.email} {_described(access)}"
        )
    return user


async def reset(actor: Actor, user_id: str, link: Link) -> User:
    """Forget the password and sign the person out everywhere; ``link`` lets them choose
    a new one."""
    async with in_transaction():
        user = await _locked(actor, user_id)
        user.password_hash = None
        user.link_hash = link.link_hash
        user.link_expires_at = link.expires_at
        await user.save(update_fields=["password_hash", "link_hash", "link_expires_at"])
        await Session.filter(user_id=user.id).delete()
        await audit_event.record(
            actor, "user.reset", user.id, None, f"reset the password of {user.email}"
        )
    return user


async def delete(actor: Actor, user_id: str) -> str:
    async with in_transaction():
        user = await _locked(actor, user_id)
        if user.id == actor.user_id:
            raise InvalidState("you cannot remove yourself; ask another owner", ("id",))
        await _keep_an_owner(user, None)
        await audit_event.record(actor, "user.delete", user.id, None, f"removed {user.email}")
        await user.delete()
    return user_id


async def redeem(link_hash: str, password_hash: str, now: datetime) -> User:
    """Spend a sign-in link: set the password it was sent for. A link works once."""
    async with in_transaction():
        user = await User.select_for_update().get_or_none(link_hash=link_hash)
        if user is None or user.link_expires_at is None or user.link_expires_at <= now:
            raise InvalidState(
                "this sign-in link has expired or was already used: ask an owner for a new "
                "one (ferryman users reset-password)",
                ("link",),
            )
        user.password_hash = password_hash
        user.link_hash = None
        user.link_expires_at = None
        await user.save(update_fields=["password_hash", "link_hash", "link_expires_at"])
        await audit_event.record_own(user.id, "user.password", f"{user.email} chose a password")
    return user


async def by_email(email: str) -> User | None:
    """The person signing in, when ``email`` is theirs (any case)."""
    return await User.get_or_none(email=email.strip().lower()[:EMAIL_MAX])


async def has_owner() -> bool:
    return await User.filter(role=Role.OWNER, all_apps=True).exists()


def link_expiry(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) + LINK_LIFETIME


async def _check_access(actor: Actor, access: Access) -> None:
    require_manager(actor)
    if access.role not in PERSON_ROLES:
        names = ", ".join(role.value for role in PERSON_ROLES)
        raise InvalidInput(f"a person's role is one of {names}", ("role",))
    if access.app_ids is None:
        if not actor.is_global:
            raise InvalidInput(
                "you are limited to chosen apps, so the people you add are too: choose apps",
                ("apps",),
            )
        return
    if not access.app_ids:
        raise InvalidInput("choose at least one app, or give access to every app", ("apps",))
    rows = await App.filter(id__in=access.app_ids).values_list("id", flat=True)
    found = {str(app_id) for app_id in rows}
    for app_id in sorted(access.app_ids):
        if app_id not in found or not actor.sees(app_id):
            raise NotFound(f"app {app_id} not found", ("apps",))


async def _grant(user: User, app_ids: Iterable[str]) -> None:
    await Grant.bulk_create(
        [Grant(id=new_id("uap"), user_id=user.id, app_id=app_id) for app_id in sorted(app_ids)]
    )


async def _locked(actor: Actor, user_id: str) -> User:
    user = await get_visible(actor, user_id)
    return await User.select_for_update().get(id=user.id)


async def _keep_an_owner(user: User, access: Access | None) -> None:
    # Someone must always be able to manage everyone: the last global owner stays one.
    if user.role is not Role.OWNER or not user.all_apps:
        return
    if access is not None and access.role is Role.OWNER and access.app_ids is None:
        return
    others = User.filter(role=Role.OWNER, all_apps=True).exclude(id=user.id)
    if not await others.exists():
        raise InvalidState(
            f"{user.email} is the last owner of every app; make someone else one first",
            ("id",),
        )


def _validated_email(email: str) -> str:
    reject_nul(email, ("email",))
    address = email.strip().lower()
    if len(address) > EMAIL_MAX or not EMAIL_PATTERN.fullmatch(address):
        raise InvalidInput(
            f"{email[:80]!r} is not an email address (name@example.com, at most "
            f"{EMAIL_MAX} characters)",
            ("email",),
        )
    return address


def _described(access: Access) -> str:
    where = "every app" if access.app_ids is None else f"{len(access.app_ids)} chosen app(s)"
    return f"{access.role.value} of {where}"
