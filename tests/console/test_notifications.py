"""Notification endpoints in the console: an app's tab and the page of those that hear
every app; a webhook from creation (its secret shown once) through test messages, a
publish, replays, changes, disabling, rotation and deletion; the rules' refusals shown by
their field; and viewers and other apps' admins changing nothing, in the pages or in
GraphQL.

The dispatcher is off, so every delivery stays pending as written. URLs hold public
addresses written as such: the rule resolves every host, and a test must not depend on DNS.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, expect

from ferryman.models import AuditEvent, Delivery, Notification, Webhook
from ferryman.models import notification as notifications
from ferryman.models import webhook as webhooks
from ferryman.models.actor import Actor, Role
from ferryman.models.webhook import Event, Kind
from tests.console.conftest import PHONE, Person, add_person, axe_violations, sign_in
from tests.console.test_graphql import post, token_of
from tests.support import rows
from tests.support.console import XSS, Dialogs, make_app, post_form, tab_to

PUBLIC = "https://93.184.215.14"
SECRET = re.compile(r"whsec_[A-Za-z0-9+/]{40,}={0,2}")


async def endpoint(app_id: str | None, kind: Kind = Kind.WEBHOOK, **changes: Any) -> Webhook:
    """An endpoint made through the rules, as an owner at the server would."""
    values = {"url": f"{PUBLIC}/hook"} if kind is not Kind.EMAIL else {}
    made, _ = await webhooks.create(
        Actor.console(),
        app_id,
        kind,
        webhooks.WebhookChanges(**{**values, **changes}),
        allow_private=False,
    )
    return made


async def state() -> dict[str, list[dict[str, Any]]]:
    """Every row a notification change could write: to prove a refusal wrote none."""
    return {
        model.__name__: await model.all().order_by("id").values()
        for model in (Webhook, Notification, Delivery, AuditEvent)
    }


async def test_a_webhook_from_creation_to_deletion(page: Page, owner: Person) -> None:
    dialogs = Dialogs(page)
    await make_app("alpha", "Alpha")
    await sign_in(page, owner)
    await page.goto("/console/apps/alpha")
    tabs = page.get_by_role("navigation", name="Alpha")
    await tabs.get_by_role("link", name="Notifications").click()
    await expect(tabs.get_by_role("link", name="Notifications")).to_have_attribute(
        "aria-current", "page"
    )
    await expect(page.get_by_text("No endpoints yet.")).to_be_visible()
    assert await axe_violations(page) == []

    url = f"{PUBLIC}/hooks/{XSS}"
    await page.get_by_label("URL", exact=True).fill(url)
    await page.get_by_label("release.published").check()
    await page.get_by_role("button", name="Add endpoint").click()
    await expect(page.get_by_role("heading", name=f"Created a webhook to {url}")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("shown only this once")
    await expect(page.get_by_role("button", name="Copy secret")).to_be_visible()
    await expect(page.locator("#new-secret")).to_have_text(SECRET)
    assert await axe_violations(page) == []
    secret = (await page.locator("#new-secret").text_content() or "").strip()
    made = await Webhook.get(url=url)
    assert (made.secret, made.events, made.kind) == (secret, ["release.published"], Kind.WEBHOOK)
    assert "whsec" not in page.url

    await page.get_by_role("link", name="Open the endpoint").click()
    assert secret not in await page.content()
    await expect(page.locator("dl.facts")).to_contain_text(url)
    assert await axe_violations(page) == []

    await page.get_by_role("button", name="Send a test message").click()
    await expect(page.get_by_role("status")).to_contain_text("A test message is on its way")
    deliveries = page.locator("table.deliveries tbody tr")
    await expect(deliveries).to_have_count(1)
    await expect(deliveries.first).to_contain_text("webhook.test")
    await expect(deliveries.first).to_contain_text("pending")
    assert await axe_violations(page) == []

    await rows.publish("alpha", "1.0.0", ["linux-x86_64"])  # the endpoint hears it
    await page.reload()
    await expect(deliveries).to_have_count(2)
    await expect(deliveries.first).to_contain_text("release.published")
    test = await Delivery.filter(webhook_id=made.id).order_by("id").first()
    assert test is not None
    await page.get_by_role("button", name=f"Replay webhook.test ({test.id})").click()
    await expect(page.get_by_role("status")).to_contain_text("on its way again")
    await expect(deliveries).to_have_count(3)
    again = await Delivery.filter(webhook_id=made.id).order_by("-id").first()
    assert again is not None
    assert (again.notification_id, again.id != test.id) == (test.notification_id, True)

    change = page.get_by_role("form", name="Change")
    await change.get_by_label("release.published").uncheck()
    await change.get_by_label("release.archived").check()
    await change.get_by_label("Messages on their way at once").fill("8")
    await change.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    changed = await Webhook.get(id=made.id)
    assert (changed.events, changed.max_in_flight, changed.url) == (["release.archived"], 8, url)

    await page.get_by_role("button", name="Disable").click()
    await expect(page.get_by_role("status")).to_contain_text("Disabled")
    assert not (await Webhook.get(id=made.id)).enabled
    await page.get_by_role("button", name=f"Replay webhook.test ({test.id})").click()
    await expect(page.locator("#form-error")).to_contain_text("enable it before replaying")
    assert await Delivery.filter(webhook_id=made.id).count() == 3
    await page.goto(f"/console/apps/alpha/notifications/{made.id}")
    await page.get_by_role("button", name="Enable").click()
    await expect(page.get_by_role("status")).to_contain_text("Enabled")

    await page.get_by_role("button", name="Rotate the secret and show the new one once").click()
    await expect(page.get_by_role("heading", name="New signing secret")).to_be_visible()
    await expect(page.get_by_text("signed with the previous secret too")).to_be_visible()
    rotated = (await page.locator("#new-secret").text_content() or "").strip()
    row = await Webhook.get(id=made.id)
    assert (row.secret, row.previous_secret) == (rotated, secret)
    assert await axe_violations(page) == []

    await page.get_by_role("button", name="Delete endpoint").click()
    await expect(page.get_by_role("status")).to_contain_text("Deleted the endpoint")
    await expect(page.get_by_text("No endpoints yet.")).to_be_visible()
    assert not await Webhook.filter(id=made.id).exists()
    assert [e.action for e in await AuditEvent.filter(target_id=made.id).order_by("id")] == [
        "webhook.create",
        "webhook.test",
        "webhook.update",
        "webhook.update",
        "webhook.update",
        "webhook.rotate_secret",
        "webhook.delete",
    ]
    # Only the two confirmations: the URL never ran as HTML.
    assert [message.split("?")[0] for message in dialogs.messages] == [
        "Make a new signing secret",
        f"Delete the endpoint that sends to {url}, with its deliveries",
    ]


async def test_email_and_chat_endpoints_and_the_rules_refusals(page: Page, owner: Person) -> None:
    dialogs = Dialogs(page)
    await make_app("alpha", "Alpha")
    await sign_in(page, owner)
    await page.goto("/console/apps/alpha/notifications")
    add = page.get_by_role("button", name="Add endpoint")

    await page.get_by_label("Email", exact=True).check()
    await page.get_by_label("Email recipients").fill(f"ops@example.com\n{XSS}")
    await add.click()
    error = page.locator("#recipients-error")
    await expect(error).to_have_text(f"{XSS!r} is not an email address (name@example.com)")
    await expect(page.get_by_label("Email recipients")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Email", exact=True)).to_be_checked()  # the form kept
    assert await axe_violations(page) == []

    await page.get_by_label("Email recipients").fill("ops@example.com")
    await page.get_by_label("URL", exact=True).fill(f"{PUBLIC}/hook")
    await add.click()
    await expect(page.locator("#url-error")).to_have_text(
        "an EMAIL endpoint has recipients, not a URL"
    )

    await page.get_by_label("Webhook (signed").check()
    await page.get_by_label("Email recipients").fill("")
    await page.get_by_label("URL", exact=True).fill("http://127.0.0.1:9/hook")
    await add.click()
    await expect(page.locator("#url-error")).to_contain_text("127.0.0.1, an internal address")
    await page.get_by_label("URL", exact=True).fill(f"{PUBLIC}/hook")
    await page.get_by_label("Messages on their way at once").fill("lots")
    await add.click()
    await expect(page.locator("#maxInFlight-error")).to_contain_text("not a whole number")
    await page.get_by_label("Messages on their way at once").fill("99")
    await add.click()
    await expect(page.locator("#maxInFlight-error")).to_have_text(
        "maxInFlight must be from 1 to 16, got 99"
    )
    assert await Webhook.all().count() == 0

    await page.get_by_label("Messages on their way at once").fill("")
    await page.get_by_label("URL", exact=True).fill("")
    await page.get_by_label("Email", exact=True).check()
    await page.get_by_label("Email recipients").fill("ops@example.com, dev@example.org")
    await add.click()
    await expect(page.get_by_role("status")).to_contain_text("Created")
    await expect(page.locator("dl.facts")).to_contain_text("ops@example.com, dev@example.org")
    await expect(page.get_by_role("button", name="Rotate the secret")).to_have_count(0)
    await expect(page.get_by_role("heading", name="New signing secret")).to_have_count(0)
    email = await Webhook.get(kind=Kind.EMAIL)
    assert (email.recipients, email.events, email.secret) == (
        "ops@example.com,dev@example.org",
        [],
        None,
    )
    change = page.get_by_role("form", name="Change")
    await expect(change.get_by_label("URL", exact=True)).to_have_count(0)  # email has none
    await change.get_by_label("Email recipients").fill("nobody")
    await change.get_by_role("button", name="Save changes").click()
    await expect(page.locator("#recipients-error")).to_contain_text("is not an email address")
    assert (await Webhook.get(id=email.id)).recipients == "ops@example.com,dev@example.org"

    await page.goto("/console/apps/alpha/notifications")
    await page.get_by_label("Slack incoming webhook").check()
    await page.get_by_label("URL", exact=True).fill(f"{PUBLIC}/services/T0/B0/x")
    await add.click()
    await expect(page.get_by_role("status")).to_contain_text("Created")
    await page.get_by_role("link", name="All notification endpoints").click()
    listed = page.locator("table.endpoints tbody tr")
    await expect(listed).to_have_count(2)
    await expect(listed.first).to_contain_text("Slack incoming webhook")
    await expect(listed.nth(1)).to_contain_text("ops@example.com, dev@example.org")
    await expect(listed.nth(1)).to_contain_text("none yet")
    assert dialogs.messages == []


async def test_endpoints_for_every_app_are_a_global_admins(page: Page, owner: Person) -> None:
    alpha = await make_app("alpha", "Alpha")
    await sign_in(page, owner)
    await (
        page.get_by_role("navigation", name="Main")
        .get_by_role("link", name="Notifications")
        .click()
    )
    await expect(page.get_by_role("heading", name="Notifications for every app")).to_be_visible()
    assert await axe_violations(page) == []
    await page.get_by_label("Discord webhook").check()
    await page.get_by_label("URL", exact=True).fill(f"{PUBLIC}/api/webhooks/1/a")
    await page.get_by_label("api_key.created").check()
    await page.get_by_role("button", name="Add endpoint").click()
    await expect(page.get_by_role("status")).to_contain_text("Created")
    assert "/console/notifications/whk_" in page.url
    assert await axe_violations(page) == []
    everyone = await Webhook.get(kind=Kind.DISCORD)
    assert (everyone.app_id, everyone.events) == (None, ["api_key.created"])
    await page.get_by_role("button", name="Send a test message").click()
    await page.get_by_role("link", name="All endpoints for every app").click()
    await expect(page.locator("table.endpoints tbody tr")).to_contain_text("pending")
    # An app's endpoint is not found under the other place's path, nor the other way.
    mine = await endpoint(alpha.id)
    for path in (
        f"/console/notifications/{mine.id}",
        f"/console/apps/alpha/notifications/{everyone.id}",
    ):
        await page.goto(path)
        await expect(page.get_by_role("heading", name="Not found")).to_be_visible()

    limited = await add_person("alpha@example.com", Role.ADMIN, frozenset({alpha.id}))
    await page.context.clear_cookies()
    await sign_in(page, limited)
    main = page.get_by_role("navigation", name="Main")
    await expect(main.get_by_role("link", name="Notifications")).to_have_count(0)
    await page.goto("/console/notifications")
    await expect(page.get_by_text("Only people who work on every app")).to_be_visible()
    await expect(page.get_by_role("button", name="Add endpoint")).to_have_count(0)
    await expect(page.locator("table.endpoints")).to_have_count(0)
    assert await axe_violations(page) == []
    before = await state()
    form = {"kind": "WEBHOOK", "url": f"{PUBLIC}/x"}
    assert await post_form(page, "/console/notifications", form) == 400
    for action in ("", "/test", "/disable", "/rotate", "/delete"):
        assert await post_form(page, f"/console/notifications/{everyone.id}{action}", {}) == 404
    assert await state() == before


async def test_an_endpoint_made_with_the_keyboard_alone_on_a_phone(
    page: Page, owner: Person
) -> None:
    await make_app("alpha", "Alpha")
    await page.set_viewport_size(PHONE)
    await sign_in(page, owner)
    await page.goto("/console/apps/alpha/notifications")
    await tab_to(page, page.get_by_label("Webhook (signed"))  # the kind chosen at first
    await page.keyboard.press("ArrowDown")
    await tab_to(page, page.get_by_label("URL", exact=True))
    await page.keyboard.type(f"{PUBLIC}/services/T0/B0/x")
    await tab_to(page, page.get_by_label("release.yanked"))
    await page.keyboard.press("Space")
    await tab_to(page, page.get_by_role("button", name="Add endpoint"))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text("Created")
    made = await Webhook.get(kind=Kind.SLACK)
    assert (made.url, made.events) == (f"{PUBLIC}/services/T0/B0/x", ["release.yanked"])
    await tab_to(page, page.get_by_role("button", name="Send a test message"))
    await page.keyboard.press("Enter")
    await expect(page.locator("table.deliveries tbody tr")).to_have_count(1)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert await axe_violations(page) == []
    await page.get_by_role("link", name="All notification endpoints").click()
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert await axe_violations(page) == []


async def test_viewers_and_other_apps_admins_change_nothing(page: Page, owner: Person) -> None:
    alpha = await make_app("alpha", "Alpha")
    beta = await make_app("beta", "Beta")
    theirs = await endpoint(beta.id, events=[Event.RELEASE_PUBLISHED.value])
    everyone = await endpoint(None, Kind.EMAIL, recipients=["ops@example.com"])
    sent = await notifications.send_test(Actor.console(), theirs.id)
    beta_path = f"/console/apps/beta/notifications/{theirs.id}"
    changes: list[tuple[str, dict[str, str]]] = [
        ("/console/apps/beta/notifications", {"kind": "SLACK", "url": f"{PUBLIC}/x"}),
        (beta_path, {"url": f"{PUBLIC}/moved"}),
        *((f"{beta_path}/{action}", {}) for action in ("disable", "rotate", "test", "delete")),
        (f"{beta_path}/deliveries/{sent.id}/replay", {}),
        (f"/console/notifications/{everyone.id}/enable", {}),
        ("/console/notifications", {"kind": "EMAIL", "recipients": "v@example.com"}),
    ]

    viewer = await add_person("viewer@example.com", Role.VIEWER)
    await sign_in(page, viewer)
    await page.goto(beta_path)
    await expect(page.locator("table.deliveries tbody tr")).to_have_count(1)
    for button in ("Send a test message", "Save changes", "Disable", "Delete endpoint", "Replay"):
        await expect(page.get_by_role("button", name=button)).to_have_count(0)
    assert await axe_violations(page) == []
    await page.goto("/console/notifications")
    await expect(page.locator("table.endpoints tbody tr")).to_have_count(1)
    await expect(page.get_by_role("button", name="Add endpoint")).to_have_count(0)
    before = await state()
    for path, form in changes:
        assert await post_form(page, path, form) == 403, path
    # GraphQL, as the viewer's session: reading is theirs, changing is not.
    headers = {"x-csrftoken": await token_of(page), "Origin": page.url.split("/console")[0]}
    read = await (await post(page, "{ webhooks { totalCount } }", headers)).json()
    assert read["data"] == {"webhooks": {"totalCount": 2}}, read
    create = (
        'mutation { webhookCreate(input: {kind: SLACK, url: "https://93.184.215.14/x"}) '
        "{ webhook { id } userErrors { message } } }"
    )
    refused = await (await post(page, create, headers)).json()
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"], refused
    assert "viewers change nothing" in refused["errors"][0]["message"]
    assert await state() == before

    limited = await add_person("alpha@example.com", Role.ADMIN, frozenset({alpha.id}))
    await page.context.clear_cookies()
    await sign_in(page, limited)
    await page.goto("/console/apps/alpha/notifications")
    await expect(page.get_by_role("button", name="Add endpoint")).to_be_visible()
    before = await state()  # the person and their sign-in are on the trail
    # Another app's endpoints, and those of every app, are not there at all for them.
    await page.goto(beta_path)
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    for path, form in changes[:-1]:
        assert await post_form(page, path, form) == 404, path
    assert await post_form(page, *changes[-1]) == 400  # the rule names the missing app
    assert await state() == before
