"""What console tests of several pages share: the keyboard, dialogs, and changes posted
straight to a page (as a person without the button would)."""

from __future__ import annotations

from playwright.async_api import Dialog, Locator, Page

from ferryman.models import App
from ferryman.models import app as apps
from ferryman.models.actor import Actor

# Shown as text, it does nothing; run as HTML, it opens a dialog the tests would see.
XSS = "<img src=x onerror=alert(1)>"


async def make_app(slug: str, name: str | None = None) -> App:
    return await apps.create(Actor.console(), apps.AppChanges(slug=slug, name=name or slug))


class Dialogs:
    """Every dialog the page opens, accepted (a confirm() says yes)."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        page.on("dialog", self._accept)

    async def _accept(self, dialog: Dialog) -> None:
        self.messages.append(dialog.message)
        await dialog.accept()


async def tab_to(page: Page, target: Locator, limit: int = 60) -> None:
    """Press Tab until ``target`` has the focus, as a person without a mouse does."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{target} never got the focus in {limit} presses of Tab")


async def post_form(page: Page, path: str, form: dict[str, str]) -> int:
    """POST ``form`` with the page's CSRF token, from the page's origin; the status."""
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    origin = page.url.split("/console")[0]
    response = await page.request.post(
        path, form={**form, "csrf": csrf or ""}, headers={"Origin": origin}
    )
    return response.status
