"""An app list's figures stay true as releases go live and off it, though each app's
newest versions are remembered between pages (by the app's generation).

Releases here are rows with READY artifacts written through the domain rules
(:mod:`tests.support.rows`): only what is live matters."""

from __future__ import annotations

import pytest

from ferryman.models import App, Release, summary
from ferryman.models import release as releases
from ferryman.models.actor import Actor
from ferryman.versions import Version
from tests.support.rows import publish

pytestmark = pytest.mark.usefixtures("orm_url")


async def newest(slug: str) -> dict[str, str]:
    app = await App.get(slug=slug)
    figures = (await summary.summaries([app.id]))[app.id]
    return {channel: str(version) for channel, version in figures.newest.items()}


async def test_the_remembered_newest_versions_follow_every_live_change() -> None:
    await publish("notes", "1.0.0", ["linux-x86_64"])
    assert await newest("notes") == {"stable": "1.0.0"}
    assert await newest("notes") == {"stable": "1.0.0"}  # from memory, the same

    second = await publish("notes", "1.1.0", ["linux-x86_64"])
    assert await newest("notes") == {"stable": "1.1.0"}

    await releases.archive(Actor.console(), second)
    assert await newest("notes") == {"stable": "1.0.0"}


async def test_apps_without_releases_and_unknown_ids_have_empty_figures() -> None:
    await publish("notes", "2.0.0", ["linux-x86_64"])
    app = await App.get(slug="notes")
    release = await Release.get(app_id=app.id)
    figures = await summary.summaries([app.id, "app_unknown"])
    assert figures[app.id].latest == Version.parse("2.0.0")
    assert figures[app.id].releases == 1
    assert figures["app_unknown"].newest == {}
    assert figures["app_unknown"].latest is None
    assert release.version == "2.0.0"
