"""One release in the console: a new draft with its version checked as it is typed and
its notes previewed (sanitised), publishing with the keyboard alone after a confirmation
that says who will be offered what, and the controls that change what installs get once
it is live (rollout, date for licences, rollback, yank, archive), each checked in the
database and in an update check.

Releases are shipped through the real upload path (files verified against SeaweedFS);
only the artifact that never finished uploading is written as a row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, Dialog, Page, expect

from ferryman.models import AuditEvent, Release
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from ferryman.versions import InvalidVersion, Version
from tests.console.conftest import DESKTOP, PHONE, Person, axe_violations, sign_in
from tests.support.console import tab_to
from tests.support.rows import add_artifact
from tests.support.shipping import Shipyard

HOSTILE = """**Fixed** the <script>window.pwned=1</script> crash.

<img src=x onerror="window.pwned=1">
[click](javascript:window.pwned=1) and <a href="https://e.com" onclick="window.pwned=1">this</a>
<svg onload="window.pwned=1"></svg>
"""


def releases(yard: Shipyard) -> str:
    return f"/console/apps/{yard.slug}/releases"


def accept_dialogs(page: Page) -> list[str]:
    """Accept every confirm() the page asks, and keep what it asked."""
    asked: list[str] = []

    async def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    return asked


async def test_a_new_draft_checks_its_version_as_typed_and_previews_its_notes(
    page: Page, yard: Shipyard, owner: Person
) -> None:
    await yard.release("1.2.0", ["linux-x86_64"])
    await sign_in(page, owner, releases(yard))
    await page.get_by_role("link", name="New release").click()
    await page.wait_for_url("**/releases/new")
    assert await axe_violations(page) == []
    await expect(page.get_by_role("button", name="Preview")).to_be_hidden()  # it is live

    version = page.get_by_label("Version")
    check = page.locator("#version-check")
    await expect(check).to_have_attribute("aria-live", "polite")
    await version.press_sequentially("1.3")
    try:
        Version.parse("1.3")
    except InvalidVersion as error:
        rule = str(error)  # the server's own words
    await expect(check).to_have_text(rule)
    await expect(version).to_have_attribute("aria-invalid", "true")
    await version.fill("v1.2.0")
    await expect(check).to_have_text("app my-app already has a release 1.2.0")
    await version.fill("v1.3.0")
    await expect(check).to_have_text("1.3.0 is a valid version")
    await expect(version).to_have_attribute("aria-invalid", "false")

    await page.get_by_label("Channel").select_option("beta")
    await page.get_by_label("Release notes").fill(HOSTILE)
    preview = page.locator("#notes-preview")
    await expect(preview.locator("strong")).to_have_text("Fixed")
    await expect(preview).to_contain_text('<img src=x onerror="window.pwned=1">')  # as text
    await expect(preview).to_contain_text("<script>window.pwned=1</script>")
    assert await preview.locator("script, img, svg, [onclick], [onerror], [onload]").count() == 0
    assert await preview.locator("a[href^='javascript']").count() == 0
    assert await axe_violations(page) == []
    # The preview's endpoint, like every POST, wants the session's CSRF token.
    refused = await page.request.post(f"{releases(yard)}/preview-notes", form={"notes": "x"})
    assert refused.status == 403

    await page.get_by_role("button", name="Save draft").click()
    await expect(page.get_by_role("status")).to_have_text("Created the draft.")
    created = await Release.get(version="1.3.0")
    assert (created.status, created.channel, created.notes) == (
        ReleaseStatus.DRAFT,
        "beta",
        HOSTILE.replace("\n", "\r\n"),  # as a browser posts a textarea
    )
    # The saved notes are shown the same way on the release's page.
    await expect(page.locator("#notes-preview strong")).to_have_text("Fixed")
    await expect(page.get_by_role("link", name="Artifacts (0 ready of 0)")).to_be_visible()
    await expect(page.locator(".checklist tbody tr")).to_have_text(["linux-x86_64 missing"])
    assert await page.evaluate("window.pwned") is None
    assert await axe_violations(page) == []

    # Editing: the version is checked again, as this release (its own version is free).
    await page.get_by_label("Version").fill("1.3.0")
    await expect(page.locator("#version-check")).to_have_text("1.3.0 is a valid version")
    await page.get_by_label("Version").fill("1.2.0")
    await expect(page.locator("#version-check")).to_have_text(
        "app my-app already has a release 1.2.0"
    )
    await page.get_by_role("button", name="Save draft").click()
    await expect(page.locator("#version-error")).to_have_text(
        "app my-app already has a release 1.2.0"
    )
    assert (await Release.get(id=created.id)).version == "1.3.0"
    assert await page.evaluate("window.pwned") is None


async def test_without_javascript_the_preview_is_a_button_and_nothing_is_saved(
    browser: Browser, console: str, yard: Shipyard, owner: Person
) -> None:
    context = await browser.new_context(
        base_url=console, viewport=DESKTOP, java_script_enabled=False
    )
    try:
        page = await context.new_page()
        await sign_in(page, owner, f"{releases(yard)}/new")
        await page.get_by_label("Version").fill("1.0")
        await page.get_by_label("Release notes").fill(HOSTILE)
        await page.get_by_role("button", name="Preview").click()
        preview = page.locator("#notes-preview")
        await expect(preview.locator("strong")).to_have_text("Fixed")
        assert (
            await preview.locator("script, img, svg, [onclick], a[href^='javascript']").count() == 0
        )
        await expect(page.get_by_label("Version")).to_have_value("1.0")  # kept as typed
        assert await Release.all().count() == 0

        await page.get_by_role("button", name="Save draft").click()
        await expect(page.locator("#version-error")).to_contain_text("'1.0' is not a version")
        assert await Release.all().count() == 0
        await page.get_by_label("Version").fill("1.0.0")
        await page.get_by_role("button", name="Save draft").click()
        await expect(page.get_by_role("status")).to_have_text("Created the draft.")
        assert await Release.filter(version="1.0.0").exists()
    finally:
        await context.close()


async def test_publishing_with_the_keyboard_alone_says_who_will_be_offered_what(
    page: Page, yard: Shipyard, owner: Person
) -> None:
    await yard.release("1.2.0", ["linux-x86_64", "darwin-aarch64"])
    draft = await yard.release("1.3.0", ["linux-x86_64", "darwin-aarch64"], publish=False)
    install = yard.install("linux", "x86_64", "1.2.0")
    assert await install.check() is None
    await sign_in(page, owner)
    await page.goto(f"{releases(yard)}/{draft}")
    await expect(page.get_by_role("link", name="Artifacts (2 ready of 2)")).to_be_visible()
    await expect(page.locator(".checklist tbody tr")).to_have_text(
        ["darwin-aarch64 ✓ ready", "linux-x86_64 ✓ ready"]
    )
    assert await axe_violations(page) == []

    await tab_to(page, page.get_by_role("button", name="Publish…"))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Publish 1.3.0?")).to_be_visible()
    await expect(page.locator(".outlook li")).to_have_text(
        [
            "Installs of 1.2.0 on darwin-aarch64 (stable channel) will be offered 1.3.0.",
            "Installs of 1.2.0 on linux-x86_64 (stable channel) will be offered 1.3.0.",
        ]
    )
    assert await axe_violations(page) == []
    assert (await Release.get(id=draft)).status is ReleaseStatus.DRAFT
    await tab_to(page, page.get_by_role("button", name="Publish 1.3.0", exact=True))
    await page.keyboard.press("Space")
    await expect(page.get_by_role("status")).to_have_text(
        "Published: installs are offered it from now on."
    )
    assert (await Release.get(id=draft)).status is ReleaseStatus.PUBLISHED
    assert (await install.check()).version == "1.3.0"  # type: ignore[union-attr]
    assert await axe_violations(page) == []


async def test_publish_waits_for_every_artifact_and_the_domain_refuses_it_too(
    page: Page, yard: Shipyard, owner: Person
) -> None:
    await yard.release("1.0.0", ["linux-x86_64", "windows-x86_64"])
    draft = await yard.release("1.1.0", ["linux-x86_64"], publish=False)
    await add_artifact(draft, "darwin-aarch64", ArtifactStatus.PENDING)  # never uploaded
    await sign_in(page, owner)
    await page.goto(f"{releases(yard)}/{draft}")
    button = page.get_by_role("button", name="Publish…")
    await expect(button).to_be_disabled()
    reason = (
        "release 1.1.0 has artifacts that are not READY: darwin-aarch64 (PENDING); confirm "
        "or delete them before publishing"
    )
    await expect(page.locator("#publish-blocked")).to_have_text(reason)
    await expect(button).to_have_attribute("aria-describedby", "publish-blocked")
    await expect(page.get_by_role("link", name="Artifacts (1 ready of 2)")).to_be_visible()
    await expect(page.locator(".checklist tbody tr")).to_have_text(
        ["linux-x86_64 ✓ ready", "windows-x86_64 missing"]
    )
    assert await axe_violations(page) == []
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    for step in ("publish/confirm", "publish"):
        response = await page.request.post(
            f"{releases(yard)}/{draft}/{step}", form={"csrf": csrf or ""}
        )
        assert response.status == 400
        assert "darwin-aarch64 (PENDING)" in await response.text()
    assert (await Release.get(id=draft)).status is ReleaseStatus.DRAFT

    # A draft without any artifact says so instead.
    empty = await yard.draft("1.2.0")
    await page.goto(f"{releases(yard)}/{empty}")
    await expect(page.locator("#publish-blocked")).to_contain_text("has no READY artifact")

    # Deleting a draft asks first.
    asked = accept_dialogs(page)
    await page.get_by_role("button", name="Delete draft 1.2.0").click()
    await expect(page.get_by_role("status")).to_have_text("Deleted the draft.")
    assert asked == ["Delete the draft 1.2.0 and its artifacts?"]
    assert not await Release.filter(id=empty).exists()


async def test_rollout_coverage_rollback_yank_and_archive_change_what_installs_get(
    page: Page, yard: Shipyard, owner: Person
) -> None:
    first = await yard.release("1.0.0", ["linux-x86_64"])
    second = await yard.release("1.1.0", ["linux-x86_64"])
    third = await yard.release("1.2.0", ["linux-x86_64"])
    install = yard.install("linux", "x86_64", "0.9.0")
    asked = accept_dialogs(page)
    await sign_in(page, owner)
    await page.set_viewport_size(PHONE)
    await page.goto(f"{releases(yard)}/{third}")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert await axe_violations(page) == []

    # Rollout: bad input is the domain's message next to the field, and changes nothing.
    percent = page.get_by_label("Rollout percentage")
    for typed, message in (
        ("half", "percent must be a whole number from 0 to 100, got 'half'"),
        ("150", "percent must be a whole number from 0 to 100, got 150"),
    ):
        await percent.fill(typed)
        await page.get_by_role("button", name="Change rollout").click()
        await expect(page.locator("#rollout-percent-error")).to_have_text(message)
        assert (await Release.get(id=third)).rollout_percent == 100
    assert await axe_violations(page) == []
    await percent.fill("0")
    await page.get_by_role("button", name="Change rollout").click()
    await expect(page.get_by_role("status")).to_have_text("Changed the rollout.")
    assert (await Release.get(id=third)).rollout_percent == 0
    assert (await install.check()).version == "1.1.0"  # type: ignore[union-attr]

    # The date licences judge it by: never later than its publish time.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    await page.get_by_label("Date for licences").fill(tomorrow)
    await page.get_by_label("Reason for the date").fill("a fix for lapsed customers")
    await page.get_by_role("button", name="Change the date").click()
    await expect(page.locator("#coverage-date-error")).to_contain_text(
        "is later than its publish time"
    )
    await page.get_by_label("Date for licences").fill("2024-01-15")
    await page.get_by_role("button", name="Change the date").click()
    await expect(page.get_by_role("status")).to_have_text("Changed the date licences judge it by.")
    dated = await Release.get(id=third)
    assert dated.coverage_date == datetime(2024, 1, 15, tzinfo=UTC)
    assert await AuditEvent.filter(
        action="release.coverage_date", summary__contains="a fix for lapsed customers"
    ).exists()

    # Rollback: the channel's newest release is yanked, the one before offered to everyone.
    await page.get_by_label("Reason for the rollback").fill("crashes on start")
    await page.get_by_role("button", name="Roll back stable").click()
    await expect(page.get_by_role("status")).to_contain_text("Rolled back")
    rolled = await Release.get(id=third)
    assert (rolled.status, rolled.yank_reason) == (ReleaseStatus.ARCHIVED, "crashes on start")
    assert (await install.check()).version == "1.1.0"  # type: ignore[union-attr]
    await expect(page.get_by_role("heading", level=2)).to_contain_text("yanked")

    # Yank: a reason is required (the domain's words), then it is off the update path.
    await page.goto(f"{releases(yard)}/{second}")
    await page.get_by_role("button", name="Yank 1.1.0").click()
    await expect(page.locator("#yank-reason-error")).to_contain_text("reason must be 1 to 500")
    assert (await Release.get(id=second)).status is ReleaseStatus.PUBLISHED
    await page.get_by_label("Reason for the yank").fill("<b>bad</b> build")
    await page.get_by_role("button", name="Yank 1.1.0").click()
    await expect(page.get_by_role("status")).to_have_text("Yanked: it is offered to nobody now.")
    await expect(page.locator("dl.facts")).to_contain_text("<b>bad</b> build")  # as text
    assert (await Release.get(id=second)).yank_reason == "<b>bad</b> build"
    assert (await install.check()).version == "1.0.0"  # type: ignore[union-attr]

    # Archive: nothing is offered any more.
    await page.goto(f"{releases(yard)}/{first}")
    await page.get_by_role("button", name="Archive 1.0.0").click()
    await expect(page.get_by_role("status")).to_have_text("Archived: it is offered to nobody now.")
    assert (await Release.get(id=first)).status is ReleaseStatus.ARCHIVED
    assert await install.check() is None
    assert asked == [
        "Roll back the stable channel? Its newest release is yanked and the one before it is "
        "offered again, to every install.",
        "Yank 1.1.0? Installs are no longer offered it, at once.",
        "Yank 1.1.0? Installs are no longer offered it, at once.",
        "Archive 1.0.0? Installs are no longer offered it.",
    ]
    assert await axe_violations(page) == []
