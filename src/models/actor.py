"""Who is acting: the identity every domain operation checks and audits.

Built by ``auth`` from an API key, by the web console from a person's session, or by the
CLI for the operator at the server. Keys and people share one permission model, a
:class:`Role` and the apps it covers, so one rule decides what any of them may do.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable

from ferryman.models.errors import Forbidden, NotFound


class KeyScope(enum.Enum):
    ADMIN = "admin"
    CI = "ci"


class Role(enum.Enum):
    """What an actor may do, most to least: OWNER also manages people; ADMIN everything
    else; CI edits drafts and uploads (and publishes where the app allows it); VIEWER
    reads what an admin reads and changes nothing."""

    OWNER = "owner"
    ADMIN = "admin"
    CI = "ci"
    VIEWER = "viewer"

    @classmethod
    def of_key(cls, scope: KeyScope) -> Role:
        return cls(scope.value)


# The roles a person may hold (CI is for keys).
PERSON_ROLES = (Role.OWNER, Role.ADMIN, Role.VIEWER)
_ADMINS = frozenset({Role.OWNER, Role.ADMIN})
_READERS = frozenset({Role.OWNER, Role.ADMIN, Role.VIEWER})


@dataclasses.dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated caller: its role, the apps it is limited to (None: every app),
    and the key or person behind it (both None for the operator's CLI)."""

    role: Role
    apps: frozenset[str] | None
    key_id: str | None = None
    user_id: str | None = None
    request_id: str | None = None

    @classmethod
    def console(cls) -> Actor:
        """The operator running ``ferryman`` commands on the server itself."""
        return cls(Role.OWNER, None, request_id="console")

    @classmethod
    def system(cls, job: str) -> Actor:
        """The server's own scheduled work (a rollout schedule's steps): an admin of every
        app, named by ``job`` as the request id of what it audits."""
        return cls(Role.ADMIN, None, request_id=job)

    @property
    def name(self) -> str:
        """Who this is, as a record of who did something keeps it: the person's or key's
        id, or the job's name."""
        return self.user_id or self.key_id or self.request_id or "server"

    @property
    def is_global(self) -> bool:
        return self.apps is None

    @property
    def is_admin(self) -> bool:
        return self.role in _ADMINS

    @property
    def kind(self) -> str:
        """How the caller is named in refusals: a key or a person."""
        return "person" if self.user_id is not None else "key"

    def sees(self, app_id: str) -> bool:
        """Whether this caller may know that the app exists at all."""
        return self.apps is None or app_id in self.apps

    def require_visible(self, app_id: str, what: str, field: tuple[str, ...]) -> None:
        """Report another app's objects as missing, never as forbidden (no existence leak)."""
        if not self.sees(app_id):
            raise NotFound(f"{what} not found", field)

    def require_reader(self, action: str) -> None:
        """Reading what admins read (keys, licences, the audit trail): not for CI keys."""
        if self.role not in _READERS:
            raise Forbidden(f"{action} needs an admin key or a signed-in person; CI keys may not")

    def require_writer(self, action: str) -> None:
        """Any change at all: viewers make none."""
        if self.role is Role.VIEWER:
            raise Forbidden(f"{action} is a change, and viewers change nothing")

    def require_admin(self, action: str) -> None:
        self.require_writer(action)
        if not self.is_admin:
            raise Forbidden(f"{action} needs an admin key; CI keys may only edit drafts")

    def require_global_admin(self, action: str) -> None:
        self.require_admin(action)
        if not self.is_global:
            raise Forbidden(
                f"{action} needs a global admin {self.kind}; this one is limited to chosen apps"
            )

    def require_owner(self, action: str) -> None:
        self.require_writer(action)
        if self.role is not Role.OWNER:
            raise Forbidden(f"{action} needs an owner")


def permits(check: Callable[[Actor], None], actor: Actor) -> bool:
    """Whether ``check`` (a domain operation's own permission check) lets ``actor`` act:
    how a door decides what to offer without a rule of its own."""
    try:
        check(actor)
    except Forbidden:
        return False
    return True
