""" "Why no update?" in the console: one install's values, answered with the update
route's own rule and words (``updatePreview``'s domain)."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from ferryman.models import rollout as rollouts
from ferryman.models.actor import Actor
from tests.console.conftest import Person, axe_violations, sign_in
from tests.support.console import XSS, Dialogs, make_app, tab_to
from tests.support.licences import lapsed_licence
from tests.support.shipping import Shipyard

LINUX = ["linux-x86_64"]


async def explain(page: Page, current: str, **fields: str) -> None:
    """Fill the form for an install of my-app on linux-x86_64 and ask."""
    await page.goto("/console/why")
    await page.locator("#appId").select_option(label="my-app (my-app)")
    await page.get_by_label("Platform").fill(fields.get("platform", "linux-x86_64"))
    await page.get_by_label("Current version").fill(current)
    await page.get_by_label("Licence key (optional)").fill(fields.get("key", ""))
    await page.get_by_role("button", name="Explain").click()


async def test_why_explains_each_answer_in_the_rules_words(
    page: Page, owner: Person, yard: Shipyard, client: httpx.AsyncClient
) -> None:
    dialogs = Dialogs(page)
    await make_app("other", XSS)  # shown among the apps, as text
    await yard.release("1.0.0", LINUX)
    await sign_in(page, owner)
    await page.get_by_role("link", name="Why no update?").click()
    assert await axe_violations(page) == []
    answer = page.locator("#answer-heading")
    skipped = page.locator(".answer tbody tr")

    await explain(page, "1.0.0")
    await expect(answer).to_have_text("Up to date: nothing newer is published")
    await expect(page.locator(".answer")).to_contain_text("204")
    await explain(page, "0.9.0")
    await expect(answer).to_have_text("Offered 1.0.0")
    assert await axe_violations(page) == []

    await yard.release("1.1.0", LINUX, channel="beta")
    partial = await yard.release("1.2.0", LINUX)
    await rollouts.rollout(Actor.console(), partial, 10)
    await explain(page, "1.0.0")
    await expect(answer).to_have_text("No update: every newer release is held back")
    await expect(skipped).to_have_count(2)
    await expect(skipped.nth(0)).to_contain_text("1.2.0")
    await expect(skipped.nth(0)).to_contain_text("rollout")
    await expect(skipped.nth(0)).to_contain_text(
        "it is rolled out to 10% of installs, and an install without an install id only "
        "gets full rollouts"
    )
    await expect(skipped.nth(1)).to_contain_text("it is on beta; this install sees stable")
    assert await axe_violations(page) == []
    # The route agrees: nothing for this install.
    assert (await client.get("/my-app/update/linux/x86_64/1.0.0")).status_code == 204

    key = await lapsed_licence(yard.app_id)
    await explain(page, "0.9.0", key=key)
    await expect(answer).to_have_text("No update: every newer release is held back")
    assert key not in page.url  # posted: never in the address bar or the history
    await expect(page.get_by_role("row", name="1.0.0")).to_contain_text(
        "is outside the licence's coverage"
    )
    await explain(page, "0.9.0")
    await expect(answer).to_have_text("Refused (401)")
    await expect(page.locator(".answer dl")).to_contain_text("updates of my-app need a licence")
    assert dialogs.messages == []


async def test_bad_values_are_named_by_their_field(
    page: Page, owner: Person, yard: Shipyard
) -> None:
    await sign_in(page, owner)
    await explain(page, "1.0.0", platform="plan9-x86")
    await expect(page.locator("#platform-error")).to_contain_text("'plan9-x86' is not a platform")
    await expect(page.get_by_label("Platform")).to_have_value("plan9-x86")
    assert await axe_violations(page) == []
    await explain(page, "1.2")
    await expect(page.locator("#currentVersion-error")).to_contain_text("1.2")
    await explain(page, "1.0.0", key="lk_short")
    await expect(page.locator("#licenseKey-error")).to_contain_text("malformed licence key")
    await expect(page.locator("#answer-heading")).to_have_count(0)


async def test_why_with_the_keyboard_alone(page: Page, owner: Person, yard: Shipyard) -> None:
    await yard.release("1.0.0", LINUX)
    await sign_in(page, owner)
    await page.goto("/console/why")
    await tab_to(page, page.get_by_label("Platform"))
    await page.keyboard.type("linux-x86_64-appimage")  # the installer given as a suffix
    await tab_to(page, page.get_by_label("Current version"))
    await page.keyboard.type("0.1.0")
    await page.keyboard.press("Enter")
    await expect(page.locator("#answer-heading")).to_have_text("Offered 1.0.0")
    # No appimage file of its own: the plain key answers, as the route would.
    await expect(page.locator(".answer dl")).to_contain_text("linux-x86_64")
