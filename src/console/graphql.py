"""GraphiQL opened from the console: GraphQL as the signed-in person, no key pasted.

The page is Strawberry's GraphiQL, which reads a ``csrftoken`` cookie and sends it back
as an ``x-csrftoken`` header. The console sets that cookie to the session's CSRF token, on
this path only, and every request must carry the header and come from this site: a page
elsewhere can make the browser send the session cookie, never the header.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.schema import BaseSchema

from ferryman.auth import AuthenticationError
from ferryman.console import paths
from ferryman.console.pages import Pages
from ferryman.console.sessions import CrossSite
from ferryman.graphiql import FOR_CONSOLE
from ferryman.models.actor import Actor
from ferryman.resolvers.context import GraphQLView
from ferryman.settings import Settings

TOKEN_COOKIE = "csrftoken"
TOKEN_HEADER = "x-csrftoken"


class ConsoleGraphQLView(GraphQLView):
    """The GraphQL API for the signed-in person's session, with GraphiQL in front."""

    def __init__(self, schema: BaseSchema, settings: Settings, pages: Pages) -> None:
        assets = settings.graphiql_assets if settings.graphiql_enabled else None
        super().__init__(schema, graphiql_assets=assets, greeting=FOR_CONSOLE)
        self.pages = pages
        self.sessions = pages.sessions

    async def authenticate(self, request: Request | WebSocket) -> Actor:
        visitor = await self.sessions.visitor(request) if isinstance(request, Request) else None
        if visitor is None or not isinstance(request, Request):
            raise AuthenticationError(
                f"sign in at {paths.SIGN_IN} first; scripts use an API key at /graphql"
            )
        try:
            self.sessions.require_csrf(request, visitor, request.headers.get(TOKEN_HEADER))
        except CrossSite as error:
            raise AuthenticationError(f"{error} (the {TOKEN_HEADER} header)") from None
        return visitor.actor

    async def render_graphql_ide(self, request: Request) -> Response:
        visitor = await self.sessions.visitor(request)
        if visitor is None:
            return self.pages.to_sign_in(request)
        response = await super().render_graphql_ide(request)
        response.set_cookie(
            TOKEN_COOKIE,
            visitor.session.csrf_token,
            path=paths.GRAPHQL,
            secure=self.sessions.secure(request),
            httponly=False,  # the page's script reads it
            samesite="strict",
        )
        return response
