"""A release's health in the console: its gate, each platform's figures, and when and why
a gate halted a platform; an admin lifts the halt (a refusal shown by its field, nothing
changed), a viewer sees it all without the form; at phone width, with the keyboard, and
clean in an axe scan."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from ferryman.models import Artifact, AuditEvent, HealthState
from ferryman.models import health as healths
from ferryman.models.actor import Actor, Role
from tests.console.conftest import PHONE, Person, add_person, axe_violations, sign_in
from tests.support.console import tab_to
from tests.support.health import REASON, halt
from tests.support.shipping import Shipyard

LINUX, WINDOWS = "linux-x86_64", "windows-x86_64"
GATE = healths.GateInput(max_failure_rate=0.05, min_sample=200)


async def halted_release(yard: Shipyard) -> str:
    release_id = await yard.release("1.1.0", [LINUX, WINDOWS])
    await healths.set_gate(Actor.console(), release_id, GATE)
    await halt(release_id, LINUX)
    return release_id


def path(yard: Shipyard, release_id: str) -> str:
    return f"/console/apps/{yard.slug}/releases/{release_id}"


async def test_an_admin_reads_why_a_platform_halted_and_lifts_it(
    page: Page, yard: Shipyard, owner: Person
) -> None:
    release_id = await halted_release(yard)
    await page.set_viewport_size(PHONE)
    await sign_in(page, owner, path(yard, release_id))
    section = page.get_by_role("region", name="Health", exact=True)
    await expect(section).to_contain_text("more than 5% of the installs that downloaded it")
    await expect(section.locator(".halt")).to_contain_text(f"Halted on {LINUX}")
    await expect(section.locator(".halt")).to_contain_text(REASON)
    assert await axe_violations(page) == []
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")

    # No reason: refused by its field, and the platform stays halted.
    await tab_to(page, section.get_by_role("button", name="Lift the halt"))
    await page.keyboard.press("Enter")
    reason = page.get_by_label("Reason for lifting the halt")
    await expect(reason).to_have_attribute("aria-invalid", "true")
    assert await Artifact.filter(release_id=release_id, halted_at__isnull=False).count() == 1
    assert await axe_violations(page) == []

    await tab_to(page, reason)
    await page.keyboard.type("the installer is fixed")
    await tab_to(page, page.get_by_role("button", name="Lift the halt"))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status").first).to_contain_text("Lifted the halt")
    section = page.get_by_role("region", name="Health", exact=True)
    await expect(section.locator(".halt")).to_have_count(0)
    await expect(section).to_contain_text("lifted")
    await expect(section).to_contain_text("the installer is fixed")
    state = await HealthState.get(release_id=release_id, platform=LINUX)
    assert (state.halted_at, state.lift_reason) == (None, "the installer is fixed")
    assert await AuditEvent.filter(action="release.health_halt_lift").count() == 1


async def test_a_viewer_sees_the_halt_but_no_form(
    browser: Browser, console: str, yard: Shipyard
) -> None:
    release_id = await halted_release(yard)
    viewer = await add_person("viewer@example.com", Role.VIEWER)
    context = await browser.new_context(base_url=console)
    try:
        page = await context.new_page()
        await sign_in(page, viewer, path(yard, release_id))
        section = page.get_by_role("region", name="Health", exact=True)
        await expect(section.locator(".halt")).to_contain_text(f"Halted on {LINUX}")
        await expect(section.get_by_role("button", name="Lift the halt")).to_have_count(0)
        await expect(section.locator("tbody tr")).to_have_count(1)
        await page.goto(f"/console/apps/{yard.slug}/releases")
        await expect(page.locator("tbody tr .badge.halted")).to_have_text([f"halted: {LINUX}"])
    finally:
        await context.close()
    assert await HealthState.filter(halted_at__isnull=False).count() == 1
