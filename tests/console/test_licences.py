"""Licences in the console: search, issue (the key shown once), the lifecycle as the
update route then sees it, and CSV imports that name every bad line and import nothing
unless every line is good."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from playwright.async_api import Page, expect

from ferryman import auth
from ferryman.console.pages import MAX_UPLOAD_BYTES
from ferryman.models import License
from ferryman.models import license as licenses
from ferryman.models.actor import Actor, Role
from ferryman.models.status import LicenseStatus
from tests.console.conftest import PHONE, Person, add_person, axe_violations, sign_in
from tests.support.console import XSS, Dialogs, make_app, post_form
from tests.support.licences import licensed_app

CHECK = "/paid/update/linux/x86_64/1.0.0"
DAY = timedelta(days=1)


async def issue(app_id: str, customer: str, starts: datetime, ends: datetime) -> License:
    minted = auth.mint(auth.LICENSE_PREFIX)
    new = licenses.NewLicense(minted.key_hash, minted.prefix, customer, starts, ends)
    return await licenses.create(Actor.console(), app_id, new)


async def status_of(client: httpx.AsyncClient, key: str) -> int:
    """What the update route answers an install of paid sending ``key``."""
    return (await client.get(CHECK, headers={"X-License-Key": key})).status_code


async def test_a_licence_from_issue_to_revocation_as_the_update_route_sees_it(
    page: Page, owner: Person, client: httpx.AsyncClient
) -> None:
    dialogs = Dialogs(page)
    await licensed_app("paid")
    await sign_in(page, owner)
    await page.goto("/console/apps/paid")
    await page.get_by_role("link", name="Licences").click()
    await expect(page.get_by_role("link", name="Licences", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    assert await axe_violations(page) == []

    await page.get_by_label("Customer", exact=True).nth(1).fill(XSS)
    await page.get_by_role("button", name="Issue and show the key once").click()
    await expect(page.get_by_role("heading", name=f"Issued a licence to {XSS}")).to_be_visible()
    await expect(page.get_by_role("button", name="Copy licence key")).to_be_visible()
    assert await axe_violations(page) == []
    key = (await page.locator("#new-secret").text_content() or "").strip()
    assert auth.LICENSE_PATTERN.fullmatch(key)
    assert await status_of(client, key) == 204  # licensed, and nothing newer to offer
    assert await status_of(client, "lk_" + "Z" * 40) == 401

    await page.get_by_role("link", name="Open the licence").click()
    assert key not in await page.content()
    assert await axe_violations(page) == []
    await page.get_by_label("Why suspend it (optional)").fill("unpaid invoice")
    await page.get_by_role("button", name="Suspend").click()
    await expect(page.get_by_role("status")).to_contain_text("Suspended")
    await expect(page.locator("dl.facts")).to_contain_text("unpaid invoice")
    assert await status_of(client, key) == 403

    await page.get_by_role("button", name="Reactivate").click()
    await expect(page.get_by_role("status")).to_have_text("Reactivated.")
    assert await status_of(client, key) == 204

    await page.get_by_label("Starts").fill("2040-01-01")
    await page.get_by_label("Ends").fill("2041-01-01")
    await page.get_by_role("button", name="Renew").click()
    await expect(page.get_by_role("status")).to_have_text("Renewed.")
    periods = page.get_by_role("table").locator("tbody tr")
    await expect(periods).to_have_count(2)
    await expect(periods.nth(1)).to_contain_text("2040-01-01")

    await page.get_by_label("Why revoke it (optional)").fill("refunded")
    await page.get_by_role("button", name="Revoke for good").click()
    await expect(page.get_by_role("status")).to_have_text("Revoked for good.")
    await expect(page.get_by_role("button", name="Renew")).to_have_count(0)
    assert await status_of(client, key) == 403
    license = await License.get(customer=XSS)
    assert (license.status, license.status_reason) == (LicenseStatus.REVOKED, "refunded")
    assert dialogs.messages == [
        f"Revoke the licence of {XSS} for good? It cannot be reactivated or renewed."
    ]


async def test_a_renewal_the_rules_refuse_shows_their_words(page: Page, owner: Person) -> None:
    paid = await licensed_app("paid")
    now = datetime.now(UTC)
    license = await issue(paid.id, "ACME", now - 10 * DAY, now + 100 * DAY)
    await sign_in(page, owner)
    await page.goto(f"/console/apps/paid/licences/{license.id}")
    await page.get_by_label("Starts").fill((now + 50 * DAY).date().isoformat())
    await page.get_by_role("button", name="Renew").click()
    await expect(page.locator("#startsAt-error")).to_contain_text(
        "the new period would overlap the last one"
    )
    assert await axe_violations(page) == []
    assert len((await licenses.periods_of([license.id]))[license.id]) == 1


async def test_search_by_customer_status_and_expiry_a_page_at_a_time(
    page: Page, owner: Person
) -> None:
    paid = await licensed_app("paid")
    now = datetime.now(UTC)
    await issue(paid.id, "Gamma GmbH", now - 400 * DAY, now - 10 * DAY)
    beta = await issue(paid.id, "Beta Ltd", now - DAY, now + 300 * DAY)
    await licenses.suspend(Actor.console(), beta.id, "chargeback")
    await issue(paid.id, "ACME Corp", now - DAY, now + 30 * DAY)
    await sign_in(page, owner)
    await page.goto("/console/apps/paid/licences")
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(3)

    search = page.get_by_role("form", name="Search licences")
    await search.get_by_label("Customer").fill("acme")
    await search.get_by_role("button", name="Search").click()
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("ACME Corp")

    await page.goto("/console/apps/paid/licences?status=SUSPENDED")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("chargeback")

    today = now.date().isoformat()
    await page.goto(f"/console/apps/paid/licences?expiresBefore={today}")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("Gamma GmbH")
    soon = (now + 60 * DAY).date().isoformat()
    await page.goto(f"/console/apps/paid/licences?expiresAfter={today}&expiresBefore={soon}")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("ACME Corp")

    response = await page.goto("/console/apps/paid/licences?expiresAfter=2025-13-01")
    assert response is not None
    assert response.status == 400
    await expect(page.locator("#expiresAfter-error")).to_contain_text("is not a date")

    many = [
        licenses.NewLicense(auth.mint(auth.LICENSE_PREFIX).key_hash, "lk_xxxx", f"Bulk {n}")
        for n in range(50)
    ]
    await licenses.create_many(Actor.console(), paid.id, many, ("rows",))
    await page.goto("/console/apps/paid/licences?customer=bulk")
    await expect(rows).to_have_count(50)
    # Fifty exactly fill one page: a link to the next only when there is more.
    await expect(page.get_by_role("link", name="Older licences")).to_have_count(0)
    await page.goto("/console/apps/paid/licences?customer=&status=")
    await expect(rows).to_have_count(50)
    await page.get_by_role("link", name="Older licences").click()
    await expect(rows).to_have_count(3)  # the three from before the fifty
    assert "after=lic_" in page.url
    assert "customer=&status=" in page.url


async def test_an_import_names_every_bad_line_and_imports_nothing(
    page: Page, owner: Person
) -> None:
    await licensed_app("paid")
    await sign_in(page, owner)
    await page.goto("/console/apps/paid/licences/import")
    assert await axe_violations(page) == []

    upload = "customer,starts_at,ends_at\nAcme,2025-01-01,\nBob,2025-13-01,\nCarol,,,\nDave,,\n"
    await page.get_by_label("CSV file").set_input_files(
        {"name": "customers.csv", "mimeType": "text/csv", "buffer": upload.encode()}
    )
    await page.get_by_role("button", name="Import").click()
    problems = page.locator(".problems li")
    await expect(page.get_by_role("alert")).to_contain_text(
        "Nothing was imported: customers.csv has 2 problems"
    )
    await expect(problems).to_have_count(2)
    await expect(problems.nth(0)).to_contain_text(
        "line 3, column starts_at: '2025-13-01' is not a date"
    )
    await expect(problems.nth(1)).to_contain_text("line 4 has 4 fields but the header has 3")
    assert await axe_violations(page) == []
    assert await License.all().count() == 0

    # Lines the file's format allows, that the licence rules refuse: each named, none kept.
    pasted = "customer,starts_at,ends_at\nAcme,,\nBob,2025-02-01,2025-01-01\nEve,,\n" + (
        "x" * 201 + ",,\n"
    )
    await page.get_by_label("Or paste its lines").fill(pasted)
    await page.get_by_role("button", name="Import").click()
    await expect(problems).to_have_count(2)
    await expect(problems.nth(0)).to_contain_text(
        "line 3, column ends_at: ends_at (2025-01-01T00:00:00+00:00) must be later than"
    )
    await expect(problems.nth(1)).to_contain_text(
        "line 5, column customer: customer is longer than 200 characters"
    )
    await expect(page.get_by_label("Or paste its lines")).to_have_value(pasted)
    assert await License.all().count() == 0

    good = f"customer,starts_at,ends_at\n{XSS},,\nBob,2025-02-01,2026-02-01\n"
    await page.get_by_label("Or paste its lines").fill(good)
    await page.get_by_role("button", name="Import").click()
    await expect(page.get_by_role("heading", name="Imported 2 licences")).to_be_visible()
    keys = page.locator(".secret tbody tr")
    await expect(keys).to_have_count(2)
    await expect(keys.nth(0)).to_contain_text(XSS)
    await expect(page.get_by_role("button", name="Copy as CSV (id, customer, key)")).to_be_visible()
    assert await axe_violations(page) == []
    shown = (await keys.nth(0).locator("code").text_content() or "").strip()
    stored = await License.get(customer=XSS)
    assert stored.key_hash == auth.hash_key(shown)
    assert await License.all().count() == 2


async def test_an_open_app_says_where_licences_apply(page: Page, owner: Person) -> None:
    await make_app("free", "Free")
    await sign_in(page, owner)
    await page.goto("/console/apps/free")
    await expect(page.get_by_role("link", name="Licences")).to_have_count(0)
    await page.goto("/console/apps/free/licences")
    await expect(page.get_by_text("Licences apply to LICENSED apps")).to_be_visible()
    await page.get_by_role("link", name="Distribution in its settings").click()
    await expect(page.get_by_role("heading", name="Settings")).to_be_visible()


async def test_licences_on_a_phone(page: Page, owner: Person) -> None:
    paid = await licensed_app("paid")
    now = datetime.now(UTC)
    await issue(paid.id, "A customer with a rather long name, Incorporated", now, now + 9 * DAY)
    await page.set_viewport_size(PHONE)
    await sign_in(page, owner)
    await page.goto("/console/apps/paid/licences")
    await expect(page.locator("tbody tr")).to_have_count(1)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert await axe_violations(page) == []


async def test_viewers_and_other_apps_admins_change_no_licence(page: Page, owner: Person) -> None:
    paid = await licensed_app("paid")
    other = await make_app("other", "Other")
    now = datetime.now(UTC)
    license = await issue(paid.id, "ACME", now - DAY, now + 100 * DAY)
    base = "/console/apps/paid/licences"
    here = f"{base}/{license.id}"
    posts = {
        base: {"newCustomer": "sneaky"},
        f"{base}/import": {"csv": "customer,starts_at,ends_at\nsneaky,,\n"},
        f"{here}/renew": {},
        f"{here}/suspend": {"reason": "no"},
        f"{here}/reactivate": {},
        f"{here}/revoke": {"revokeReason": "no"},
    }
    viewer = await add_person("viewer@example.com", Role.VIEWER)
    await sign_in(page, viewer)
    await page.goto(here)
    await expect(page.get_by_role("button", name="Suspend")).to_have_count(0)
    await page.goto(f"{base}/import")
    await expect(page.get_by_role("button", name="Import")).to_have_count(0)
    for path, form in posts.items():
        assert await post_form(page, path, form) == 403, path

    limited = await add_person("other-admin@example.com", Role.ADMIN, frozenset({other.id}))
    await page.context.clear_cookies()
    await sign_in(page, limited)
    for path, form in posts.items():
        assert await post_form(page, path, form) == 404, path
    response = await page.goto(f"/console/apps/other/licences/{license.id}")
    assert response is not None
    assert response.status == 404

    assert await License.all().count() == 1
    after = await License.get(id=license.id)
    assert after.status is LicenseStatus.ACTIVE
    assert len((await licenses.periods_of([license.id]))[license.id]) == 1


async def test_an_upload_over_the_limit_is_refused_unread(page: Page, owner: Person) -> None:
    await licensed_app("paid")
    await sign_in(page, owner)
    await page.goto("/console/apps/paid/licences/import")
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    line = "A customer,2025-01-01,2026-01-01\n"
    big = "customer,starts_at,ends_at\n" + line * (MAX_UPLOAD_BYTES // len(line) + 1)
    response = await page.request.post(
        "/console/apps/paid/licences/import",
        multipart={
            "csrf": csrf or "",
            "file": {"name": "big.csv", "mimeType": "text/csv", "buffer": big.encode()},
        },
        headers={"Origin": page.url.split("/console")[0]},
    )
    assert response.status == 400
    assert "at most 1024 KiB" in await response.text()
    assert await License.all().count() == 0
