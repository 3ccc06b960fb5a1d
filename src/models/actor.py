"""Who is acting: the identity every domain operation checks and audits.

Built by ``auth`` from an API key (or by the CLI for the operator at the console);
the rules about what each kind of key may do live here, next to the data they guard.
"""

from __future__ import annotations

import dataclasses
import enum

from ferryman.models.errors import Forbidden, NotFound


class KeyScope(enum.Enum):
    ADMIN = "admin"
    CI = "ci"


@dataclasses.dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated caller: a key id (None for the console), a scope and an app limit."""

    key_id: str | None
    scope: KeyScope
    app_id: str | None
    request_id: str | None = None

    @classmethod
    def console(cls) -> Actor:
        """The operator running ``ferryman`` commands on the server itself."""
        return cls(key_id=None, scope=KeyScope.ADMIN, app_id=None, request_id="console")

    @property
    def is_global(self) -> bool:
        return self.app_id is None

    def sees(self, app_id: str) -> bool:
        """Whether this caller may know that the app exists at all."""
        return self.app_id is None or self.app_id == app_id

    def require_visible(self, app_id: str, what: str, field: tuple[str, ...]) -> None:
        """Report another app's objects as missing, never as forbidden (no existence leak)."""
        if not self.sees(app_id):
            raise NotFound(f"{what} not found", field)

    def require_admin(self, action: str) -> None:
        if self.scope is not KeyScope.ADMIN:
            raise Forbidden(f"{action} needs an admin key; CI keys may only edit drafts")

    def require_global_admin(self, action: str) -> None:
        self.require_admin(action)
        if not self.is_global:
            raise Forbidden(f"{action} needs a global admin key; this key is limited to one app")
