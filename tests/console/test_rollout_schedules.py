"""A release's rollout schedule in the console: started from the phased preset or custom
steps, paused with a reason, resumed and cancelled through the model operations GraphQL
uses (checked in the database and the audit trail); the model's refusals shown by the
field they name, with nothing changed; with the keyboard alone at phone width; what a
viewer sees; and the release list's badges, read for the whole page at once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, expect

from ferryman.console.schedules import relative, typed_steps
from ferryman.models import AuditEvent, Ramp, RampStep, Release
from ferryman.models import ramp as ramps
from ferryman.models.actor import Actor, Role
from ferryman.models.errors import InvalidInput
from tests.conftest import QueryCounter
from tests.console.conftest import DESKTOP, PHONE, Person, add_person, axe_violations, sign_in
from tests.support.console import Dialogs, tab_to
from tests.support.database import snapshot
from tests.support.shipping import Shipyard

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def release_path(yard: Shipyard, release_id: str) -> str:
    return f"/console/apps/{yard.slug}/releases/{release_id}"


def test_times_read_at_a_glance() -> None:
    for moment, words in (
        (NOW + timedelta(seconds=59), "in under a minute"),
        (NOW - timedelta(seconds=30), "just now"),
        (NOW + timedelta(minutes=5), "in 5 min"),
        (NOW + timedelta(hours=3), "in 3 h"),
        (NOW + timedelta(hours=3, minutes=20, seconds=59), "in 3 h 20 min"),
        (NOW + timedelta(days=1), "in 1 d"),
        (NOW - timedelta(days=2, hours=4, minutes=10), "2 d 4 h ago"),
    ):
        assert relative(moment, NOW) == words


def test_custom_steps_are_read_one_a_line() -> None:
    steps, lines = typed_steps(
        "5 2026-12-07T09:00Z\n\n  20% at 2026-12-08 09:00  \r\n100 % 2026-12-09T11:00:00+02:00\n"
    )
    assert steps == [
        ramps.Step(5, NOW),
        ramps.Step(20, datetime(2026, 12, 8, 9, 0)),  # no zone: the model reads it as UTC
        ramps.Step(100, NOW + timedelta(days=2)),
    ]
    assert lines == [1, 3, 4]
    for typed, field, message in (
        ("5 2026-12-07\nfive 2026-12-08", "percent", "line 2: 'five' is not a whole percent"),
        ("\n5 tomorrow", "notBefore", "line 2: 'tomorrow' is not a time"),
        ("5%", "notBefore", "line 1: the time is missing"),
    ):
        with pytest.raises(InvalidInput, match=f"^{re.escape(message)}") as refused:
            typed_steps(typed)
        assert refused.value.field == ("steps", "1" if "five" in typed else "0", field)


async def test_a_phased_schedule_is_started_paused_resumed_and_cancelled(
    page: Page, yard: Shipyard, owner: Person
) -> None:
    release_id = await yard.draft("1.0.0")
    dialogs = Dialogs(page)
    await sign_in(page, owner, release_path(yard, release_id))
    section = page.get_by_role("region", name="Rollout schedule")
    await expect(section.get_by_role("radio", name=re.compile("^Phased"))).to_be_checked()
    assert await axe_violations(page) == []

    await section.get_by_label("Reason", exact=True).fill("the first week")
    await section.get_by_role("button", name="Start schedule").click()
    await expect(page.get_by_role("status")).to_have_text("Started the rollout schedule.")
    steps = section.locator("table.steps tbody tr")
    await expect(steps.locator("td.num")).to_have_text(
        ["1%", "2%", "5%", "10%", "20%", "50%", "100%"]
    )
    await expect(steps.nth(0).locator("td").nth(2)).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d"))
    await expect(steps.nth(1).locator("td").nth(2)).to_have_text("next")
    await expect(steps.nth(2).locator("td").nth(2)).to_have_text("pending")
    await expect(steps.nth(1).locator("td").nth(1)).to_contain_text(
        re.compile(r"\(in 23 h|\(in 1 d\)")
    )
    state = section.locator("#schedule-state")
    await expect(state).to_contain_text("Running: step 1 of 7 reached, 1% of installs.")
    await expect(state).to_contain_text(re.compile(r"Next: step 2, 2%, not before \S+ \S+ UTC"))
    assert (await Release.get(id=release_id)).rollout_percent == 1
    assert await AuditEvent.filter(
        action="release.rollout_schedule",
        user_id=owner.user.id,
        summary__contains="the first week",
    ).exists()
    assert await axe_violations(page) == []

    # A pause needs a reason: the model's words by the field, and nothing paused.
    await section.get_by_role("button", name="Pause schedule").click()
    await expect(page.locator("#pause-reason-error")).to_contain_text("reason must be 1 to")
    assert (await Ramp.get(release_id=release_id)).paused_at is None
    await section.get_by_label("Reason for the pause").fill("<b>crash</b> reports")
    await section.get_by_role("button", name="Pause schedule").click()
    await expect(page.get_by_role("status")).to_contain_text("Paused the rollout schedule")
    await expect(state).to_contain_text(
        re.compile(r"Paused since \S+ \S+ UTC \((just now|\d+ min ago)\) by owner@example.com: ")
    )
    await expect(state).to_contain_text("owner@example.com: <b>crash</b> reports")  # as text
    await expect(steps.nth(1).locator("td").nth(2)).to_have_text("pending")
    await expect(section.get_by_role("button", name="Pause schedule")).to_have_count(0)
    paused = await Ramp.get(release_id=release_id)
    assert (paused.paused_by, paused.pause_reason) == (owner.user.id, "<b>crash</b> reports")
    assert await axe_violations(page) == []

    await section.get_by_role("button", name="Resume schedule").click()
    await expect(page.get_by_role("status")).to_contain_text("Resumed the rollout schedule")
    await expect(state).to_contain_text("Running: step 1 of 7 reached")
    assert (await Ramp.get(release_id=release_id)).paused_at is None

    # Cancelling asks first, keeps the percentage, and offers the form again.
    await section.get_by_role("button", name="Cancel schedule").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Cancelled the rollout schedule: the percentage stays where it is."
    )
    assert dialogs.messages == [
        "Cancel the rollout schedule of 1.0.0? Its pending steps are dropped; it stays at 1% "
        "of installs."
    ]
    await expect(section.get_by_role("button", name="Start schedule")).to_be_visible()
    assert not await Ramp.filter(release_id=release_id).exists()
    assert (await Release.get(id=release_id)).rollout_percent == 1
    actions = await AuditEvent.filter(target_id=release_id, action__startswith="release.rollout")
    assert sorted(event.action for event in actions) == [
        "release.rollout_pause",
        "release.rollout_resume",
        "release.rollout_schedule",
        "release.rollout_schedule_cancel",
    ]


async def test_custom_steps_with_the_keyboard_at_phone_width(
    page: Page, yard: Shipyard, owner: Person
) -> None:
    release_id = await yard.draft("1.0.0")
    await sign_in(page, owner)
    await page.set_viewport_size(PHONE)
    await page.goto(release_path(yard, release_id))
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    before = await snapshot()

    # Tab to the choice, arrow to "Custom steps", and type the steps: the second falls.
    await tab_to(page, page.get_by_role("radio", name=re.compile("^Phased")))
    await page.keyboard.press("ArrowDown")
    await expect(page.get_by_role("radio", name="Custom steps")).to_be_checked()
    await page.keyboard.press("Tab")
    textarea = page.get_by_label("Custom steps, one a line")
    await expect(textarea).to_be_focused()
    await page.keyboard.type("5 2020-01-01T00:00Z\n\n2 2020-01-02T00:00Z")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Reason", exact=True)).to_be_focused()
    await page.keyboard.type("a slow start")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Start schedule")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#schedule-steps-error")).to_have_text(
        "line 3: the percent is 2, not above the step before it (5): percentages must rise strictly"
    )
    await expect(textarea).to_have_attribute("aria-invalid", "true")
    await expect(textarea).to_have_value("5 2020-01-01T00:00Z\n\n2 2020-01-02T00:00Z")
    await expect(page.get_by_label("Reason", exact=True)).to_have_value("a slow start")
    await expect(page.get_by_role("radio", name="Custom steps")).to_be_checked()
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert await axe_violations(page) == []
    # A start time goes with the preset only: the model says so by the start field.
    await page.get_by_label("Start (UTC)").fill("2020-01-01 00:00")
    await page.get_by_role("button", name="Start schedule").click()
    await expect(page.locator("#schedule-start-error")).to_have_text(
        "start goes with a preset; listed steps each give their notBefore"
    )
    await page.get_by_label("Start (UTC)").fill("")
    await textarea.fill("5 2020-01-02T00:00Z\n10 2020-01-01 00:00")
    await page.get_by_role("button", name="Start schedule").click()
    await expect(page.locator("#schedule-steps-error")).to_have_text(
        "line 2: the time 2020-01-01T00:00:00+00:00 is earlier than the step before it "
        "(2020-01-02T00:00:00+00:00): times may not go back"
    )
    # Steps typed while the preset is chosen: the model takes one or the other, not both.
    await page.get_by_role("radio", name=re.compile("^Phased")).check()
    await page.get_by_role("button", name="Start schedule").click()
    await expect(page.locator("#schedule-steps-error")).to_contain_text("not both")
    assert await snapshot() == before
    await page.get_by_role("radio", name="Custom steps").check()

    await tab_to(page, textarea)
    await page.keyboard.press("Control+A")
    await page.keyboard.type(
        "5% 2020-01-01T00:00Z\n50 at 2020-01-02 00:00\n100 2099-01-01T02:00+02:00"
    )
    await expect(page.get_by_role("radio", name="Custom steps")).to_be_checked()
    await tab_to(page, page.get_by_role("button", name="Start schedule"))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Started the rollout schedule.")
    # The steps already due are taken at once: it is at 50% and waits for the third.
    await expect(page.locator("#schedule-state")).to_contain_text(
        "Running: step 2 of 3 reached, 50% of installs."
    )
    await expect(page.locator("#schedule-state")).to_contain_text(
        "Next: step 3, 100%, not before 2099-01-01 00:00 UTC"
    )
    assert (await Release.get(id=release_id)).rollout_percent == 50
    stored = await RampStep.filter(ramp__release_id=release_id).order_by("position")
    assert [(s.percent, s.not_before, s.reached_at is not None) for s in stored] == [
        (5, datetime(2020, 1, 1, tzinfo=UTC), True),
        (50, datetime(2020, 1, 2, tzinfo=UTC), True),
        (100, datetime(2099, 1, 1, tzinfo=UTC), False),
    ]
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


async def test_a_viewer_sees_schedules_in_the_list_and_on_the_page_but_no_buttons(
    browser: Browser, console: str, yard: Shipyard, sql_log: QueryCounter
) -> None:
    running = await yard.draft("1.0.0")
    paused = await yard.draft("1.1.0")
    finished = await yard.draft("1.2.0")
    unscheduled = await yard.draft("1.3.0")
    operator = Actor.console()
    await ramps.schedule(operator, running, preset=ramps.RampPreset.PHASED)
    await ramps.schedule(operator, paused, preset=ramps.RampPreset.PHASED)
    await ramps.pause(operator, paused, "waiting for crash reports")
    past = datetime(2020, 1, 1, tzinfo=UTC)
    await ramps.schedule(operator, finished, [ramps.Step(10, past), ramps.Step(100, past)])
    viewer = await add_person("viewer@example.com", Role.VIEWER)
    context = await browser.new_context(base_url=console, viewport=DESKTOP)
    try:
        page = await context.new_page()
        await sign_in(page, viewer)
        sql_log.statements.clear()
        await page.goto(f"/console/apps/{yard.slug}/releases")
        badges = page.locator("tbody tr .badge.schedule")
        await expect(badges).to_have_text(
            [
                "schedule finished: step 2 of 2 (100%)",
                "paused: step 1 of 7 (1%)",
                "scheduled: step 1 of 7 (1%)",
            ]
        )
        await expect(page.locator("tbody tr").nth(0)).not_to_contain_text("schedule")  # 1.3.0
        # Every schedule of the page in two queries (the schedules, their steps).
        read = [s for s in sql_log.statements if "ramp" in s]
        assert len(read) == 2, read

        for release_id, state in (
            (paused, "Paused since"),
            (running, "Running: step 1 of 7"),
            (finished, "Finished: all 2 steps reached"),
        ):
            await page.goto(release_path(yard, release_id))
            section = page.get_by_role("region", name="Rollout schedule")
            await expect(section.locator("#schedule-state")).to_contain_text(state)
            await expect(section.locator("table.steps tbody tr")).to_have_count(
                2 if release_id == finished else 7
            )
            await expect(section.locator("form")).to_have_count(0)
            await expect(section.get_by_role("button")).to_have_count(0)
            if release_id == paused:
                await expect(section.locator("#schedule-state")).to_contain_text(
                    "by the server (console): waiting for crash reports"
                )
        assert await axe_violations(page) == []  # finished, as a viewer sees it
        await page.goto(release_path(yard, unscheduled))
        await expect(page.get_by_role("region", name="Rollout schedule")).to_have_text(
            re.compile(r"Rollout schedule\s+No rollout schedule\.")
        )
    finally:
        await context.close()
