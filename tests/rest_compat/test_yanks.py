"""Yanks and rollbacks: a withdrawn release leaves the update path on the very next check."""

from __future__ import annotations

import uuid

import httpx
import pytest

from ferryman.models import Artifact, Release
from ferryman.models import app as apps
from ferryman.models import rollout as rollouts
from ferryman.models.actor import Actor
from ferryman.models.audit_event import AuditEvent
from ferryman.models.errors import InvalidInput, InvalidState
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from tests.support.shipping import Shipyard

LINUX = ["linux-x86_64"]
NAMESPACE = uuid.UUID("0b7d4c8a-2e51-4f7e-8a0c-3c9e6d1f5a24")


async def check(
    client: httpx.AsyncClient,
    current: str,
    channel: str | None = None,
    install: str | None = None,
) -> httpx.Response:
    query = f"?channel={channel}" if channel else ""
    headers = {"X-Install-Id": install} if install is not None else {}
    return await client.get(f"/my-app/update/linux/x86_64/{current}{query}", headers=headers)


async def offered(
    client: httpx.AsyncClient,
    current: str,
    channel: str | None = None,
    install: str | None = None,
) -> str | None:
    response = await check(client, current, channel, install)
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.text
    version: str = response.json()["version"]
    return version


async def downgrades(on: bool) -> None:
    app = await apps.App.get(slug="my-app")
    await apps.update(Actor.console(), app.id, apps.AppChanges(offer_downgrade_on_yank=on))


async def test_a_yank_takes_effect_on_the_next_check(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("1.0.0", LINUX)
    newest = await yard.release("1.1.0", LINUX)
    assert await offered(client, "0.9.0") == "1.1.0"
    warm = await check(client, "0.9.0")
    assert warm.headers["cf-cache-status"] == "HIT"
    assert warm.json()["version"] == "1.1.0"

    await rollouts.yank(Actor.console(), newest, "crash on start")

    assert await offered(client, "0.9.0") == "1.0.0"


async def test_installs_on_a_yanked_release_are_offered_a_downgrade_only_when_asked(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("0.9.0", LINUX)
    await yard.release("1.0.0", LINUX)
    yanked = await yard.release("1.1.0", LINUX)
    await rollouts.yank(Actor.console(), yanked, "crash on start")

    assert await offered(client, "1.1.0") is None  # downgrades off: no update

    await downgrades(True)

    assert await offered(client, "1.1.0") == "1.0.0"  # the newest below it
    assert await offered(client, "1.0.0") is None  # not yanked: no downgrade
    assert await offered(client, "0.9.0") == "1.0.0"

    await yard.release("1.2.0", LINUX)

    assert await offered(client, "1.1.0") == "1.2.0"

    await downgrades(False)

    assert await offered(client, "1.1.0") == "1.2.0"


@pytest.mark.parametrize("downgrade", [False, True], ids=["downgrades-off", "downgrades-on"])
async def test_yanking_the_only_release_leaves_nothing_to_offer(
    client: httpx.AsyncClient, yard: Shipyard, downgrade: bool
) -> None:
    only = await yard.release("1.0.0", ["linux-x86_64", "darwin-aarch64"])
    await downgrades(downgrade)
    assert await offered(client, "0.9.0") == "1.0.0"

    await rollouts.yank(Actor.console(), only, "  crash on start  ")

    assert await offered(client, "0.9.0") is None
    assert await offered(client, "1.0.0") is None
    assert await offered(client, "0.9.0", install=str(uuid.uuid5(NAMESPACE, "1"))) is None
    release = await Release.get(id=only)
    assert release.status is ReleaseStatus.ARCHIVED
    assert release.yank_reason == "crash on start"
    assert release.yanked_at is not None
    artifacts = await Artifact.filter(release_id=only).order_by("platform")
    assert [(a.platform, a.status) for a in artifacts] == [
        ("darwin-aarch64", ArtifactStatus.READY),
        ("linux-x86_64", ArtifactStatus.READY),
    ]
    assert all(a.object_key and a.download_url for a in artifacts)


async def test_a_rollback_yanks_the_newest_and_offers_the_previous_to_everyone(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    console = Actor.console()
    await yard.release("1.0.0", LINUX)
    previous = await yard.release("1.1.0", LINUX)
    await rollouts.rollout(console, previous, 10)
    newest = await yard.release("1.2.0", LINUX)
    assert await offered(client, "0.9.0") == "1.2.0"
    assert (await check(client, "0.9.0")).headers["cf-cache-status"] == "HIT"
    app_id = (await apps.App.get(slug="my-app")).id

    yanked, offered_now = await rollouts.rollback(console, app_id, "stable", None)

    assert (yanked.id, offered_now.id) == (newest, previous)
    assert await offered(client, "0.9.0") == "1.1.0"  # no install id: only full rollouts
    installs = [str(uuid.uuid5(NAMESPACE, str(i))) for i in range(200)]
    assert {await offered(client, "0.9.0", install=i) for i in installs} == {"1.1.0"}
    assert (await Release.get(id=previous)).rollout_percent == 100
    gone = await Release.get(id=newest)
    assert gone.status is ReleaseStatus.ARCHIVED
    assert gone.yank_reason == "rolled back on stable"
    events = await AuditEvent.filter(app_id=app_id, action__startswith="release.").order_by(
        "created_at", "id"
    )
    trail = [(e.action, e.target_id, e.summary) for e in events]
    assert ("release.rollback", newest, "yanked 1.2.0: rolled back on stable") in trail
    assert (
        "release.rollback",
        previous,
        "rolled stable back from 1.2.0 to 1.1.0: rolled back on stable",
    ) in trail


async def test_a_rollback_with_nothing_before_it_is_refused(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    only = await yard.release("1.0.0", LINUX)
    app_id = (await apps.App.get(slug="my-app")).id

    with pytest.raises(InvalidState, match="releaseYank"):
        await rollouts.rollback(Actor.console(), app_id, "stable", "bad build")

    release = await Release.get(id=only)
    assert release.status is ReleaseStatus.PUBLISHED
    assert release.yanked_at is None
    assert not await AuditEvent.filter(action="release.rollback").exists()
    assert await offered(client, "0.9.0") == "1.0.0"


async def test_only_a_published_release_can_be_yanked(yard: Shipyard) -> None:
    console = Actor.console()
    draft = await yard.release("1.0.0", LINUX, publish=False)
    archived = await yard.archive(await yard.release("1.1.0", LINUX))
    yanked = await yard.release("1.2.0", LINUX)
    await rollouts.yank(console, yanked, "crash on start")

    for release_id, status in (
        (draft, ReleaseStatus.DRAFT),
        (archived, ReleaseStatus.ARCHIVED),
        (yanked, ReleaseStatus.ARCHIVED),
    ):
        before = await Release.get(id=release_id)
        with pytest.raises(InvalidState, match="only published releases can be yanked"):
            await rollouts.yank(console, release_id, "again")
        after = await Release.get(id=release_id)
        assert after.status is status
        assert (after.yanked_at, after.yank_reason) == (before.yanked_at, before.yank_reason)


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
async def test_a_yank_needs_a_reason(yard: Shipyard, reason: str) -> None:
    release_id = await yard.release("1.0.0", LINUX)

    with pytest.raises(InvalidInput) as refused:
        await rollouts.yank(Actor.console(), release_id, reason)

    assert refused.value.field == ("reason",)
    release = await Release.get(id=release_id)
    assert release.status is ReleaseStatus.PUBLISHED
    assert release.yanked_at is None


async def test_a_yanked_beta_downgrades_to_the_newest_its_channel_sees(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("1.0.0", LINUX)
    await yard.release("1.1.0-beta.1", LINUX, channel="beta")
    yanked = await yard.release("1.1.0-beta.2", LINUX, channel="beta")
    await yard.release("1.2.0-alpha.1", LINUX, channel="alpha")
    await downgrades(True)
    assert await offered(client, "1.1.0-beta.1", "beta") == "1.1.0-beta.2"

    await rollouts.yank(Actor.console(), yanked, "corrupts settings")

    assert await offered(client, "1.1.0-beta.1", "beta") is None
    assert await offered(client, "1.1.0-beta.2", "beta") == "1.1.0-beta.1"
    assert await offered(client, "1.1.0-beta.2", "stable") == "1.0.0"
    assert await offered(client, "1.1.0-beta.2", "alpha") == "1.2.0-alpha.1"


async def test_a_rollback_of_a_channel_offered_a_more_stable_release_is_refused(
    yard: Shipyard,
) -> None:
    await yard.release("1.0.0", LINUX)
    beta = await yard.release("1.1.0-beta.1", LINUX, channel="beta")
    await yard.release("1.1.0", LINUX)  # stable overtook beta
    my_app = await apps.App.get(slug="my-app")

    with pytest.raises(InvalidState) as refused:
        await rollouts.rollback(Actor.console(), my_app.id, "beta", None)

    assert "offered 1.1.0 from stable" in refused.value.message
    assert (await Release.get(id=beta)).status is ReleaseStatus.PUBLISHED
