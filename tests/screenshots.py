"""Screenshots of every console page, from a seeded demo (``scripts/screenshots``).

    python -m tests.screenshots --out DIR

It starts the fuzzing stage's throwaway server (``tests.fuzz_server --owner``: SQLite, a
private SeaweedFS, a published release of ``my-app`` with verified artifacts, and a console
owner's one-time link) and stops it at the end. It adds a little more through
GraphQL (a licensed app with licences, a draft release with notes that is the bridge to
a new signing key, a CI key, a second person), writes four weeks of my-app's usage counts
straight into its database (a simulated population of installs taking up 1.2.3), gives
1.2.3 a phased rollout schedule begun two days ago, signs the owner in through the link in
Debian's Chromium, and saves each page as ``DIR/<name>.png``: at desktop width, and the
pages people use on a phone at 390 px too; then pauses the schedule and shoots the release
again.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, async_playwright

from ferryman.analytics.sketch import InstallSketch
from ferryman.models import Release
from ferryman.models.usage import (
    LONGEST_GAP,
    NEVER,
    NO_UPDATE,
    OTHER_VERSION,
    ActiveCount,
    CheckCount,
    DownloadCount,
    SketchCount,
)
from tests.console.conftest import CHROMIUM_ARGS, DESKTOP, PHONE
from tests.fuzz_server import VERSION as NEWEST
from tests.services import sqlite_url
from tests.signing import Signer
from tests.support import usage
from tests.support.database import bound
from tests.support.documents import (
    API_KEY_CREATE,
    APP_CREATE,
    DELIVERY_REPLAY,
    LICENSE_CREATE,
    RELEASE_BRIDGE_SET,
    RELEASE_CREATE,
    RELEASE_ROLLOUT_PAUSE,
    RELEASE_ROLLOUT_SCHEDULE,
    SIGNING_KEY_ADD,
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
# {live} its published release's, {webhook} its signed webhook's.
PAGES: list[tuple[str, str, bool]] = [
    ("apps", "/console/apps", True),
    ("app", "/console/apps/my-app", False),
    ("app-settings", "/console/apps/my-app/settings", True),
    ("releases", "/console/apps/my-app/releases", True),
    ("release", "/console/apps/my-app/releases/{release}", True),
    ("release-live", "/console/apps/my-app/releases/{live}", True),
    ("analytics", "/console/apps/my-app/analytics", True),
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
# Shot once the live release's rollout schedule is paused.
PAUSED_PAGES = [("release-live-paused", "/console/apps/my-app/releases/{live}", True)]


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
        self.seed_key_rotation(my_app, release)
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

    def seed_key_rotation(self, app_id: str, bridge: str) -> None:
        """my-app moving to a new signing key, its draft marked as the bridge to it."""
        key = self.call(
            SIGNING_KEY_ADD,
            lambda p: p["signingKey"]["id"],
            appId=app_id,
            publicKey=Signer().public_key,
        )
        self.call(RELEASE_BRIDGE_SET, lambda p: p["release"]["id"], id=bridge, key=key)

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

    def schedule(self, live: str) -> None:
        """The live release's phased rollout, begun two days ago: at its third step."""
        start = datetime.now(UTC) - timedelta(days=2, hours=3)
        self.call(
            RELEASE_ROLLOUT_SCHEDULE,
            lambda p: p["release"]["id"],
            id=live,
            preset="PHASED",
            start=start.isoformat(),
            reason="the usual week-long rollout",
        )

    def pause(self, live: str) -> None:
        reason = "crash reports from Windows installs; waiting for 1.2.4"
        self.call(RELEASE_ROLLOUT_PAUSE, lambda p: p["release"]["id"], id=live, reason=reason)


# The demo's installs: (platform, weight), (country, weight), (version before 1.2.3, weight).
PLATFORMS = [
    ("darwin-aarch64", 45),
    ("windows-x86_64", 35),
    ("linux-x86_64", 15),
    ("darwin-x86_64", 5),
]
COUNTRIES = [("US", 30), ("DE", 20), ("GB", 12), ("FR", 10), ("JP", 8), ("BR", 6), ("XX", 14)]
OLDER = [("1.2.0", 62), ("1.1.0", 22), ("1.0.0", 11), (OTHER_VERSION, 5)]
INSTALLS = 1500
SIMULATED_DAYS = 60


def demo_usage(app_id: str, last: date) -> list[usage.UsageRow]:
    """my-app's daily counts up to ``last``, as the recorder would have added them up for
    installs simulated one by one (with a fixed seed): each checks on a share of the days,
    a few times each, and once 1.2.3 is out (12 days before ``last``) takes it on some
    check, downloading it; new installs keep arriving."""
    rng = random.Random(17)
    first, released = last - timedelta(days=SIMULATED_DAYS), last - timedelta(days=12)
    actives: Counter[tuple[date, str, str, int]] = Counter()
    checks: Counter[tuple[date, str, str, str]] = Counter()
    downloads: Counter[tuple[date, str, str, str]] = Counter()
    sketches: defaultdict[tuple[date, str, str], InstallSketch] = defaultdict(InstallSketch)
    for install in range(INSTALLS):
        [platform] = rng.choices(*zip(*PLATFORMS, strict=True))
        [country] = rng.choices(*zip(*COUNTRIES, strict=True))
        [version] = rng.choices(*zip(*OLDER, strict=True))
        habit, eagerness = rng.choice((0.95, 0.8, 0.5, 0.2)), rng.uniform(0.1, 0.6)
        token = usage.tokens(1, start=install)[0]
        previous: date | None = None
        for offset in range(rng.randrange(SIMULATED_DAYS), SIMULATED_DAYS + 1):
            day = first + timedelta(days=offset)
            if rng.random() > habit:
                continue
            since = (day - previous).days if previous else NEVER
            actives[day, version, platform, since if since <= LONGEST_GAP else NEVER] += 1
            sketches[day, version, platform].add(token)
            previous = day
            offered = day >= released and version != NEWEST
            answer = NEWEST if offered else NO_UPDATE
            checks[day, version, platform, answer] += rng.randint(1, 4)
            if offered and rng.random() < eagerness:
                downloads[day, NEWEST, platform, country] += 1
                version = NEWEST
    return [
        *(
            usage.active(app_id, d, gap, n, version=v, platform=p)
            for (d, v, p, gap), n in actives.items()
        ),
        *(
            usage.check(app_id, d, n, version=v, platform=p, answer=a)
            for (d, v, p, a), n in checks.items()
        ),
        *(
            usage.download(app_id, d, n, version=v, platform=p, country=c)
            for (d, v, p, c), n in downloads.items()
        ),
        *(
            SketchCount(
                app_id=app_id, day=d, version=v, platform=p, channel="stable", sketch=s.to_bytes()
            )
            for (d, v, p), s in sketches.items()
        ),
    ]


async def seed_usage(database_url: str, app_id: str) -> str:
    """Write my-app's usage counts into the demo's database, in place of the few that the
    set-up's own requests made; returns the id of its published release."""
    async with bound(database_url):
        for model in (CheckCount, ActiveCount, SketchCount, DownloadCount):
            await model.filter(app_id=app_id).delete()
        await usage.store(demo_usage(app_id, datetime.now(UTC).date()))
        live = await Release.get(app_id=app_id, version=NEWEST)
    return live.id


async def shoot(
    base: str, link: str, out: Path, ids: dict[str, str], pause: Callable[[], None]
) -> list[Path]:
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
        for shots in (PAGES, PAUSED_PAGES):
            if shots is PAUSED_PAGES:
                pause()
            for name, path, phone in shots:
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
            demo = Demo(env["FUZZ_URL"], env["FUZZ_ADMIN_KEY"])
            ids = demo.seed()
            database = sqlite_url(Path(workdir) / "ferryman.sqlite3")
            ids["live"] = live = asyncio.run(seed_usage(database, ids["app"]))
            demo.schedule(live)
            args.out.mkdir(parents=True, exist_ok=True)
            link = env["FUZZ_OWNER_LINK"]
            shots = shoot(env["FUZZ_URL"], link, args.out, ids, lambda: demo.pause(live))
            saved = asyncio.run(shots)
        finally:
            server.terminate()
            server.wait(30)
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
