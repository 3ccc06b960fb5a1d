"""API keys in the console: the list a person may see, minting a key whose secret is
shown once (and works against GraphQL), and revoking it, with and without JavaScript."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from ferryman import auth
from ferryman.models import ApiKey
from ferryman.models.actor import KeyScope, Role
from tests.conftest import GraphQL, make_key
from tests.console.conftest import DESKTOP, Person, add_person, axe_violations, sign_in
from tests.support.console import XSS, Dialogs, make_app, post_form, tab_to
from tests.support.documents import VIEWER
from tests.support.refusals import top_error


async def test_a_key_is_shown_once_works_and_stops_working_once_revoked(
    page: Page, owner: Person, gql: GraphQL
) -> None:
    dialogs = Dialogs(page)
    await make_app("alpha", "Alpha")
    await sign_in(page, owner)
    await page.get_by_role("link", name="API keys").click()
    await expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    assert await axe_violations(page) == []

    await page.get_by_label("Name").fill(XSS)
    await page.get_by_label("admin: everything on its apps").check()
    await page.get_by_role("button", name="Create key and show it once").click()
    await expect(page.get_by_role("heading", name=f"Created {XSS}")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("shown only this once")
    await expect(page.get_by_role("button", name="Copy key")).to_be_visible()
    assert await axe_violations(page) == []
    secret = (await page.locator("#new-secret").text_content() or "").strip()
    assert auth.KEY_PATTERN.fullmatch(secret)
    assert "uk_live_" not in page.url
    key = await ApiKey.get(name=XSS)
    assert key.key_hash == auth.hash_key(secret)
    assert secret not in repr(await ApiKey.all().values())  # only its hash is stored

    viewer = await gql(VIEWER, key=secret)
    assert viewer["data"]["viewer"] == {
        "id": key.id,
        "name": XSS,
        "scope": "ADMIN",
        "app": None,
    }

    await page.goto("/console/keys")  # coming back shows the key, never its secret
    row = page.get_by_role("row", name=XSS)
    await expect(row).to_contain_text(key.prefix)
    await expect(row).to_contain_text("every app")
    assert secret not in await page.content()

    await row.get_by_role("button", name=f"Revoke {XSS}").click()
    await expect(page.get_by_role("status")).to_contain_text(f"Revoked {XSS}")
    assert (await ApiKey.get(id=key.id)).revoked_at is not None
    top_error(await gql(VIEWER, key=secret), "UNAUTHENTICATED")
    assert len(dialogs.messages) == 1  # the confirmation; the name never ran as HTML
    assert dialogs.messages[0].startswith(f"Revoke {XSS}?")


async def test_revoking_works_without_javascript(
    browser: Browser, console: str, owner: Person
) -> None:
    secret = await make_key(KeyScope.CI, name="old laptop")
    context = await browser.new_context(
        base_url=console, viewport=DESKTOP, java_script_enabled=False
    )
    try:
        page = await context.new_page()
        await sign_in(page, owner)
        await page.goto("/console/keys")
        await page.get_by_role("button", name="Revoke old laptop").click()
        await expect(page.get_by_role("status")).to_contain_text("Revoked old laptop")
        key = await ApiKey.get(key_hash=auth.hash_key(secret))
        assert key.revoked_at is not None
        row = page.get_by_role("row", name="old laptop")
        await expect(row.get_by_role("button")).to_have_count(0)
    finally:
        await context.close()


async def test_a_key_made_with_the_keyboard_alone(page: Page, owner: Person) -> None:
    alpha = await make_app("alpha", "Alpha")
    await sign_in(page, owner)
    await page.goto("/console/keys")
    await tab_to(page, page.get_by_label("Name"))
    await page.keyboard.type("GitHub Actions")
    await page.keyboard.press("Tab")  # the scope: ci is chosen already
    await tab_to(page, page.locator("#appId"))
    await page.keyboard.press("ArrowDown")  # Every app -> Alpha
    await tab_to(page, page.get_by_role("button", name="Create key and show it once"))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Created GitHub Actions")).to_be_visible()
    key = await ApiKey.get(name="GitHub Actions")
    assert (key.scope, key.app_id) == (KeyScope.CI, alpha.id)


async def test_the_list_is_filtered_by_app_and_limited_to_what_a_person_may_see(
    page: Page, owner: Person
) -> None:
    alpha = await make_app("alpha", "Alpha")
    beta = await make_app("beta", "Beta")
    await make_key(KeyScope.CI, alpha.id, name="alpha ci")
    await make_key(KeyScope.CI, beta.id, name="beta ci")
    await make_key(KeyScope.ADMIN, name="global admin")

    await sign_in(page, owner)
    await page.goto("/console/keys")
    await expect(page.locator("tbody tr")).to_have_count(3)
    await page.get_by_label("App", exact=True).nth(1).select_option(label="Beta (beta)")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(page.locator("tbody tr")).to_contain_text("beta ci")

    limited = await add_person("alpha-admin@example.com", Role.ADMIN, frozenset({alpha.id}))
    await page.context.clear_cookies()
    await sign_in(page, limited)
    await page.goto("/console/keys")
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(page.locator("tbody tr")).to_contain_text("alpha ci")
    # A key for every app is beyond a person limited to one: the rule says so by the field.
    await page.get_by_label("Name").fill("too wide")
    await page.get_by_role("button", name="Create key and show it once").click()
    error = page.locator("#appId-error")
    await expect(error).to_contain_text("limited to chosen apps")
    await expect(page.locator("#appId")).to_have_attribute("aria-invalid", "true")
    assert await axe_violations(page) == []
    assert not await ApiKey.filter(name="too wide").exists()


async def test_bad_input_shows_the_rule_and_creates_nothing(page: Page, owner: Person) -> None:
    await sign_in(page, owner)
    await page.goto("/console/keys")
    await page.get_by_label("Name").fill("   ")
    await page.get_by_role("button", name="Create key and show it once").click()
    await expect(page.locator("#name-error")).to_have_text(
        "name must be 1 to 200 characters, not blank"
    )
    assert await ApiKey.all().count() == 0


async def test_viewers_and_other_apps_admins_change_no_key(page: Page, owner: Person) -> None:
    alpha = await make_app("alpha", "Alpha")
    beta = await make_app("beta", "Beta")
    await make_key(KeyScope.CI, beta.id, name="beta ci")
    beta_key = await ApiKey.get(name="beta ci")

    viewer = await add_person("viewer@example.com", Role.VIEWER)
    await sign_in(page, viewer)
    await page.goto("/console/keys")
    await expect(page.get_by_role("button", name="Create key and show it once")).to_have_count(0)
    await expect(page.get_by_role("button", name="Revoke beta ci")).to_have_count(0)
    assert await post_form(page, "/console/keys", {"name": "v", "scope": "admin"}) == 403
    assert await post_form(page, f"/console/keys/{beta_key.id}/revoke", {}) == 403

    limited = await add_person("alpha-admin@example.com", Role.ADMIN, frozenset({alpha.id}))
    await page.context.clear_cookies()
    await sign_in(page, limited)
    await page.goto("/console/keys")
    # Another app's key is not there at all for them: not found, not even forbidden.
    assert await post_form(page, f"/console/keys/{beta_key.id}/revoke", {}) == 404
    form = {"name": "into beta", "scope": "admin", "appId": beta.id}
    assert await post_form(page, "/console/keys", form) == 400

    assert await ApiKey.all().count() == 1
    assert (await ApiKey.get(id=beta_key.id)).revoked_at is None
