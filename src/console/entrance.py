"""Signing in and out, and the one-time links where people choose their password.

A failed sign-in marks the request as a failed authentication, which the rate limits
count against the address, as they do for a wrong API key.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ferryman import auth, passwords
from ferryman.console import paths
from ferryman.console.pages import Pages, form_of, text
from ferryman.console.sessions import CrossSite, Visitor
from ferryman.models import session as sessions
from ferryman.models import user as people
from ferryman.models.errors import DomainError
from ferryman.models.user import User

NOTICES = {
    "signed-out": "You have signed out.",
    "signed-out-everywhere": "You have signed out on every device.",
}


class Entrance:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.sessions = pages.sessions

    def routes(self) -> list[BaseRoute]:
        signed_in = self.pages.signed_in
        return [
            Route("/sign-in", self.sign_in_page, methods=["GET"]),
            Route("/sign-in", self.sign_in, methods=["POST"]),
            Route("/sign-out", signed_in(self.sign_out), methods=["POST"]),
            Route("/sign-out-everywhere", signed_in(self.sign_out_everywhere), methods=["POST"]),
            Route("/welcome/{secret}", self.welcome_page, methods=["GET"]),
            Route("/welcome/{secret}", self.welcome, methods=["POST"]),
        ]

    async def sign_in_page(self, request: Request) -> Response:
        visitor = await self.sessions.visitor(request)
        if visitor is not None:
            return RedirectResponse(self._next(request.query_params.get("next")), 303)
        notice = NOTICES.get(request.query_params.get("notice", ""))
        return self._sign_in_form(request, notice=notice)

    async def sign_in(self, request: Request) -> Response:
        try:
            self.sessions.require_same_site(request)
        except CrossSite as error:
            return self._sign_in_form(request, status=403, error=str(error))
        form = await form_of(request)
        email, password = text(form, "email"), text(form, "password")
        user = await people.by_email(email) if email else None
        known = user.password_hash if user is not None else None
        if len(password) > passwords.MAX_LENGTH or not await passwords.matches(known, password):
            request.state.authentication_failed = True
            return self._sign_in_form(
                request,
                status=401,
                email=email,
                error="That email address and password do not match an account. "
                "Forgotten your password? Ask an owner to reset it.",
            )
        assert user is not None
        response = RedirectResponse(self._next(text(form, "next")), 303)
        await self.sessions.begin(request, response, user)
        return response

    async def sign_out(self, request: Request, visitor: Visitor) -> Response:
        await sessions.end(visitor.session.id)
        return self._signed_out(request, "signed-out")

    async def sign_out_everywhere(self, request: Request, visitor: Visitor) -> Response:
        await sessions.end_all(visitor.user.id)
        return self._signed_out(request, "signed-out-everywhere")

    async def welcome_page(self, request: Request) -> Response:
        user = await self._invited(request)
        if user is None:
            return self._expired(request)
        return self.pages.render(request, "welcome.html", None, {"email": user.email})

    async def welcome(self, request: Request) -> Response:
        try:
            self.sessions.require_same_site(request)
        except CrossSite as error:
            return self.pages.render(
                request, "welcome.html", None, {"email": "", "errors": {"": str(error)}}, 403
            )
        user = await self._invited(request)
        if user is None:
            return self._expired(request)
        form = await form_of(request)
        password = text(form, "password")
        try:
            passwords.check(password, user.email)
            if password != text(form, "confirm"):
                raise passwords.WeakPassword("the two passwords differ: type the same one twice")
        except passwords.WeakPassword as error:
            errors = {"password": str(error)}
            return self.pages.render(
                request, "welcome.html", None, {"email": user.email, "errors": errors}, 400
            )
        secret = request.path_params["secret"]
        try:
            user = await people.redeem(
                auth.hash_key(secret), await passwords.hashed(password), datetime.now(UTC)
            )
        except DomainError:
            return self._expired(request)
        response = RedirectResponse(paths.HOME, 303)
        await self.sessions.begin(request, response, user)
        return response

    async def _invited(self, request: Request) -> User | None:
        secret = request.path_params["secret"]
        if not auth.LINK_PATTERN.fullmatch(secret):
            return None
        user = await User.get_or_none(link_hash=auth.hash_key(secret))
        now = datetime.now(UTC)
        if user is None or user.link_expires_at is None or user.link_expires_at <= now:
            return None
        return user

    def _expired(self, request: Request) -> Response:
        return self.pages.render(request, "link_expired.html", None, status=410)

    def _sign_in_form(
        self,
        request: Request,
        *,
        status: int = 200,
        email: str = "",
        error: str | None = None,
        notice: str | None = None,
    ) -> Response:
        context = {
            "email": email,
            "next": self._next(request.query_params.get("next")),
            "errors": {"": error} if error else {},
            "notice": notice,
        }
        return self.pages.render(request, "sign_in.html", None, context, status)

    def _signed_out(self, request: Request, notice: str) -> Response:
        response = RedirectResponse(f"{paths.SIGN_IN}?notice={notice}", 303)
        self.sessions.forget(request, response)
        return response

    @staticmethod
    def _next(target: str | None) -> str:
        return target if target and paths.is_local(target) else paths.HOME
