"""The audit trail in the console: who did what and when, narrowed by app, by the person
or key who acted, by action and by day, a page at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, expect

from ferryman.models import ApiKey, AuditEvent
from ferryman.models import audit_event as audit_events
from ferryman.models.actor import Actor, Role
from tests.conftest import GraphQL
from tests.console.conftest import PHONE, Person, add_person, axe_violations, sign_in
from tests.support.api import create_app
from tests.support.console import XSS, Dialogs

DAY = timedelta(days=1)


async def test_the_trail_names_who_acted_and_narrows_by_each_filter(
    page: Page, owner: Person, gql: GraphQL, admin_key: str
) -> None:
    dialogs = Dialogs(page)
    await create_app(gql, admin_key, slug="alpha", name="Alpha")
    await create_app(gql, admin_key, slug="beta", name="Beta")
    key = await ApiKey.get(name="global admin")
    await sign_in(page, owner)
    await page.goto("/console/keys")  # a change made in the console, by a person
    await page.get_by_label("Name").fill(XSS)
    await page.locator("#appId").select_option(label="Beta (beta)")
    await page.get_by_role("button", name="Create key and show it once").click()
    await expect(page.locator("#new-secret")).to_be_visible()

    await page.get_by_role("link", name="Audit trail").click()
    assert await axe_violations(page) == []
    rows = page.locator("tbody tr")
    everything = await AuditEvent.all().count()  # the set-up's, and the three above
    await expect(rows).to_have_count(everything)
    newest = rows.nth(0)
    await expect(newest).to_contain_text(owner.email)
    await expect(newest).to_contain_text("api_key.create")
    await expect(newest).to_contain_text("beta")
    await expect(newest).to_contain_text(f"created ci key '{XSS}'")
    await expect(rows.nth(1)).to_contain_text(f"key global admin ({key.prefix}…)")

    async def narrowed(count: int, **filters: str) -> None:
        await page.goto("/console/audit")
        form = page.get_by_role("form", name="Filter the audit trail")
        for name, value in filters.items():
            field = form.locator(f"#{name}")
            if name in ("appId", "actorId"):
                await field.select_option(label=value)
            else:
                await field.fill(value)
        await form.get_by_role("button", name="Filter").click()
        await expect(rows).to_have_count(count)

    theirs = await AuditEvent.filter(user_id=owner.user.id).count()  # and choosing a password
    await narrowed(theirs, actorId=owner.email)
    await expect(rows.nth(0)).to_contain_text("api_key.create")
    await expect(page.locator("tbody")).not_to_contain_text("global admin")
    await narrowed(2, actorId=f"global admin ({key.prefix}…)")
    await narrowed(1, appId="Alpha (alpha)")
    await expect(rows).to_contain_text("app.create")
    await narrowed(2, action="app.")
    await narrowed(2, action="api_key")  # the global admin key, and the one above
    today = datetime.now(UTC).date()
    await narrowed(everything, since=today.isoformat(), until=today.isoformat())
    await narrowed(0, since=(today + DAY).isoformat())
    await expect(page.get_by_text("No changes match.")).to_be_visible()
    await narrowed(0, until=(today - DAY).isoformat())
    assert dialogs.messages == []

    response = await page.goto("/console/audit?since=last+week")
    assert response is not None
    assert response.status == 400
    await expect(page.locator("#since-error")).to_contain_text("'last week' is not a date")
    assert await axe_violations(page) == []


async def test_a_page_at_a_time_on_a_phone(page: Page, owner: Person) -> None:
    for number in range(53):
        await audit_events.record(
            Actor.console(), "test.step", f"t{number}", None, f"step {number}"
        )
    await page.set_viewport_size(PHONE)
    await sign_in(page, owner)
    await page.goto("/console/audit?action=test.")
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(50)
    await expect(rows.nth(0)).to_contain_text("step 52")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert await axe_violations(page) == []
    await page.get_by_role("link", name="Older events").click()
    await expect(rows).to_have_count(3)
    await expect(rows.nth(2)).to_contain_text("step 0")
    assert "action=test." in page.url
    await expect(page.get_by_role("link", name="Older events")).to_have_count(0)


async def test_an_admin_of_one_app_reads_only_its_events(
    page: Page, gql: GraphQL, admin_key: str
) -> None:
    alpha = await create_app(gql, admin_key, slug="alpha", name="Alpha")
    await create_app(gql, admin_key, slug="beta", name="Beta")
    limited = await add_person("alpha-admin@example.com", Role.ADMIN, frozenset({alpha}))
    await sign_in(page, limited)
    await page.goto("/console/audit")
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("alpha")
    await expect(page.locator("#appId option")).to_have_count(2)  # any, and alpha
    await expect(page.locator("#actorId option")).to_have_count(1)  # anyone: none of theirs
