"""Channels on the update path: an install sees its channel and every more stable one."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from ferryman.models import app as apps
from ferryman.models import release as releases
from ferryman.models.actor import Actor
from ferryman.models.errors import InvalidInput, InvalidState
from tests.conftest import GraphQL
from tests.support.documents import APP_CREATE, CI_RELEASE_SUBMIT, RELEASE_CREATE
from tests.support.shipping import Shipyard

LINUX = ["linux-x86_64"]


async def offered(client: httpx.AsyncClient, current: str, channel: str | None) -> str | None:
    query = f"?channel={channel}" if channel else ""
    response = await client.get(f"/my-app/update/linux/x86_64/{current}{query}")
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.text
    version: str = response.json()["version"]
    return version


async def test_a_beta_user_converges_back_to_stable(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("1.0.0", LINUX)
    await yard.release("1.1.0-beta.1", LINUX, channel="beta")

    assert await offered(client, "1.0.0", None) is None  # stable sees no beta
    assert await offered(client, "1.0.0", "stable") is None
    assert await offered(client, "1.0.0", "beta") == "1.1.0-beta.1"

    await yard.release("1.1.0", LINUX)  # stable overtakes beta

    assert await offered(client, "1.1.0-beta.1", "beta") == "1.1.0"
    assert await offered(client, "1.0.0", None) == "1.1.0"


async def test_a_less_stable_channel_sees_every_more_stable_one(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("1.0.0", LINUX)
    await yard.release("1.1.0-beta.1", LINUX, channel="beta")
    await yard.release("1.2.0-alpha.1", LINUX, channel="alpha")

    assert await offered(client, "1.0.0", "nightly") == "1.2.0-alpha.1"
    assert await offered(client, "1.0.0", "alpha") == "1.2.0-alpha.1"
    assert await offered(client, "1.0.0", "beta") == "1.1.0-beta.1"
    assert await offered(client, "0.9.0", "stable") == "1.0.0"


@pytest.mark.parametrize(
    ("channel", "says"),
    [
        ("qa", "not one of this app's channels: stable, beta, alpha, nightly"),
        ("Beta", "is not a channel name"),
        ("b%00", "is not a channel name"),
    ],
    ids=["unknown", "upper-case", "nul"],
)
async def test_a_bad_channel_is_a_clear_400(
    client: httpx.AsyncClient, yard: Shipyard, channel: str, says: str
) -> None:
    await yard.release("1.0.0", LINUX)

    response = await client.get(f"/my-app/update/linux/x86_64/0.9.0?channel={channel}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_INPUT"
    assert says in response.json()["error"]["message"]


async def test_an_apps_own_order_decides(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str
) -> None:
    console = Actor.console()
    yard = await Shipyard.open(client, gql, admin_key, channels=["production", "canary"])
    await yard.release("1.0.0", LINUX)  # on the app's first channel
    await yard.release("1.1.0", LINUX, channel="canary")

    assert await offered(client, "0.9.0", None) == "1.0.0"
    assert await offered(client, "0.9.0", "canary") == "1.1.0"
    with pytest.raises(InvalidInput, match="not one of this app's channels: production, canary"):
        await releases.create(
            console, yard.app_id, releases.ReleaseChanges(version="2.0.0", channel="beta")
        )
    with pytest.raises(InvalidState, match="releases of my-app are on canary"):
        await apps.update(console, yard.app_id, apps.AppChanges(channels=["production"]))


@pytest.mark.parametrize(
    ("channels", "says"),
    [([], "1 to 16 names"), (["stable", "stable"], "twice"), (["Stable"], "not a channel name")],
    ids=["none", "twice", "upper-case"],
)
async def test_a_bad_channel_order_is_refused(
    app: Starlette, channels: list[str], says: str
) -> None:
    with pytest.raises(InvalidInput, match=says):
        await apps.create(
            Actor.console(), apps.AppChanges(slug="my-app", name="My App", channels=channels)
        )


async def test_channels_through_graphql_and_ci(gql: GraphQL, admin_key: str) -> None:
    app = (await gql(APP_CREATE, {"input": {"slug": "my-app", "name": "My App"}}, key=admin_key))[
        "data"
    ]["appCreate"]["app"]
    assert app["channels"] == ["stable", "beta", "alpha", "nightly"]

    default = await gql(
        RELEASE_CREATE, {"appId": app["id"], "input": {"version": "1.0.0"}}, key=admin_key
    )
    beta = await gql(
        RELEASE_CREATE,
        {"appId": app["id"], "input": {"version": "1.1.0-beta.1", "channel": "beta"}},
        key=admin_key,
    )
    unknown = await gql(
        RELEASE_CREATE,
        {"appId": app["id"], "input": {"version": "1.2.0", "channel": "qa"}},
        key=admin_key,
    )
    submitted = await gql(
        CI_RELEASE_SUBMIT,
        {"slug": "my-app", "input": {"version": "1.3.0", "channel": "nightly"}},
        key=admin_key,
    )

    assert default["data"]["releaseCreate"]["release"]["channel"] == "stable"
    assert beta["data"]["releaseCreate"]["release"]["channel"] == "beta"
    errors = unknown["data"]["releaseCreate"]["userErrors"]
    assert errors[0]["field"] == ["input", "channel"]
    assert "stable, beta, alpha, nightly" in errors[0]["message"]
    release = submitted["data"]["ciReleaseSubmit"]["release"]
    assert (release["version"], release["channel"]) == ("1.3.0", "nightly")
