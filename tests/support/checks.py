"""Update checks as the recorder is handed them: the ASGI scope of a check the updater
route answered, and the rows a recorder's flushes left, summed by their labels."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime
from typing import Any

from tortoise import connections

from ferryman.analytics.recorder import INSTALL_ID, LAST_CHECK, USER_AGENT
from ferryman.models import app as apps
from ferryman.models import release as releases
from ferryman.models.actor import Actor
from ferryman.models.usage import ActiveCount, CheckCount, DownloadCount

PLATFORM = ("darwin", "aarch64")


@dataclasses.dataclass
class Clock:
    """A wall clock the test moves by hand (a recorder's ``clock``)."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


async def new_app(slug: str = "my-app", versions: tuple[str, ...] = (), **changes: Any) -> str:
    """An app with draft releases of ``versions`` (a check's version is counted as its own
    once the app has any release of it); returns its id."""
    console = Actor.console()
    app = await apps.create(console, apps.AppChanges(slug=slug, name=slug, **changes))
    for version in versions:
        await releases.create(console, app.id, releases.ReleaseChanges(version=version))
    return app.id


async def rename_table(table: str, to: str) -> None:
    """Rename a table under the running app, so the database refuses what writes it (and
    takes it again once renamed back)."""
    await connections.get("default").execute_script(f"ALTER TABLE {table} RENAME TO {to}")


def check_scope(
    slug: str = "my-app",
    current: str = "1.0.0",
    *,
    platform: tuple[str, str] = PLATFORM,
    channel: str | None = None,
    install: str | None = None,
    last_check: str | None = None,
    agent: str = "tauri-updater",
    address: str = "192.0.2.1",
) -> dict[str, Any]:
    """The scope of ``GET /{slug}/update/{os}/{arch}/{current}[?channel=]`` with the
    headers an updater sends (an install id and last check day only when given)."""
    os, arch = platform
    path = f"/{slug}/update/{os}/{arch}/{current}"
    headers = [(USER_AGENT, agent.encode())]
    if install is not None:
        headers.append((INSTALL_ID, install.encode()))
    if last_check is not None:
        headers.append((LAST_CHECK, last_check.encode()))
    return {
        "type": "http",
        "raw_path": path.replace("+", "%2B").encode(),
        "path": path,
        "query_string": f"channel={channel}".encode() if channel else b"",
        "headers": headers,
        "state": {"client_ip": address},
    }


async def checks_by(*labels: str) -> Counter[tuple[Any, ...]]:
    """Check counts summed by ``labels`` (columns of check_counts)."""
    return _summed(await CheckCount.all().values_list(*labels, "checks"))


async def actives_by(*labels: str) -> Counter[tuple[Any, ...]]:
    return _summed(await ActiveCount.all().values_list(*labels, "installs"))


async def downloads_by(*labels: str) -> Counter[tuple[Any, ...]]:
    return _summed(await DownloadCount.all().values_list(*labels, "downloads"))


def _summed(rows: list[Any]) -> Counter[tuple[Any, ...]]:
    summed: Counter[tuple[Any, ...]] = Counter()
    for *labels, count in rows:
        summed[tuple(labels)] += count
    return summed
