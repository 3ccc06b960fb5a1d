"""The web console: server-rendered pages for people, a third door onto the same rules.

Everything works without JavaScript except uploads (``static/artifacts.js``); the little
there is elsewhere lives in ``static/console.js``. Every response carries a
Content-Security-Policy that allows no inline script and no framing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from starlette.middleware import Middleware
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.schema import BaseSchema

from ferryman.console import paths
from ferryman.console.analytics import AnalyticsPages
from ferryman.console.apps import AppPages
from ferryman.console.artifacts import ArtifactPages
from ferryman.console.audit import AuditPages
from ferryman.console.entrance import Entrance
from ferryman.console.graphql import ConsoleGraphQLView
from ferryman.console.keys import KeyPages
from ferryman.console.licences import LicencePages
from ferryman.console.notifications import NotificationPages
from ferryman.console.pages import Pages
from ferryman.console.people import PeoplePages
from ferryman.console.release_editor import ReleaseEditorPages
from ferryman.console.releases import ReleasePages
from ferryman.console.sessions import Sessions
from ferryman.console.why import WhyPages
from ferryman.models.session import Lifetime
from ferryman.settings import Settings

STATIC = Path(__file__).parent / "static"
HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def policy(settings: Settings) -> str:
    """The Content-Security-Policy: nothing inline, and no connection but to this server
    and to the object store that presigned upload URLs point at (uploads go there straight
    from the browser)."""
    connect = ["'self'"]
    if settings.s3_endpoint:
        parts = urlsplit(settings.s3_endpoint)
        connect.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {' '.join(connect)}",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        )
    )


def mount(settings: Settings, schema: BaseSchema) -> Mount:
    """The console's routes under ``/console``."""
    lifetime = Lifetime(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_max_hours),
    )
    sessions = Sessions(lifetime, production=settings.production, base_url=settings.base_url)
    pages = Pages(sessions, settings.base_url, graphiql=settings.graphiql_enabled)
    graphql = ConsoleGraphQLView(schema, settings, pages)
    routes: list[BaseRoute] = [
        Route("/", lambda request: RedirectResponse(paths.HOME, 303), methods=["GET"]),
        *Entrance(pages).routes(),
        *AppPages(pages).routes(),
        *AnalyticsPages(pages).routes(),
        *ArtifactPages(pages).routes(),
        *PeoplePages(pages).routes(),
        Route("/graphql", graphql.limited(settings), methods=["GET", "POST"]),
        *KeyPages(pages).routes(),
        *LicencePages(pages).routes(),
        *WhyPages(pages).routes(),
        *AuditPages(pages).routes(),
        *ReleasePages(pages).routes(),
        *ReleaseEditorPages(pages).routes(),
        *NotificationPages(pages).routes(),
        Mount("/static", StaticFiles(directory=STATIC)),
        Route("/{path:path}", pages.missing, methods=["GET", "HEAD", "POST"]),
    ]
    headers = [(b"content-security-policy", policy(settings).encode()), *HEADERS]
    return Mount(paths.MOUNT, routes=routes, middleware=[Middleware(SecurityHeaders, headers)])


class SecurityHeaders:
    """Adds the console's security headers where a response has not set its own (GraphiQL
    has a policy of its own); pages (not static files) are never cached."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        static = scope["path"].startswith(paths.STATIC + "/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in self.headers if name not in present]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
