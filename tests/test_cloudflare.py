"""Purging Cloudflare by tag, against a local server that answers like its API.

Releases are rows written directly (:mod:`tests.support.rows`): the subject is the purges.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette

from ferryman.app import create_app
from ferryman.cloudflare import CloudflarePurger, PurgeFailed
from ferryman.models import EdgePurge
from ferryman.models import app as apps
from ferryman.models.actor import Actor
from ferryman.settings import Settings
from tests.services import FakeCloudflare
from tests.support import rows


@pytest.fixture
def cloudflare() -> Iterator[FakeCloudflare]:
    fake = FakeCloudflare()
    yield fake
    fake.close()


@pytest.fixture
def cf_settings(settings: Settings, cloudflare: FakeCloudflare) -> Settings:
    return dataclasses.replace(
        settings,
        cloudflare_zone_id="zone123",
        cloudflare_api_token="cf-token",
        cloudflare_api_url=cloudflare.url,
    )


@pytest.fixture
async def purger(cf_settings: Settings, app: Starlette) -> CloudflarePurger:
    return CloudflarePurger(cf_settings, second_purge=3600)


async def test_a_publish_purges_its_apps_tag(
    purger: CloudflarePurger, cloudflare: FakeCloudflare
) -> None:
    await rows.publish("my-app", "1.0.0", ["linux-x86_64"])
    await purger.sync()
    assert cloudflare.purged == [["app:my-app"]]
    path, headers, _ = cloudflare.calls[0]
    assert path == "/client/v4/zones/zone123/purge_cache"
    assert headers["Authorization"] == "Bearer cf-token"
    await purger.sync()  # nothing changed since: no call
    assert len(cloudflare.calls) == 1
    await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
    await rows.publish("other", "1.0.0", ["linux-x86_64"])
    await purger.sync()
    assert cloudflare.purged[1:] == [["app:my-app", "app:other"]]


async def test_a_failed_purge_stays_owed_until_it_succeeds(
    purger: CloudflarePurger, cloudflare: FakeCloudflare
) -> None:
    await rows.publish("my-app", "1.0.0", ["linux-x86_64"])
    cloudflare.fail_next = 1
    with pytest.raises(PurgeFailed, match="refused with 500"):
        await purger.sync()
    assert await EdgePurge.all().count() == 0
    await purger.sync()
    assert cloudflare.purged == [["app:my-app"], ["app:my-app"]]
    assert await EdgePurge.get(app_id=(await apps.App.get(slug="my-app")).id)


async def test_a_rename_purges_both_slugs_and_a_removal_its_last(
    purger: CloudflarePurger, cloudflare: FakeCloudflare
) -> None:
    app = await apps.create(Actor.console(), apps.AppChanges(slug="old-name", name="A"))
    await purger.sync()
    await apps.update(Actor.console(), app.id, apps.AppChanges(slug="new-name"))
    await purger.sync()
    await apps.delete(Actor.console(), app.id)
    await purger.sync()
    assert cloudflare.purged == [
        ["app:old-name"],
        ["app:new-name", "app:old-name"],
        ["app:new-name"],
    ]
    assert await EdgePurge.all().count() == 0


async def test_the_second_purge_follows(
    cf_settings: Settings, app: Starlette, cloudflare: FakeCloudflare
) -> None:
    purger = CloudflarePurger(cf_settings, second_purge=0)
    await rows.publish("my-app", "1.0.0", ["linux-x86_64"])
    await purger.sync()
    await purger.sync()
    assert cloudflare.purged == [["app:my-app"], ["app:my-app"]]


async def test_the_server_purges_in_the_background(
    cf_settings: Settings, cloudflare: FakeCloudflare
) -> None:
    application = create_app(cf_settings)
    async with application.router.lifespan_context(application):
        await rows.publish("my-app", "1.0.0", ["linux-x86_64"])
        for _ in range(100):
            if ["app:my-app"] in cloudflare.purged:
                break
            await asyncio.sleep(0.05)
        assert ["app:my-app"] in cloudflare.purged
