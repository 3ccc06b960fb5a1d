"""Screenshots of every console page, from a seeded demo (``scripts/screenshots``).

    python -m tests.screenshots --out DIR

It starts the fuzzing stage's throwaway server (``tests.fuzz_server --owner``: SQLite, a
private SeaweedFS, a published release of ``my-app`` with verified artifacts, and a console
owner's one-time link) and stops it at the end. It adds a little more through
GraphQL (a licensed app with licences, a draft release with notes, a CI key, a second
person), signs the owner in through the link in Debian's Chromium, and saves each page as
``DIR/<name>.png``: at desktop width, and the pages people use on a phone at 390 px too.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, async_playwright

from tests.console.conftest import CHROMIUM_ARGS, DESKTOP, PHONE
from tests.support.documents import (
    API_KEY_CREATE,
    APP_CREATE,
    DELIVERY_REPLAY,
    LICENSE_CREATE,
    RELEASE_CREATE,
    WEBHOOK_CREATE,
    WEBHOOK_TEST,
)

OWNER = "dana@example.com"
PASSWORD = "demo passphrase for screenshots"
READY_TIMEOUT = 120
RELEASE_NOTES = """## What's new

- **Faster sync**: notes open in half the time.
- Fixed a crash when a note title held an emoji.

See the [changelog](https://example.com/changelog) for everything.
"""
# (file name, path, also at phone width); {app} is my-app's id, {release} its draft's,
# {webhook} its signed webhook's.
PAGES: list[tuple[str, str, bool]] = [
    ("apps", "/console/apps", True),
    ("app", "/console/apps/my-app", False),
    ("app-settings", "/console/apps/my-app/settings", False),
    ("releases", "/console/apps/my-app/releases", True),
    ("release", "/console/apps/my-app/releases/{release}", True),
    ("artifacts", "/console/apps/my-app/releases/{release}/artifacts", True),
    ("app-new", "/console/apps/new", False),
    ("people", "/console/people", False),
    ("keys", "/console/keys", False),
    ("licences", "/console/apps/acme-notes/licences", True),
    ("why", "/console/why?appId={app}&platform=linux-x86_64&currentVersion=1.0.0", False),
    ("audit", "/console/audit", True),
    ("notifications", "/console/apps/my-app/notifications", True),
    ("notification", "/console/apps/my-app/notifications/{webhook}", True),
]


def read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        values[name] = shlex.split(value)[0] if value else ""
    return values


class Demo:
    """GraphQL calls as the throwaway server's admin."""

    def __init__(self, base: str, admin_key: str) -> None:
        self.client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60
        )

    def call(self, document: str, pick: Callable[[dict[str, Any]], Any], **variables: Any) -> Any:
        answer = self.client.post("/graphql", json={"query": document, "variables": variables})
        body = answer.json()
        payload = next(iter((body.get("data") or {}).values()), None) or {}
        if body.get("errors") or payload.get("userErrors"):
            raise SystemExit(f"seeding the demo failed: {body}")
        return pick(payload)

    def seed(self) -> dict[str, str]:
        """The demo's extra rows; returns the ids the page paths need."""
        my_app = self.call('{ app(slug: "my-app") { id } }', lambda p: p["id"])
        release = self.call(
            RELEASE_CREATE,
            lambda p: p["release"]["id"],
            appId=my_app,
            input={"version": "1.5.0", "notes": RELEASE_NOTES, "channel": "beta"},
        )
        self.call(
            API_KEY_CREATE,
            lambda p: p["apiKey"]["id"],
            input={"name": "GitHub Actions", "scope": "CI", "appId": my_app},
        )
        notes = self.call(
            APP_CREATE,
            lambda p: p["app"]["id"],
            input={
                "slug": "acme-notes",
                "name": "Acme Notes",
                "description": "Note taking for teams",
                "distribution": "LICENSED",
            },
        )
        start = datetime.now(UTC) - timedelta(days=200)
        for customer, days in (("Globex Ltd", 365), ("Initech", 90), ("Umbrella plc", 730)):
            self.call(
                LICENSE_CREATE,
                lambda p: p["license"]["id"],
                input={
                    "appId": notes,
                    "customer": customer,
                    "startsAt": start.isoformat(),
                    "endsAt": (start + timedelta(days=days)).isoformat(),
                },
            )
        webhook = self.seed_notifications(my_app)
        return {"app": my_app, "release": release, "webhook": webhook}

    def seed_notifications(self, app_id: str) -> str:
        """my-app's endpoints (a signed webhook with a test message sent and replayed, and
        an email list) and a Slack channel that hears every app; returns the webhook's id.
        The URLs hold addresses: the rule resolves every host, and a demo needs no DNS."""
        webhook = self.call(
            WEBHOOK_CREATE,
            lambda p: p["webhook"]["id"],
            input={
                "appId": app_id,
                "kind": "WEBHOOK",
                "url": "https://93.184.215.14/hooks/ferryman",
                "events": ["RELEASE_PUBLISHED", "RELEASE_YANKED", "CI_SUBMISSION_FAILED"],
            },
        )
        self.call(
            WEBHOOK_CREATE,
            lambda p: p["webhook"]["id"],
            input={"appId": app_id, "kind": "EMAIL", "recipients": ["release-team@example.com"]},
        )
        self.call(
            WEBHOOK_CREATE,
            lambda p: p["webhook"]["id"],
            input={"kind": "SLACK", "url": "https://93.184.215.14/services/T0/B0/demo"},
        )
        sent = self.call(WEBHOOK_TEST, lambda p: p["delivery"]["id"], id=webhook)
        self.call(DELIVERY_REPLAY, lambda p: p["delivery"]["id"], id=sent)
        return str(webhook)


async def shoot(base: str, link: str, out: Path, ids: dict[str, str]) -> list[Path]:
    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("Debian's chromium is needed: apt-get install chromium")
    saved = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = await browser.new_context(base_url=base, viewport=DESKTOP)
        page = await context.new_page()
        await page.goto("/console/sign-in")
        saved.append(await save(page, out / "sign-in.png"))
        await page.goto(link)
        await page.get_by_label("New password").fill(PASSWORD)
        await page.get_by_label("The same password again").fill(PASSWORD)
        await page.get_by_role("button", name="Save and sign in").click()
        await page.wait_for_url("**/console/apps")
        for name, path, phone in PAGES:
            await page.set_viewport_size(DESKTOP)
            await page.goto(path.format(**ids))
            saved.append(await save(page, out / f"{name}.png"))
            if phone:
                await page.set_viewport_size(PHONE)
                saved.append(await save(page, out / f"{name}-phone.png"))
        await browser.close()
    return saved


async def save(page: Page, path: Path) -> Path:
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=path, full_page=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ferryman-demo-") as workdir:
        env_file = Path(workdir) / "env"
        command = [sys.executable, "-m", "tests.fuzz_server", "--workdir", workdir]
        command += ["--env-file", str(env_file), "--owner", OWNER]
        server = subprocess.Popen(command)
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            while not env_file.exists():
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the demo server did not start (see above)")
                time.sleep(0.2)
            env = read_env(env_file)
            ids = Demo(env["FUZZ_URL"], env["FUZZ_ADMIN_KEY"]).seed()
            args.out.mkdir(parents=True, exist_ok=True)
            saved = asyncio.run(shoot(env["FUZZ_URL"], env["FUZZ_OWNER_LINK"], args.out, ids))
        finally:
            server.terminate()
            server.wait(30)
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
