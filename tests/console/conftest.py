"""The console in a real browser: the app served by uvicorn on a free port, Debian's
Chromium driven by Playwright (never a downloaded browser), and axe-core for the
accessibility scan of every page.

People are added to the database directly (as ``ferryman users create`` would, with a
password already chosen) and sign in through the page, as they do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from starlette.applications import Starlette

from ferryman import auth, passwords
from ferryman.cli.server import uvicorn_options
from ferryman.models import user as people
from ferryman.models.actor import Actor, Role
from ferryman.models.user import User
from ferryman.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "var" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "a long enough passphrase"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@dataclasses.dataclass(frozen=True)
class Person:
    email: str
    password: str
    user: User


@pytest.fixture
async def console(app: Starlette, settings: Settings) -> AsyncIterator[str]:
    """The app on a real socket, served as ``ferryman serve`` serves it: its base URL."""
    options = {**uvicorn_options(settings), "host": "127.0.0.1", "port": 0, "lifespan": "off"}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), task.exception()
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Debian's chromium is not installed: run scripts/test as root, or apt-get install "
            "chromium (Playwright's own browser download is never used)"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser, console: str) -> AsyncIterator[Page]:
    """A fresh browser profile (no cookies) at desktop width, opening ``console``."""
    context = await browser.new_context(base_url=console, viewport=DESKTOP)
    opened = await context.new_page()
    yield opened
    await context.close()


async def add_person(
    email: str, role: Role = Role.OWNER, app_ids: frozenset[str] | None = None
) -> Person:
    """Someone added by an owner who has already chosen their password through the
    sign-in link (needs the app's lifespan)."""
    link = auth.mint(auth.LINK_PREFIX)
    access = people.Access(role, app_ids)
    await people.create(Actor.console(), email, access, invitation(link.key_hash))
    user = await people.redeem(link.key_hash, await passwords.hashed(PASSWORD), datetime.now(UTC))
    return Person(email, PASSWORD, user)


def invitation(link_hash: str) -> people.Link:
    return people.Link(link_hash, people.link_expiry())


@pytest.fixture
async def owner(app: Starlette) -> Person:
    return await add_person("owner@example.com")


async def sign_in(page: Page, person: Person, path: str = "/console/") -> None:
    await page.goto(path)
    await page.get_by_label("Email").fill(person.email)
    await page.get_by_label("Password").fill(person.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/console/apps**")


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now (WCAG 2.1 A/AA
    and best practices). axe is evaluated by the browser's debugger, which the page's
    Content-Security-Policy does not govern."""
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed at {AXE}: run scripts/test")
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text())
    result: dict[str, Any] = await page.evaluate(
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', "
        "'best-practice']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
