"""An app's release list in the console: filters, pages through thousands of releases by
the index, archiving several at once (confirmed, all or nothing), and what viewers and
admins of other apps are refused.

Releases that only need to be listed are seeded as rows (many, quickly); releases whose
archiving changes what installs are offered are shipped through the real upload path.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, Page, expect
from tortoise import connections
from ulid import ULID

from ferryman.models import App, Release, listing
from ferryman.models import app as apps
from ferryman.models import ramp as ramps
from ferryman.models.actor import Actor, Role
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from tests.conftest import QueryCounter
from tests.console.conftest import DESKTOP, PHONE, Person, add_person, axe_violations, sign_in
from tests.support.database import snapshot
from tests.support.rows import add_artifact
from tests.support.shipping import Shipyard

XSS = '<img src=x onerror="window.pwned=1">'
STATUSES = (ReleaseStatus.PUBLISHED, ReleaseStatus.DRAFT, ReleaseStatus.ARCHIVED)


async def seed(app: App, count: int, *, notes: str = "Fixes") -> list[Release]:
    """``count`` releases 0.0.0 … 0.{count-1}.0, created a second apart (the newest is the
    highest), in turn published, draft and archived, every fifth on beta."""
    start = time.time() - count
    rows = [
        Release(
            id=f"rel_{ULID.from_timestamp(start + i)}",
            app_id=app.id,
            version=f"0.{i}.0",
            notes=f"{notes} {i}",
            channel="beta" if i % 5 == 0 else "stable",
            status=STATUSES[i % 3],
            pub_date=None
            if STATUSES[i % 3] is ReleaseStatus.DRAFT
            else datetime.fromtimestamp(start + i, UTC),
        )
        for i in range(count)
    ]
    await Release.bulk_create(rows, batch_size=500)
    return rows


async def versions_shown(page: Page) -> list[str]:
    return [text.strip() for text in await page.locator("tbody th[scope=row]").all_text_contents()]


async def test_the_list_filters_and_pages_through_releases(page: Page, owner: Person) -> None:
    app = await apps.create(Actor.console(), apps.AppChanges(slug="desk", name=XSS))
    rows = await seed(app, 60)
    await add_artifact(rows[-1].id, "linux-x86_64")
    await add_artifact(rows[-1].id, "darwin-aarch64")
    await add_artifact(rows[-1].id, "windows-x86_64", ArtifactStatus.PENDING)
    await sign_in(page, owner)
    await page.goto("/console/apps/desk")
    await page.get_by_role("link", name="Releases").click()
    await page.wait_for_url("**/console/apps/desk/releases")
    assert await axe_violations(page) == []
    assert await page.evaluate("window.pwned") is None  # the app's name is text
    await expect(page.get_by_role("heading", level=1)).to_contain_text(XSS)

    shown = await versions_shown(page)
    assert shown == [f"0.{i}.0" for i in range(59, 34, -1)]  # newest first, 25 a page
    newest = page.get_by_role("row").nth(1)
    await expect(newest).to_contain_text("ARCHIVED")  # 59 % 3 == 2
    await expect(newest.locator(".platform")).to_have_text(["darwin-aarch64", "linux-x86_64"])
    await expect(newest).to_contain_text("(1 not ready)")
    await expect(newest).to_contain_text("100%")

    await page.get_by_role("link", name="Next page").click()
    assert await versions_shown(page) == [f"0.{i}.0" for i in range(34, 9, -1)]
    await page.get_by_role("link", name="Next page").click()
    assert await versions_shown(page) == [f"0.{i}.0" for i in range(9, -1, -1)]
    await expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    await page.get_by_role("link", name="Previous page").click()
    assert await versions_shown(page) == [f"0.{i}.0" for i in range(34, 9, -1)]
    await page.get_by_role("link", name="Previous page").click()
    assert await versions_shown(page) == [f"0.{i}.0" for i in range(59, 34, -1)]

    # Published beta releases: i % 3 == 0 and i % 5 == 0.
    await page.get_by_label("Status").select_option("PUBLISHED")
    await page.get_by_label("Channel").select_option("beta")
    await page.get_by_role("button", name="Filter").click()
    assert await versions_shown(page) == ["0.45.0", "0.30.0", "0.15.0", "0.0.0"]
    await expect(page.get_by_role("link", name="Next page")).to_have_count(0)

    # The search reads versions and notes; the filters stay on the pages.
    await page.get_by_role("link", name="Clear").click()
    await page.get_by_label("Version or notes").fill("fixes 1")
    await page.get_by_role("button", name="Filter").click()
    assert await versions_shown(page) == [
        f"0.{i}.0" for i in (19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 1)
    ]

    # Dates: by the shown date (published, or created for drafts), whole UTC days.
    await page.goto("/console/apps/desk/releases?until=2000-01-01")
    await expect(page.get_by_text("No release matches these filters.")).to_be_visible()
    today = datetime.now(UTC).date()
    await page.goto(f"/console/apps/desk/releases?since={today - timedelta(days=1)}&status=DRAFT")
    assert len(await versions_shown(page)) == 20

    # A range that ends before it starts is the domain's refusal, next to its field.
    await page.get_by_label("From").fill("2024-05-02")
    await page.get_by_label("To").fill("2024-05-01")
    await page.get_by_label("Status").select_option("")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#until-error")).to_have_text(
        "the range starts on 2024-05-02 but ends earlier, on 2024-05-01"
    )
    await expect(page.get_by_label("To")).to_have_attribute("aria-invalid", "true")
    assert await axe_violations(page) == []
    # The first step of archiving several (the second is tested with shipped releases).
    await page.get_by_role("link", name="Clear").click()
    await page.get_by_label("Choose 0.59.0").check()
    await page.get_by_role("button", name="Archive selected…").click()
    await expect(page.get_by_role("heading", name="Archive 1 release?")).to_be_visible()
    assert await axe_violations(page) == []
    await page.get_by_role("link", name="Cancel").click()
    await page.wait_for_url("**/console/apps/desk/releases")
    await expect(page.get_by_role("checkbox")).to_have_count(25)
    # On a phone the table scrolls inside its frame, never the page.
    await page.set_viewport_size(PHONE)
    await page.goto("/console/apps/desk/releases")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert await axe_violations(page) == []
    response = await page.request.get("/console/apps/desk/releases?channel=nope")
    assert response.status == 400
    assert "is not one of this app&#39;s channels: stable, beta, alpha, nightly" in (
        await response.text()
    )


async def test_a_page_deep_in_ten_thousand_releases_reads_the_index(
    page: Page, owner: Person, sql_log: QueryCounter
) -> None:
    app = await apps.create(Actor.console(), apps.AppChanges(slug="big", name="Big"))
    other = await apps.create(Actor.console(), apps.AppChanges(slug="other", name="Other"))
    rows = await seed(app, 10_000)
    others = await seed(other, 2_000)
    connection = connections.get("default")
    postgres = connection.capabilities.dialect == "postgres"
    await connection.execute_script("ANALYZE releases" if postgres else "ANALYZE")
    explain = "EXPLAIN" if postgres else "EXPLAIN QUERY PLAN"
    published = listing.ReleaseFilter(status=ReleaseStatus.PUBLISHED)
    for listed, cursor in ((app, rows[5000].id), (other, others[1000].id)):
        for filters in (None, published):
            query = listing.listed(listed.id, filters).order_by("-id").filter(id__lt=cursor)
            sql = query.limit(26).sql(params_inline=True)
            plan = " ".join(str(r) for r in await connection.execute_query_dict(f"{explain} {sql}"))
            # An index read in order, stopped after a page: no scan of the table, no sort.
            assert "INDEX" in plan.upper(), plan
            for costly in ("Seq Scan", "Sort", "TEMP B-TREE"):
                assert costly not in plan, plan
            if listed is other or not postgres:  # where app_id alone is selective
                assert "app_id_d4e94e" in plan, plan

    await sign_in(page, owner)
    sql_log.statements.clear()
    await page.goto(f"/console/apps/big/releases?after={rows[5000].id}")
    assert await versions_shown(page) == [f"0.{i}.0" for i in range(4999, 4974, -1)]
    selects = [s for s in sql_log.statements if "releases" in s or "artifacts" in s]
    # The page, and the artifacts of all its rows in one query: never one per row.
    assert len(selects) <= 3, selects
    assert not any("OFFSET" in s.upper() or "COUNT(" in s.upper() for s in selects), selects


async def test_archiving_several_is_confirmed_and_all_or_nothing(
    browser: Browser, console: str, yard: Shipyard, owner: Person
) -> None:
    old = await yard.release("1.0.0", ["linux-x86_64"])
    middle = await yard.release("1.1.0", ["linux-x86_64"])
    newest = await yard.release("1.2.0", ["linux-x86_64"])
    draft = await yard.draft("1.3.0")
    install = yard.install("linux", "x86_64", "0.9.0")
    assert (await install.check()).version == "1.2.0"  # type: ignore[union-attr]
    # Without JavaScript: the confirmation is a page of its own.
    context = await browser.new_context(
        base_url=console, viewport=DESKTOP, java_script_enabled=False
    )
    try:
        page = await context.new_page()
        await sign_in(page, owner, "/console/apps/my-app/releases")
        await page.get_by_label("Choose 1.3.0").check()
        await page.get_by_label("Choose 1.2.0").check()
        await page.get_by_role("button", name="Archive selected…").click()
        await expect(page.get_by_role("heading", name="Archive 2 releases?")).to_be_visible()
        await expect(page.locator(".chosen li")).to_have_count(2)
        await page.get_by_role("button", name="Archive 2 releases").click()
        await expect(page.get_by_role("alert")).to_have_text(
            "nothing was archived: release 1.3.0 is draft; only published releases can be archived"
        )
        statuses = dict(await Release.all().values_list("version", "status"))
        assert statuses["1.2.0"] is ReleaseStatus.PUBLISHED  # the draft held back the whole lot
        assert statuses["1.3.0"] is ReleaseStatus.DRAFT
        assert (await install.check()).version == "1.2.0"  # type: ignore[union-attr]

        await page.get_by_label("Choose 1.2.0").check()
        await page.get_by_label("Choose 1.1.0").check()
        await page.get_by_role("button", name="Archive selected…").click()
        await page.get_by_role("button", name="Archive 2 releases").click()
        await expect(page.get_by_role("status")).to_have_text("Archived the chosen releases.")
        for release_id, status in (
            (newest, ReleaseStatus.ARCHIVED),
            (middle, ReleaseStatus.ARCHIVED),
            (old, ReleaseStatus.PUBLISHED),
            (draft, ReleaseStatus.DRAFT),
        ):
            assert (await Release.get(id=release_id)).status is status
        assert (await install.check()).version == "1.0.0"  # type: ignore[union-attr]

        # Nothing chosen: the domain says so, and the list is shown again.
        await page.get_by_role("button", name="Archive selected…").click()
        await expect(page.get_by_role("alert")).to_have_text("choose at least one release")
    finally:
        await context.close()


async def test_viewers_and_admins_of_other_apps_are_refused_every_change(
    browser: Browser, console: str, yard: Shipyard, owner: Person
) -> None:
    published = await yard.release("1.0.0", ["linux-x86_64"])
    draft = await yard.release("1.1.0", ["linux-x86_64"], publish=False)
    await apps.update(Actor.console(), yard.app_id, apps.AppChanges(ci_may_publish=True))
    await ramps.schedule(Actor.console(), draft, preset=ramps.RampPreset.PHASED)
    elsewhere = await apps.create(Actor.console(), apps.AppChanges(slug="else", name="Else"))
    viewer = await add_person("viewer@example.com", Role.VIEWER)
    stranger = await add_person("stranger@example.com", Role.ADMIN, frozenset({elsewhere.id}))
    base = "/console/apps/my-app/releases"
    posts = {
        f"{base}/new": {"version": "9.9.9", "notes": "no"},
        f"{base}/archive/confirm": {"ids": published},
        f"{base}/archive": {"ids": published},
        f"{base}/{draft}": {"version": "9.9.9", "notes": "changed", "action": "save"},
        f"{base}/{draft}/delete": {},
        f"{base}/{draft}/publish/confirm": {},
        f"{base}/{draft}/publish": {},
        f"{base}/{draft}/rollout": {"rollout-percent": "5"},
        f"{base}/{published}/archive": {},
        f"{base}/{published}/yank": {"yank-reason": "no"},
        f"{base}/{published}/rollback": {"rollback-reason": "no"},
        f"{base}/{published}/rollout": {"rollout-percent": "5"},
        f"{base}/{published}/coverage": {"coverage-date": "2020-01-01", "coverage-reason": "no"},
        f"{base}/{draft}/schedule": {"schedule-kind": "PHASED"},
        f"{base}/{published}/schedule": {
            "schedule-kind": "CUSTOM",
            "schedule-steps": "5 2020-01-01",
        },
        f"{base}/{draft}/pause": {"pause-reason": "no"},
        f"{base}/{draft}/resume": {},
        f"{base}/{draft}/unschedule": {},
    }
    before = await snapshot()
    for person, refused in ((viewer, 403), (stranger, 404)):
        context = await browser.new_context(base_url=console, viewport=DESKTOP)
        try:
            page = await context.new_page()
            await sign_in(page, person)
            if person is viewer:  # shown no control at all
                await page.goto(base)
                await expect(page.get_by_role("row")).to_have_count(3)
                await expect(page.get_by_role("link", name="New release")).to_have_count(0)
                await expect(page.get_by_role("checkbox")).to_have_count(0)
                await page.goto(f"{base}/{published}")
                await expect(page.locator("main form[method=post]")).to_have_count(0)
                await page.goto(f"{base}/{draft}")
                await expect(page.get_by_role("heading", name="Publish")).to_have_count(0)
                await expect(page.get_by_role("textbox")).to_have_count(0)
                assert await axe_violations(page) == []
            await page.goto("/console/apps")
            csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
            for path, form in posts.items():
                response = await page.request.post(
                    path, form={**form, "csrf": csrf or ""}, headers={"Origin": console}
                )
                assert response.status == refused, (person.email, path, response.status)
        finally:
            await context.close()
    after = await snapshot()
    for state in (before, after):
        del state["Session"]  # signing in is the one change they made
    assert after == before
