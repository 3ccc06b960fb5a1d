"""An app's signing keys in the console: adding the next key on its settings page, marking
a draft as the bridge to it on the release's page, publishing it, the installs still
trusting each key, and retiring the old one, each through :mod:`ferryman.models.rotation`.

Keys are :class:`tests.signing.Signer` keys made in Python, and releases are rows written
through the domain rules (:func:`tests.support.rows.signed_draft`); the same rotation with
keys and signatures from the Tauri CLI is tests/test_key_rotation.py.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

from playwright.async_api import Dialog, Page, expect

from ferryman.models import App, SigningKey, rotation
from ferryman.models import app as apps
from ferryman.models import release as releases
from ferryman.models.actor import Actor, Role
from ferryman.models.errors import DomainError
from ferryman.models.signing_key import KeyState, key_id_of
from tests.console.conftest import PHONE, Person, add_person, axe_violations, sign_in
from tests.signing import Signer
from tests.support.rows import signed_draft
from tests.support.usage import active, store

BAD_KEY = "untrusted comment: not a key\nAAAA"


async def refusal(operation: Awaitable[object]) -> str:
    """What the rotation rules say when they refuse ``operation``."""
    try:
        await operation
    except DomainError as error:
        return error.message
    raise AssertionError("the rules accepted what the test expected them to refuse")


async def live_app(signer: Signer) -> App:
    """notes, signed with ``signer``'s key, with 1.0.0 published."""
    app = await apps.create(
        Actor.console(),
        apps.AppChanges(slug="notes", name="Notes", public_key=signer.public_key),
    )
    await releases.publish(Actor.console(), await signed_draft(app.id, "1.0.0", signer))
    return app


async def test_a_key_is_added_bridged_published_counted_and_retired(
    page: Page, owner: Person
) -> None:
    old, new = Signer(), Signer()
    old_id, new_id = key_id_of(old.public_key), key_id_of(new.public_key)
    app = await live_app(old)
    await sign_in(page, owner)
    await page.goto("/console/apps/notes/settings")
    keys = page.locator("#signing-keys")
    await expect(keys).to_contain_text("mark it as the bridge to the new key")
    await expect(page.get_by_label("Tauri public key")).to_be_editable()
    assert await axe_violations(page) == []

    # By keyboard: a key that is no key is refused by the field, and nothing is added.
    expected = await refusal(rotation.add(Actor.console(), app.id, BAD_KEY))
    assert not await SigningKey.filter(app_id=app.id).exists()
    await page.get_by_label("Public key of the next key").focus()
    await page.keyboard.type(BAD_KEY)
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Add the next key")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#nextKey-error")).to_have_text(expected)
    await expect(page.get_by_label("Public key of the next key")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert not await SigningKey.filter(app_id=app.id).exists()
    assert await axe_violations(page) == []

    await page.get_by_label("Public key of the next key").fill(new.public_key)
    await page.get_by_label("Public key of the next key").press("Tab")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text("Added the next key")
    await expect(page.locator(f"#key-{new_id}")).to_contain_text("NEXT")
    await expect(page.locator(f"#key-{old_id}")).to_contain_text("ACTIVE")
    await expect(page.locator(f"#key-{old_id}")).to_contain_text("signs new releases")
    # The app's key now follows its bridges: no field that could only be refused.
    await expect(page.get_by_label("Tauri public key")).to_have_count(0)
    await expect(page.get_by_role("main")).to_contain_text("it follows the signing keys")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_have_text("Settings saved.")

    # A draft signed with the new key cannot be its bridge: the rules' words, by the field.
    wrong = await signed_draft(app.id, "2.0.0", new)
    await page.goto(f"/console/apps/notes/releases/{wrong}")
    await page.get_by_label("Bridge to key").select_option(label=f"{new_id} (NEXT)")
    await page.get_by_role("button", name="Save the bridge").click()
    await expect(page.locator("#bridge-key-error")).to_contain_text("the key it would ship")
    assert (await releases.Release.get(id=wrong)).bridge_to_id is None

    bridge = await signed_draft(app.id, "1.1.0", old)
    await page.goto(f"/console/apps/notes/releases/{bridge}")
    await expect(page.get_by_role("main")).to_contain_text(f"signed with key {old_id}")
    await page.get_by_label("Bridge to key").select_option(label=f"{new_id} (NEXT)")
    await page.get_by_role("button", name="Save the bridge").click()
    await expect(page.get_by_role("status")).to_have_text("Changed which key it is the bridge to.")
    await expect(page.locator(".bridge-state")).to_contain_text(
        f"installs that run it trust {new_id} once it is published"
    )
    assert await axe_violations(page) == []
    await page.get_by_role("button", name="Publish…").click()
    await page.get_by_role("button", name="Publish 1.1.0").click()
    await expect(page.get_by_role("status")).to_contain_text("Published")
    await expect(page.locator(".bridge-state")).to_have_text(
        f"Bridge to key {new_id}: it ships the key, so installs that run it trust {new_id}."
    )
    await expect(page.get_by_label("Bridge to key")).to_have_count(0)
    assert (await App.get(id=app.id)).public_key == new.public_key.strip()
    # The files signed with the new key are now signed with an ACTIVE one.
    await page.goto(f"/console/apps/notes/releases/{wrong}/artifacts")
    await expect(page.locator("#artifact-linux-x86_64")).to_contain_text(f"key {new_id} ACTIVE")

    # Yesterday 5 installs ran 1.0.0 (trusting the old key) and 3 the bridge.
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    await store(
        [
            active(app.id, yesterday, 1, 5, version="1.0.0"),
            active(app.id, yesterday, 1, 3, version="1.1.0"),
        ]
    )
    await page.goto("/console/apps/notes/settings")
    old_row, new_row = page.locator(f"#key-{old_id}"), page.locator(f"#key-{new_id}")
    await expect(new_row).to_contain_text("ACTIVE")
    await expect(new_row).to_contain_text("signs new releases")
    await expect(new_row.get_by_role("link", name="1.1.0")).to_be_visible()
    await expect(new_row.locator("td.num")).to_have_text("3 exact")
    await expect(old_row.locator("td.num")).to_have_text("5 exact")
    await expect(page.locator("#public-key")).to_have_text(new.public_key.strip())
    await expect(new_row.get_by_role("button")).to_have_count(0)
    assert await axe_violations(page) == []

    # The key new releases are signed with has no button; asked anyway, the rules refuse.
    new_key = await SigningKey.get(app_id=app.id, key_id=new_id)
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    response = await page.request.post(
        f"/console/apps/notes/signing-keys/{new_key.id}/retire",
        form={"csrf": csrf or ""},
        headers={"Origin": page.url.split("/console")[0]},
    )
    assert response.status == 400
    assert "publish a bridge to another key first" in await response.text()

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    page.once("dialog", accept)
    await page.get_by_role("button", name=f"Retire key {old_id}").click()
    await expect(page.get_by_role("status")).to_contain_text("Retired the key")
    await expect(old_row).to_contain_text("RETIRED")
    assert (await SigningKey.get(app_id=app.id, key_id=old_id)).state is KeyState.RETIRED


async def test_readers_see_the_keys_without_controls_and_phones_do_not_scroll(
    page: Page, owner: Person
) -> None:
    old, new = Signer(), Signer()
    app = await live_app(old)
    await rotation.add(Actor.console(), app.id, new.public_key)
    bridge = await signed_draft(app.id, "1.1.0", old)
    added = await SigningKey.get(app_id=app.id, key_id=key_id_of(new.public_key))
    await rotation.set_bridge(Actor.console(), bridge, added.id)
    viewer = await add_person("viewer@example.com", Role.VIEWER)

    await page.set_viewport_size(PHONE)
    for person in (owner, viewer):
        await page.context.clear_cookies()
        await sign_in(page, person)
        await page.goto("/console/apps/notes/settings")
        await expect(page.locator("#signing-keys")).to_contain_text("NEXT")
        may = person is owner
        await expect(page.get_by_role("button", name="Retire")).to_have_count(int(may))
        await expect(page.get_by_label("Public key of the next key")).to_have_count(int(may))
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        if may:
            assert await axe_violations(page) == []
        await page.goto(f"/console/apps/notes/releases/{bridge}")
        await expect(page.locator(".bridge-state")).to_contain_text("Bridge to key")
        await expect(page.get_by_label("Bridge to key")).to_have_count(int(may))
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        if may:
            assert await axe_violations(page) == []

    # Asked without the buttons, the rules refuse a viewer each change.
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    origin = {"Origin": page.url.split("/console")[0]}
    for path, form in {
        "/console/apps/notes/signing-keys": {"nextKey": Signer().public_key},
        f"/console/apps/notes/signing-keys/{added.id}/retire": {},
        f"/console/apps/notes/releases/{bridge}/bridge": {"bridge-key": ""},
    }.items():
        response = await page.request.post(path, form={**form, "csrf": csrf or ""}, headers=origin)
        assert response.status == 403, path
    assert await SigningKey.filter(app_id=app.id).count() == 2
    assert (await SigningKey.get(id=added.id)).state is KeyState.NEXT
    assert (await releases.Release.get(id=bridge)).bridge_to_id == added.id
