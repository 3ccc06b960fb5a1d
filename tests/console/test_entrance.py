"""Signing in and out of the console in a real browser: the one-time link, the cookie's
flags, fixation, expiry, sign-out everywhere, the failure budget, and CSRF."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from ferryman import auth
from ferryman.console.paths import welcome_path
from ferryman.models import App, Session
from ferryman.models import user as people
from ferryman.models.actor import Actor, Role
from ferryman.settings import Settings
from tests.conftest import peer, serving
from tests.console.conftest import (
    DESKTOP,
    PASSWORD,
    Person,
    add_person,
    axe_violations,
    invitation,
    sign_in,
)


async def test_a_new_owner_chooses_a_password_through_the_link_and_is_signed_in(
    page: Page, owner: Person
) -> None:
    link = auth.mint(auth.LINK_PREFIX)
    access = people.Access(Role.ADMIN, None)
    await people.create(Actor.console(), "new@example.com", access, invitation(link.key_hash))

    await page.goto(welcome_path(link.secret))
    await expect(page.get_by_text("new@example.com")).to_be_visible()
    assert await axe_violations(page) == []
    await page.get_by_label("New password").fill("short")
    await page.get_by_label("The same password again").fill("short")
    await page.get_by_role("button", name="Save and sign in").click()
    await expect(page.get_by_text("at least 12 characters").last).to_be_visible()
    assert await axe_violations(page) == []

    await page.get_by_label("New password").fill(PASSWORD)
    await page.get_by_label("The same password again").fill(PASSWORD)
    await page.get_by_role("button", name="Save and sign in").click()
    await page.wait_for_url("**/console/apps")
    await expect(page.get_by_role("heading", name="Apps")).to_be_visible()

    (cookie,) = await page.context.cookies()
    assert cookie["name"] == "__Host-ferryman"
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Lax")
    assert cookie["path"] == "/"
    assert auth.SESSION_PATTERN.fullmatch(cookie["value"])
    stored = await Session.get(token_hash=auth.hash_key(cookie["value"]))
    assert stored.user_id == (await people.by_email("new@example.com")).id  # type: ignore[union-attr]

    # The link worked once.
    await page.goto(welcome_path(link.secret))
    await expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()


async def test_sign_in_with_the_keyboard_alone(page: Page, owner: Person) -> None:
    await page.goto("/console/")
    assert await axe_violations(page) == []
    await page.keyboard.type(owner.email)  # the email field has focus on arrival
    await page.keyboard.press("Tab")
    await page.keyboard.type(owner.password)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/console/apps")
    assert await axe_violations(page) == []


async def test_a_wrong_password_is_refused_and_counted_against_the_address(
    page: Page, owner: Person, console: str
) -> None:
    await page.goto("/console/sign-in")
    await page.get_by_label("Email").fill(owner.email)
    await page.get_by_label("Password").fill("not the password at all")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    assert await page.context.cookies() == []
    assert await axe_violations(page) == []
    # An unknown address is answered the same way.
    await page.get_by_label("Email").fill("nobody@example.com")
    await page.get_by_label("Password").fill("not the password at all")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("do not match an account")


async def test_sign_in_failures_use_up_the_address_budget(
    settings: Settings, owner: Person
) -> None:
    statuses = []
    async with serving(settings, rate_limit_auth_failures=3) as app, peer(app) as client:
        for password in ("wrong one", "wrong two", "wrong three", owner.password):
            response = await client.post(
                "/console/sign-in", data={"email": owner.email, "password": password}
            )
            statuses.append(response.status_code)
    # The right password too, once the address has used up its budget of failures.
    assert statuses == [401, 401, 401, 429]


async def test_a_session_id_planted_before_sign_in_is_never_used(
    page: Page, owner: Person, console: str
) -> None:
    planted = auth.mint(auth.SESSION_PREFIX).secret
    await page.context.add_cookies(
        [
            {
                "name": "__Host-ferryman",
                "value": planted,
                "domain": "127.0.0.1",
                "path": "/",
                "secure": True,
            }
        ]
    )
    await sign_in(page, owner)
    (cookie,) = await page.context.cookies()
    assert cookie["value"] != planted
    assert not await Session.filter(token_hash=auth.hash_key(planted)).exists()


async def test_signing_in_again_replaces_the_session(page: Page, owner: Person) -> None:
    await sign_in(page, owner)
    (first,) = await page.context.cookies()
    await page.goto("/console/sign-in?next=/console/apps")
    # Already signed in: the page moves on; a fresh sign-in through the form ends the old one.
    await page.wait_for_url("**/console/apps")
    response = await page.request.post(
        "/console/sign-in",
        form={"email": owner.email, "password": owner.password},
        headers={"Origin": page.url.split("/console")[0]},
    )
    assert response.ok
    (second,) = await page.context.cookies()
    assert second["value"] != first["value"]
    assert not await Session.filter(token_hash=auth.hash_key(first["value"])).exists()


async def test_sign_out_ends_the_session_for_good(page: Page, owner: Person, console: str) -> None:
    await sign_in(page, owner)
    (cookie,) = await page.context.cookies()
    await page.get_by_text(owner.email).click()
    await page.get_by_role("button", name="Sign out", exact=True).click()
    await page.wait_for_url("**/console/sign-in?notice=signed-out")
    await expect(page.get_by_role("status")).to_have_text("You have signed out.")
    assert await page.context.cookies() == []
    # The old cookie, replayed, opens nothing.
    replayed = {cookie["name"]: cookie["value"]}
    async with httpx.AsyncClient(base_url=console, cookies=replayed) as client:
        response = await client.get("/console/apps")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/sign-in")


async def test_sign_out_everywhere_ends_every_session_of_that_person(
    browser: Browser, console: str, owner: Person
) -> None:
    laptop = await browser.new_context(base_url=console, viewport=DESKTOP)
    phone = await browser.new_context(base_url=console, viewport={"width": 390, "height": 844})
    other = await add_person("colleague@example.com", Role.ADMIN)
    colleague = await browser.new_context(base_url=console, viewport=DESKTOP)
    try:
        on_laptop, on_phone, theirs = (
            await laptop.new_page(),
            await phone.new_page(),
            await colleague.new_page(),
        )
        await sign_in(on_laptop, owner)
        await sign_in(on_phone, owner)
        await sign_in(theirs, other)
        await on_phone.get_by_text(owner.email).click()
        await on_phone.get_by_role("button", name="Sign out everywhere").click()
        await expect(on_phone.get_by_role("status")).to_contain_text("every device")

        await on_laptop.reload()
        await on_laptop.wait_for_url("**/console/sign-in?next=*")
        await theirs.reload()
        await expect(theirs.get_by_role("heading", name="Apps")).to_be_visible()
        assert await Session.filter(user_id=owner.user.id).count() == 0
    finally:
        for context in (laptop, phone, colleague):
            await context.close()


@pytest.mark.parametrize("limit", ["idle", "absolute"])
async def test_an_expired_session_sends_the_person_to_sign_in(
    page: Page, owner: Person, limit: str
) -> None:
    await sign_in(page, owner)
    now = datetime.now(UTC)
    if limit == "idle":  # unused for longer than FERRYMAN_SESSION_IDLE_MINUTES (120)
        await Session.filter(user_id=owner.user.id).update(last_seen_at=now - timedelta(hours=2))
    else:  # FERRYMAN_SESSION_MAX_HOURS after sign-in, however busy
        await Session.filter(user_id=owner.user.id).update(expires_at=now - timedelta(seconds=1))
    await page.goto("/console/apps")
    await page.wait_for_url("**/console/sign-in?next=%2Fconsole%2Fapps")
    assert await Session.filter(user_id=owner.user.id).count() == 0


async def test_next_never_leads_off_the_console(page: Page, owner: Person) -> None:
    await page.goto("/console/sign-in?next=https://evil.example/")
    await page.get_by_label("Email").fill(owner.email)
    await page.get_by_label("Password").fill(owner.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/console/apps")


async def test_a_form_posted_from_another_site_is_refused(
    page: Page, owner: Person, console: str, attacker: str
) -> None:
    await sign_in(page, owner)
    # The attacker's page, on another origin of the same site (the cookie goes along).
    await page.goto(attacker)
    await page.wait_for_load_state("networkidle")
    await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert not await App.filter(slug="pwned").exists()


async def test_a_change_without_the_csrf_token_is_refused(
    page: Page, owner: Person, console: str
) -> None:
    await sign_in(page, owner)
    response = await page.request.post(
        "/console/apps",
        form={"slug": "pwned", "name": "Pwned"},
        headers={"Origin": console},
    )
    assert response.status == 403
    assert "security token" in await response.text()
    assert not await App.filter(slug="pwned").exists()


@pytest.fixture
async def attacker(console: str) -> AsyncIterator[str]:
    """A page on another port that posts a form to the console as soon as it loads."""
    html = (
        "<!doctype html><title>Win a prize</title>"
        f'<form id="f" method="post" action="{console}/console/apps">'
        '<input name="slug" value="pwned"><input name="name" value="Pwned"></form>'
        '<script>document.getElementById("f").submit()</script>'
    ).encode()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
            + f"Content-Length: {len(html)}\r\n\r\n".encode()
            + html
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.close()
        await server.wait_closed()
