"""Owners managing people in the console, and what each role then sees and may do."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Browser, Dialog, Page, expect

from ferryman.models import App, Session, User
from ferryman.models import app as apps
from ferryman.models.actor import Actor, Role
from ferryman.settings import Settings
from tests.console.conftest import (
    DESKTOP,
    PASSWORD,
    PHONE,
    Person,
    add_person,
    axe_violations,
    sign_in,
)

XSS = '<img src=x onerror="window.pwned=1">'


async def make_app(slug: str, name: str | None = None) -> App:
    return await apps.create(Actor.console(), apps.AppChanges(slug=slug, name=name or slug))


async def test_an_owner_adds_a_limited_admin_who_signs_in_through_the_link(
    page: Page, browser: Browser, console: str, owner: Person, settings: Settings
) -> None:
    await make_app("alpha", "Alpha")
    await make_app("beta", XSS)
    await sign_in(page, owner)
    await page.get_by_role("link", name="People").click()
    assert await axe_violations(page) == []
    await page.get_by_role("link", name="Add a person").click()
    assert await axe_violations(page) == []
    await page.get_by_label("Email").fill("Dana@Example.com")
    await page.get_by_label("admin").check()
    await page.get_by_label("Only these:").check()
    await page.get_by_label("Alpha alpha").check()
    await page.get_by_role("button", name="Add and show their sign-in link").click()
    await expect(page.get_by_role("heading", name="Added dana@example.com")).to_be_visible()
    assert await axe_violations(page) == []
    link = (await page.locator("#sign-in-link").text_content() or "").strip()
    # On FERRYMAN_PUBLIC_URL (this server's is another port, so the path is opened here).
    assert link.startswith(f"{settings.base_url}/console/welcome/sl_")
    link = console + urlsplit(link).path
    assert await page.evaluate("window.pwned") is None  # the app's name was shown as text

    theirs = await browser.new_context(base_url=console, viewport=PHONE)
    try:
        dana = await theirs.new_page()
        await dana.goto(link)
        await dana.get_by_label("New password").fill(PASSWORD)
        await dana.get_by_label("The same password again").fill(PASSWORD)
        await dana.get_by_role("button", name="Save and sign in").click()
        await dana.wait_for_url("**/console/apps")
        rows = dana.get_by_role("row")
        await expect(rows).to_have_count(2)  # the header, and Alpha only
        await expect(rows.nth(1)).to_contain_text("Alpha")
        await expect(dana.get_by_role("link", name="People")).to_have_count(0)
        await expect(dana.get_by_role("link", name="New app")).to_have_count(0)
        assert await dana.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert await axe_violations(dana) == []
        await dana.goto("/console/people")
        await expect(dana.get_by_role("heading", name="Not allowed")).to_be_visible()
        await expect(dana.get_by_text("needs an owner")).to_be_visible()
        await dana.goto("/console/apps/beta")  # another app: as if it did not exist
        await expect(dana.get_by_role("heading", name="Not found")).to_be_visible()
    finally:
        await theirs.close()


async def test_a_viewer_is_shown_no_changes_and_refused_every_change(
    page: Page, owner: Person
) -> None:
    await make_app("alpha", "Alpha")
    viewer = await add_person("viewer@example.com", Role.VIEWER)
    await sign_in(page, viewer)
    await expect(page.get_by_role("link", name="New app")).to_have_count(0)
    await page.goto("/console/apps/new")
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    origin = page.url.split("/console")[0]
    posts = {
        "/console/apps": {"slug": "made-by-viewer", "name": "No"},
        f"/console/people/{owner.user.id}": {"role": "viewer", "scope": "all"},
        f"/console/people/{owner.user.id}/reset": {},
        f"/console/people/{owner.user.id}/delete": {},
    }
    for path, form in posts.items():
        response = await page.request.post(
            path, form={**form, "csrf": csrf or ""}, headers={"Origin": origin}
        )
        assert response.status == 403, path
    assert not await App.filter(slug="made-by-viewer").exists()
    assert (await User.get(id=owner.user.id)).role is Role.OWNER


async def test_a_changed_role_applies_on_the_next_request(
    browser: Browser, console: str, page: Page, owner: Person
) -> None:
    admin = await add_person("admin@example.com", Role.ADMIN)
    theirs = await browser.new_context(base_url=console, viewport=DESKTOP)
    try:
        their_page = await theirs.new_page()
        await sign_in(their_page, admin)
        await expect(their_page.get_by_role("link", name="New app")).to_be_visible()

        await sign_in(page, owner)
        await page.goto(f"/console/people/{admin.user.id}")
        await page.get_by_label("viewer").check()
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("status")).to_have_text("Saved.")

        await their_page.reload()
        await expect(their_page.get_by_role("link", name="New app")).to_have_count(0)
    finally:
        await theirs.close()


async def test_reset_and_remove_end_the_person_sessions(page: Page, owner: Person) -> None:
    other = await add_person("other@example.com", Role.ADMIN)
    await sign_in(page, owner)
    await page.goto(f"/console/people/{other.user.id}")
    assert await axe_violations(page) == []
    asked: list[str] = []

    async def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    await page.get_by_role("button", name="Reset password and show a new link").click()
    await expect(page.get_by_role("heading", name="Reset the password of")).to_be_visible()
    assert (await User.get(id=other.user.id)).password_hash is None

    await page.goto(f"/console/people/{other.user.id}")
    await page.get_by_role("button", name="Remove other@example.com").click()
    await expect(page.get_by_role("status")).to_contain_text("Removed them")
    assert not await User.filter(id=other.user.id).exists()
    assert not await Session.filter(user_id=other.user.id).exists()
    assert len(asked) == 2
    assert "signed out everywhere" in asked[0]


async def test_the_last_owner_cannot_be_demoted(page: Page, owner: Person) -> None:
    await sign_in(page, owner)
    await page.goto(f"/console/people/{owner.user.id}")
    await expect(page.get_by_role("button", name=f"Remove {owner.email}")).to_have_count(0)
    await page.get_by_label("admin").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("alert")).to_contain_text("last owner of every app")
    assert await axe_violations(page) == []
    assert (await User.get(id=owner.user.id)).role is Role.OWNER
