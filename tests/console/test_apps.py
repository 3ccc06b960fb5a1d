"""Apps in the console: creating one, its settings (the same checks and messages as
GraphQL), and deleting it only after its slug is typed out.

Published releases here are rows written through the domain rules (:mod:`tests.support.rows`):
what matters is the app's figures and the refusal to delete a live app."""

from __future__ import annotations

from playwright.async_api import Page, expect

from ferryman.models import App, AuditEvent
from ferryman.models import app as apps
from ferryman.models.actor import Actor, Role
from ferryman.models.errors import InvalidInput
from ferryman.models.status import Distribution
from tests.console.conftest import PHONE, Person, add_person, axe_violations, sign_in
from tests.support.rows import publish
from tests.support.tauri_files import APP_PUB

XSS = '<img src=x onerror="window.pwned=1">'
BAD_KEY = "not a minisign key"


async def domain_message(changes: apps.AppChanges) -> str:
    """What the app rules say about ``changes`` (GraphQL shows the same words)."""
    try:
        await apps.create(Actor.console(), changes)
    except InvalidInput as error:
        return error.message
    raise AssertionError("the rules accepted what the test expected them to refuse")


async def test_creating_an_app_checks_its_key_as_graphql_does(page: Page, owner: Person) -> None:
    expected = await domain_message(apps.AppChanges(slug="x", name="x", public_key=BAD_KEY))
    await sign_in(page, owner)
    await page.get_by_role("link", name="New app").click()
    await page.get_by_label("Slug").fill("notes")
    await page.get_by_label("Name").fill(XSS)
    await page.get_by_label("Tauri public key").fill(BAD_KEY)
    await page.get_by_role("button", name="Create app").click()
    await expect(page.locator("#publicKey-error")).to_have_text(expected)
    await expect(page.get_by_label("Tauri public key")).to_have_attribute("aria-invalid", "true")
    assert not await App.filter(slug="notes").exists()
    assert await axe_violations(page) == []

    await page.get_by_label("Tauri public key").fill(APP_PUB)
    await page.get_by_role("button", name="Create app").click()
    await expect(page.get_by_role("status")).to_have_text("Created notes.")
    await expect(page.get_by_role("link", name=XSS)).to_be_visible()
    assert await page.evaluate("window.pwned === undefined")
    assert (await App.get(slug="notes")).public_key == APP_PUB.strip()


async def test_the_app_list_shows_each_channel_newest_version_and_counts(
    page: Page, owner: Person
) -> None:
    await publish("notes", "1.0.0", ["linux-x86_64"])
    await publish("notes", "1.1.0", ["linux-x86_64"])
    await publish("tasks", "0.3.0", ["windows-x86_64"])
    await sign_in(page, owner)
    notes = page.get_by_role("row").filter(has=page.get_by_role("link", name="notes"))
    await expect(notes.get_by_role("cell").nth(0)).to_contain_text("stable 1.1.0")
    await expect(notes.get_by_role("cell").nth(1)).to_have_text("2")
    assert await axe_violations(page) == []
    await page.get_by_label("App", exact=True).select_option("tasks")
    await page.get_by_role("button", name="Go").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("tasks")
    await expect(page.locator("dl.facts")).to_contain_text("0.3.0")
    assert await axe_violations(page) == []


async def test_settings_change_through_the_app_rules(page: Page, owner: Person) -> None:
    app = await apps.create(
        Actor.console(), apps.AppChanges(slug="notes", name="Notes", public_key=APP_PUB)
    )
    await publish("notes", "1.0.0", ["linux-x86_64"])  # on the stable channel
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await sign_in(page, owner)
    await page.goto("/console/apps/notes")
    await page.get_by_role("link", name="Settings").click()
    assert await axe_violations(page) == []
    await page.get_by_role("button", name="Copy key").click()
    assert await page.evaluate("navigator.clipboard.readText()") == APP_PUB.strip()

    # Dropping a channel a release is on is refused with the rules' words; nothing changes.
    await page.get_by_label("Channels").fill("beta")
    await page.get_by_role("textbox", name="Name (required)").fill("Renamed")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#channels-error")).to_contain_text("stable")
    assert (await App.get(id=app.id)).name == "Notes"
    assert await axe_violations(page) == []

    await page.get_by_label("Channels").fill("stable, beta, canary")
    await page.get_by_label("CI keys may publish releases").check()
    await page.get_by_label("Licensed: the updater needs a licence key").check()
    await page.get_by_label("Grace days after a licence lapses").fill("14")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_have_text("Settings saved.")
    changed = await App.get(id=app.id)
    assert (changed.name, changed.channels, changed.ci_may_publish) == (
        "Renamed",
        "stable,beta,canary",
        True,
    )
    assert (changed.distribution, changed.grace_days) == (Distribution.LICENSED, 14)
    await expect(page.get_by_role("link", name="Licences")).to_be_visible()
    event = await AuditEvent.filter(action="app.update").order_by("-created_at").first()
    assert event is not None
    assert event.user_id == owner.user.id

    await page.get_by_label("Grace days after a licence lapses").fill("400")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#graceDays-error")).to_contain_text("366")
    assert (await App.get(id=app.id)).grace_days == 14


async def test_deleting_takes_the_typed_slug_and_a_never_live_app(
    page: Page, owner: Person
) -> None:
    await publish("live", "1.0.0", ["linux-x86_64"])
    await apps.create(Actor.console(), apps.AppChanges(slug="drafty", name="Drafty"))
    await page.set_viewport_size(PHONE)
    await sign_in(page, owner)
    await page.goto("/console/apps/drafty/settings")
    await page.get_by_label("Type drafty to confirm").fill("draft")
    await page.get_by_role("button", name="Delete drafty").click()
    await expect(page.locator("#confirmSlug-error")).to_contain_text("type drafty")
    assert await App.filter(slug="drafty").exists()
    assert await axe_violations(page) == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    await page.get_by_label("Type drafty to confirm").fill("drafty")
    await page.get_by_role("button", name="Delete drafty").click()
    await expect(page.get_by_role("status")).to_have_text("Deleted drafty.")
    assert not await App.filter(slug="drafty").exists()

    await page.goto("/console/apps/live/settings")
    await page.get_by_label("Type live to confirm").fill("live")
    await page.get_by_role("button", name="Delete live").click()
    await expect(page.locator("#confirmSlug-error")).to_contain_text("published release")
    assert await App.filter(slug="live").exists()


async def test_viewers_and_admins_of_other_apps_change_no_app(page: Page, owner: Person) -> None:
    notes = await apps.create(Actor.console(), apps.AppChanges(slug="notes", name="Notes"))
    other = await apps.create(Actor.console(), apps.AppChanges(slug="other", name="Other"))
    viewer = await add_person("viewer@example.com", Role.VIEWER)
    limited = await add_person("limited@example.com", Role.ADMIN, frozenset({other.id}))
    for person, status in ((viewer, 403), (limited, 404)):
        await page.context.clear_cookies()
        await sign_in(page, person)
        await page.goto("/console/apps/other/settings")
        csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
        origin = page.url.split("/console")[0]
        if person is viewer:
            await expect(page.get_by_role("button", name="Save settings")).to_have_count(0)
            assert await axe_violations(page) == []
        for path, form in {
            "/console/apps/notes/settings": {"name": "Taken", "channels": "stable"},
            "/console/apps/notes/delete": {"confirmSlug": "notes"},
        }.items():
            response = await page.request.post(
                path, form={**form, "csrf": csrf or ""}, headers={"Origin": origin}
            )
            assert response.status == status, (person.email, path)
    assert (await App.get(id=notes.id)).name == "Notes"


async def test_an_unknown_console_path_is_a_page_that_says_so(page: Page, owner: Person) -> None:
    response = await page.goto("/console/nowhere/<b>x</b>")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    await sign_in(page, owner)
    response = await page.goto("/console/apps/missing-app/settings")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("main")).to_contain_text("no app 'missing-app'")
    response = await page.goto("/console/nowhere")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("main")).to_contain_text("no console page at /console/nowhere")
    assert await axe_violations(page) == []
