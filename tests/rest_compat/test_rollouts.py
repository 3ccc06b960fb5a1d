"""Staged rollouts on the update path: a release offered to a share of install ids."""

from __future__ import annotations

import httpx
import pytest

from ferryman.models import Release
from ferryman.models import rollout as rollouts
from ferryman.models.actor import Actor
from ferryman.models.errors import InvalidInput, InvalidState
from ferryman.models.offer import bucket
from tests.conftest import GraphQL
from tests.support.fleet import check, ids, install_id, offered, offered_to, version_of
from tests.support.shipping import Shipyard

LINUX = ["linux-x86_64"]


async def staged(yard: Shipyard, percent: int) -> str:
    """1.0.0 to everyone and 1.1.0 to ``percent`` of installs; returns 1.1.0's id."""
    await yard.release("1.0.0", LINUX)
    release_id = await yard.release("1.1.0", LINUX)
    await rollouts.rollout(Actor.console(), release_id, percent)
    return release_id


def outside_id(release_id: str, percent: int) -> str:
    return next(i for i in ids(1000) if bucket(i, release_id) >= percent)


def inside_ids(release_id: str, percent: int, count: int) -> list[str]:
    return [i for i in ids(1000) if bucket(i, release_id) < percent][:count]


async def test_a_10_percent_rollout_reaches_about_10_percent_of_installs(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    release_id = await staged(yard, 10)
    installs = ids(10_000)

    answers = await offered_to(client, installs)

    reached = {i for i, version in answers.items() if version == "1.1.0"}
    # Release ids are random, so the count varies: 10 % ± 5 standard deviations (30 each).
    assert 850 <= len(reached) <= 1150, len(reached)
    others = {version for i, version in answers.items() if i not in reached}
    assert others == {"1.0.0"}, "an install outside the rollout must get the full release"
    assert reached == {i for i in installs if bucket(i, release_id) < 10}


async def test_an_install_gets_the_same_answer_on_every_check(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    release_id = await staged(yard, 10)
    installs = ids(300)

    first = await offered_to(client, installs)
    second = await offered_to(client, installs)  # from the edge cache, mostly
    await rollouts.rollout(Actor.console(), release_id, 10)  # the index is rebuilt
    third = await offered_to(client, installs)

    assert first == second == third
    assert set(first.values()) == {"1.0.0", "1.1.0"}


async def test_each_release_buckets_installs_independently(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str
) -> None:
    for slug in ("first", "second"):
        await staged(await Shipyard.open(client, gql, admin_key, slug), 10)
    installs = ids(1000)

    first = await offered_to(client, installs, slug="first")
    second = await offered_to(client, installs, slug="second")

    early_first = {i for i, version in first.items() if version == "1.1.0"}
    early_second = {i for i, version in second.items() if version == "1.1.0"}
    assert 50 <= len(early_first) <= 150
    assert 50 <= len(early_second) <= 150
    assert early_first != early_second
    # Independent 10 % draws share about 1 % of installs, not most of them.
    assert len(early_first & early_second) < len(early_first) // 2


async def test_an_install_without_an_id_only_gets_full_rollouts(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    release_id = await staged(yard, 99)

    assert await offered(client, None) == "1.0.0"
    assert await offered(client, install_id(1)) in ("1.0.0", "1.1.0")
    await rollouts.rollout(Actor.console(), release_id, 100)
    assert await offered(client, None) == "1.1.0"


async def test_rollout_0_reaches_nobody_and_100_everybody(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    release_id = await staged(yard, 0)
    installs = ids(500)

    assert set((await offered_to(client, installs)).values()) == {"1.0.0"}
    assert await offered(client, None) == "1.0.0"

    await rollouts.rollout(Actor.console(), release_id, 100)

    assert set((await offered_to(client, installs)).values()) == {"1.1.0"}
    assert await offered(client, None) == "1.1.0"


@pytest.mark.parametrize("percent", [101, -1])
async def test_a_percent_outside_0_to_100_is_refused(yard: Shipyard, percent: int) -> None:
    release_id = await staged(yard, 30)

    with pytest.raises(InvalidInput) as refused:
        await rollouts.rollout(Actor.console(), release_id, percent)

    assert refused.value.field == ("percent",)
    assert str(percent) in refused.value.message
    assert (await Release.get(id=release_id)).rollout_percent == 30


async def test_a_yanked_releases_rollout_cannot_change(yard: Shipyard) -> None:
    release_id = await staged(yard, 30)
    await rollouts.yank(Actor.console(), release_id, "crash on start")

    with pytest.raises(InvalidState, match="archived"):
        await rollouts.rollout(Actor.console(), release_id, 100)

    assert (await Release.get(id=release_id)).rollout_percent == 30


async def test_moving_a_rollout_takes_effect_on_the_next_check(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    release_id = await staged(yard, 10)
    install = outside_id(release_id, 10)
    assert version_of(await check(client, install)) == "1.0.0"
    warm = await check(client, install)
    assert warm.headers["cf-cache-status"] == "HIT"
    assert version_of(warm) == "1.0.0"

    await rollouts.rollout(Actor.console(), release_id, 100)

    assert await offered(client, install) == "1.1.0"

    await rollouts.rollout(Actor.console(), release_id, 0)

    assert await offered(client, install) == "1.0.0"


async def test_without_a_partial_rollout_every_install_shares_one_cache_entry(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("1.0.0", LINUX)

    first = await check(client, install_id(1))
    second = await check(client, install_id(2))

    assert first.headers["cf-cache-status"] == "MISS"
    assert second.headers["cf-cache-status"] == "HIT"
    assert second.content == first.content
    assert version_of(second) == "1.0.0"


async def test_installs_with_the_same_rollout_standing_share_a_cache_entry(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    release_id = await staged(yard, 50)
    inside, other_inside = inside_ids(release_id, 50, 2)
    outside = outside_id(release_id, 50)

    first = await check(client, inside)
    second = await check(client, other_inside)
    away = await check(client, outside)

    assert first.headers["cf-cache-status"] == "MISS"
    assert second.headers["cf-cache-status"] == "HIT"
    assert second.content == first.content
    assert version_of(second) == "1.1.0"
    assert version_of(away) == "1.0.0", "an install outside got the inside install's answer"
    assert away.content != first.content


@pytest.mark.parametrize("rollout", [10, 100], ids=["partial", "full"])
@pytest.mark.parametrize(
    "header", ["a" * 200, "abc def", "tab\tid", "é"], ids=["long", "space", "tab", "non-ascii"]
)
async def test_a_malformed_install_id_is_a_clear_uncached_400(
    client: httpx.AsyncClient, yard: Shipyard, header: str, rollout: int
) -> None:
    """Refused whether or not a rollout is under way: an app sending bad ids learns at once."""
    await staged(yard, rollout)

    response = await client.get(
        "/my-app/update/linux/x86_64/0.9.0", headers={"X-Install-Id": header.encode()}
    )

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert "X-Install-Id" in error["message"]
    assert response.headers["cache-control"] == "no-store"


async def test_a_beta_in_a_partial_rollout_stays_off_the_stable_channel(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("1.0.0", LINUX)
    beta = await yard.release("1.1.0-beta.1", LINUX, channel="beta")
    await rollouts.rollout(Actor.console(), beta, 50)
    installs = ids(400)

    stable = await offered_to(client, installs)
    named_stable = await offered_to(client, installs, channel="stable")
    on_beta = await offered_to(client, installs, channel="beta")

    assert set(stable.values()) == set(named_stable.values()) == {"1.0.0"}
    assert {i for i, v in on_beta.items() if v == "1.1.0-beta.1"} == {
        i for i in installs if bucket(i, beta) < 50
    }
    assert {v for v in on_beta.values() if v != "1.1.0-beta.1"} == {"1.0.0"}


@pytest.mark.parametrize("header", ["", "   "], ids=["empty", "blank"])
async def test_a_blank_install_id_counts_as_none(
    client: httpx.AsyncClient, yard: Shipyard, header: str
) -> None:
    await staged(yard, 99)

    response = await client.get(
        "/my-app/update/linux/x86_64/0.9.0", headers={"X-Install-Id": header}
    )

    assert version_of(response) == "1.0.0"


async def test_a_windows_style_guid_with_braces_is_an_install_id(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await staged(yard, 100)
    guid = "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}"

    response = await client.get("/my-app/update/linux/x86_64/0.9.0", headers={"X-Install-Id": guid})

    assert version_of(response) == "1.1.0"
