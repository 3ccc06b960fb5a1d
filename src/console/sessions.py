"""The console's sessions on the wire: the cookie, who it belongs to, and CSRF checks.

The cookie holds only a random token (``auth`` mints it; the database keeps its hash).
It is ``HttpOnly`` and ``SameSite=Lax``; on HTTPS, in production, and on loopback (which
browsers treat as secure) it is also ``Secure`` and named with the ``__Host-`` prefix,
which browsers bind to this exact host and path ``/``.

Every state-changing request must carry the session's CSRF token (a form field or the
``X-CSRF-Token`` header) and, when the browser says where it came from (``Origin``,
``Sec-Fetch-Site``), come from this site.
"""

from __future__ import annotations

import dataclasses
import hmac
from datetime import UTC, datetime
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from ferryman import auth
from ferryman.models import session as sessions
from ferryman.models.actor import Actor
from ferryman.models.session import Lifetime, Session
from ferryman.models.user import User

SECURE_COOKIE = "__Host-ferryman"
PLAIN_COOKIE = "ferryman"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class CrossSite(Exception):
    """A state-changing request that did not come from a console page of this site."""


@dataclasses.dataclass(frozen=True, slots=True)
class Visitor:
    """The signed-in person behind a request."""

    user: User
    session: Session
    actor: Actor


class Sessions:
    """Reads and writes the session cookie for ``lifetime``-long sessions."""

    def __init__(self, lifetime: Lifetime, *, production: bool, base_url: str) -> None:
        self.lifetime = lifetime
        self.production = production
        self._origins = {_origin(base_url)}

    def secure(self, request: Request) -> bool:
        return (
            self.production
            or request.url.scheme == "https"
            or (request.url.hostname or "") in _LOOPBACK
        )

    def cookie_name(self, request: Request) -> str:
        return SECURE_COOKIE if self.secure(request) else PLAIN_COOKIE

    async def visitor(self, request: Request) -> Visitor | None:
        """The person whose live session the request's cookie names, or None."""
        token = request.cookies.get(self.cookie_name(request), "")
        if not auth.SESSION_PATTERN.fullmatch(token):
            return None
        now = datetime.now(UTC)
        session = await sessions.find(auth.hash_key(token), self.lifetime, now)
        if session is None:
            return None
        user = await User.get(id=session.user_id)
        actor = await user.as_actor(request.scope.get("state", {}).get("request_id"))
        return Visitor(user, session, actor)

    async def begin(self, request: Request, response: Response, user: User) -> None:
        """Start a new session for ``user`` (never one the browser brought: no fixation),
        ending the one the browser held, if any."""
        old = request.cookies.get(self.cookie_name(request), "")
        if auth.SESSION_PATTERN.fullmatch(old):
            await Session.filter(token_hash=auth.hash_key(old)).delete()
        minted = auth.mint(auth.SESSION_PREFIX)
        await sessions.start(user.id, minted.key_hash, self.lifetime, datetime.now(UTC))
        response.set_cookie(
            self.cookie_name(request),
            minted.secret,
            max_age=int(self.lifetime.absolute.total_seconds()),
            path="/",
            secure=self.secure(request),
            httponly=True,
            samesite="lax",
        )

    def forget(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            self.cookie_name(request),
            path="/",
            secure=self.secure(request),
            httponly=True,
            samesite="lax",
        )

    def require_same_site(self, request: Request) -> None:
        """Refuse a request another site made the browser send."""
        if request.headers.get("sec-fetch-site", "same-origin") not in (
            "same-origin",
            "none",
        ):
            raise CrossSite("this request came from another site")
        origin = request.headers.get("origin")
        if origin is not None and origin not in self._origins | {_origin(str(request.url))}:
            raise CrossSite(f"this request came from {origin[:100]}, not from this console")

    def require_csrf(self, request: Request, visitor: Visitor, sent: str | None) -> None:
        """Refuse a change whose CSRF token is not the session's (or that came from
        another site)."""
        self.require_same_site(request)
        token = sent or request.headers.get(CSRF_HEADER) or ""
        if not hmac.compare_digest(token.encode(), visitor.session.csrf_token.encode()):
            raise CrossSite("the form's security token is missing or stale: reload the page")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
