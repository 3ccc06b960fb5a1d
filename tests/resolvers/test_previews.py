"""updatePreview: the route's own answer, and a reason for every newer release."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ferryman.models import Artifact, Release
from ferryman.models import rollout as rollouts
from ferryman.models.actor import Actor
from ferryman.models.offer import bucket
from ferryman.models.status import ArtifactStatus
from tests.conftest import GraphQL
from tests.support.documents import UPDATE_PREVIEW
from tests.support.licences import lapsed_licence
from tests.support.shipping import Shipyard

LINUX = {"target": "linux", "arch": "x86_64"}


async def test_preview_explains_every_newer_release(
    gql: GraphQL, admin_key: str, yard: Shipyard, client: httpx.AsyncClient
) -> None:
    await yard.release("0.95.0", ["darwin-aarch64"])
    await yard.release("1.0.0", ["darwin-aarch64"])
    await yard.release("1.1.0", ["darwin-aarch64"], publish=False)
    await yard.archive(await yard.release("1.2.0", ["darwin-aarch64"]))
    await yard.release("1.3.0", ["linux-x86_64"])
    pending = await yard.release("1.4.0", ["linux-x86_64"])
    # A file whose check failed, as a row: only its status matters here.
    await Artifact.create(
        id="art_01JDXXXXXXXXXXXXXXXXXXXXXX",
        release_id=pending,
        platform="darwin-aarch64",
        signature="s",
        object_key="k",
        status=ArtifactStatus.FAILED,
        failure_reason="object not found",
    )
    app_id = yard.app_id
    variables = {"appId": app_id, "target": "darwin", "arch": "aarch64", "current": "0.9.0"}

    preview = (await gql(UPDATE_PREVIEW, variables, key=admin_key))["data"]["updatePreview"]

    assert preview["status"] == 200
    assert preview["platformKey"] == "darwin-aarch64"
    assert preview["offered"] == {"version": "1.0.0"}
    route = await client.get("/my-app/update/darwin/aarch64/0.9.0")
    assert json.loads(preview["manifest"]) == route.json()
    reasons = [(s["release"]["version"], s["reason"]) for s in preview["skipped"]]
    assert reasons == [
        ("1.4.0", "ARTIFACT_NOT_READY"),
        ("1.3.0", "NO_ARTIFACT"),
        ("1.2.0", "ARCHIVED"),
        ("1.1.0", "DRAFT"),
        ("0.95.0", "SUPERSEDED"),
    ]
    details = {s["release"]["version"]: s["detail"] for s in preview["skipped"]}
    assert "object not found" in details["1.4.0"]
    assert "it has: linux-x86_64" in details["1.3.0"]


async def test_preview_of_an_up_to_date_install(
    gql: GraphQL, admin_key: str, yard: Shipyard
) -> None:
    await yard.release("1.0.0", ["linux-x86_64-deb", "linux-x86_64"])
    app_id = yard.app_id
    variables = {
        "appId": app_id,
        "target": "linux",
        "arch": "x86_64",
        "current": "1.0.0",
        "bundle": "deb",
    }
    preview = (await gql(UPDATE_PREVIEW, variables, key=admin_key))["data"]["updatePreview"]
    assert preview == {
        "status": 204,
        "platformKey": "linux-x86_64-deb",
        "servedKey": None,
        "notes": [],
        "manifest": None,
        "offered": None,
        "refusal": None,
        "trustedKeyId": None,
        "skipped": [],
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"target": "macos"}, "not a platform"),
        ({"arch": "x64"}, "not a platform"),
        ({"bundle": "deb", "target": "windows"}, "not a platform"),
        ({"current": "1.2"}, "not a version"),
        ({"appId": "app_01JDXXXXXXXXXXXXXXXXXXXXXX"}, "not found"),
    ],
)
async def test_preview_refuses_bad_values(
    gql: GraphQL, admin_key: str, yard: Shipyard, changes: dict[str, str], message: str
) -> None:
    await yard.release("1.0.0", ["linux-x86_64"])
    app_id = yard.app_id
    variables = {
        "appId": app_id,
        "target": "linux",
        "arch": "x86_64",
        "current": "0.1.0",
        **changes,
    }
    result = await gql(UPDATE_PREVIEW, variables, key=admin_key)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert message in result["errors"][0]["message"]


async def test_preview_explains_a_release_on_a_less_stable_channel(
    gql: GraphQL, admin_key: str, yard: Shipyard, client: httpx.AsyncClient
) -> None:
    await yard.release("1.0.0", ["linux-x86_64"])
    await yard.release("1.1.0-beta.1", ["linux-x86_64"], channel="beta")
    app_id = yard.app_id

    on_stable = await gql(
        UPDATE_PREVIEW, {**LINUX, "appId": app_id, "current": "0.9.0"}, key=admin_key
    )
    on_beta = await gql(
        UPDATE_PREVIEW,
        {**LINUX, "appId": app_id, "current": "0.9.0", "channel": "beta"},
        key=admin_key,
    )
    unknown = await gql(
        UPDATE_PREVIEW,
        {**LINUX, "appId": app_id, "current": "0.9.0", "channel": "qa"},
        key=admin_key,
    )

    stable_preview = on_stable["data"]["updatePreview"]
    assert stable_preview["offered"] == {"version": "1.0.0"}
    assert stable_preview["skipped"] == [
        {
            "release": {"version": "1.1.0-beta.1", "status": "PUBLISHED"},
            "reason": "CHANNEL",
            "detail": "it is on beta; this install sees stable",
        }
    ]
    assert on_beta["data"]["updatePreview"]["offered"] == {"version": "1.1.0-beta.1"}
    route = await client.get("/my-app/update/linux/x86_64/0.9.0?channel=beta")
    assert route.json()["version"] == "1.1.0-beta.1"
    assert unknown["data"] is None
    assert "not one of this app's channels" in unknown["errors"][0]["message"]


async def test_preview_explains_licence_rollout_and_yank(
    gql: GraphQL, admin_key: str, yard: Shipyard
) -> None:
    console = Actor.console()
    old = await yard.release("1.0.0", ["linux-x86_64"])
    app_id = yard.app_id
    await Release.filter(id=old).update(pub_date=datetime.now(UTC) - timedelta(days=100))
    yanked = await yard.release("1.1.0", ["linux-x86_64"])
    await rollouts.yank(console, yanked, "corrupts settings")
    staged = await yard.release("1.2.0", ["linux-x86_64"])
    await rollouts.rollout(console, staged, 10)
    await yard.release("1.3.0", ["linux-x86_64"])
    outside = next(f"install-{n}" for n in range(1000) if bucket(f"install-{n}", staged) >= 10)
    key = await lapsed_licence(app_id)
    variables = {
        **LINUX,
        "appId": app_id,
        "current": "0.9.0",
        "installId": outside,
        "licenseKey": key,
    }

    preview = (await gql(UPDATE_PREVIEW, variables, key=admin_key))["data"]["updatePreview"]

    assert preview["status"] == 200
    assert preview["offered"] == {"version": "1.0.0"}
    reasons = {s["release"]["version"]: (s["reason"], s["detail"]) for s in preview["skipped"]}
    assert reasons["1.3.0"][0] == "LICENSE"
    assert "outside the licence's coverage" in reasons["1.3.0"][1]
    assert reasons["1.2.0"][0] == "LICENSE"  # coverage is judged before the rollout
    assert reasons["1.1.0"] == ("YANKED", "it was yanked: corrupts settings")

    variables["licenseKey"] = None
    refused = (await gql(UPDATE_PREVIEW, variables, key=admin_key))["data"]["updatePreview"]
    assert refused["status"] == 401
    assert refused["offered"] is None
    reasons = {s["release"]["version"]: (s["reason"], s["detail"]) for s in refused["skipped"]}
    assert {version for version, (reason, _) in reasons.items() if reason == "LICENSE"} == {
        "1.0.0",
        "1.2.0",
        "1.3.0",
    }
    assert "the check is refused (401): updates of my-app need a licence" in reasons["1.0.0"][1]


async def test_preview_explains_a_rollout_bucket(
    gql: GraphQL, admin_key: str, yard: Shipyard
) -> None:
    await yard.release("1.0.0", ["linux-x86_64"])
    staged = await yard.release("1.1.0", ["linux-x86_64"])
    await rollouts.rollout(Actor.console(), staged, 10)
    app_id = yard.app_id
    outside = next(f"install-{n}" for n in range(1000) if bucket(f"install-{n}", staged) >= 10)

    answers = {}
    for install_id in (outside, None):
        variables = {**LINUX, "appId": app_id, "current": "0.9.0", "installId": install_id}
        answers[install_id] = (await gql(UPDATE_PREVIEW, variables, key=admin_key))["data"][
            "updatePreview"
        ]

    for preview in answers.values():
        assert preview["offered"] == {"version": "1.0.0"}
        (skipped,) = preview["skipped"]
        assert skipped["reason"] == "ROLLOUT"
        assert "rolled out to 10% of installs" in skipped["detail"]
    assert f"bucket {bucket(outside, staged)}" in answers[outside]["skipped"][0]["detail"]
    assert "without an install id" in answers[None]["skipped"][0]["detail"]


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"licenseKey": "lk_short"}, "malformed licence key"),
        ({"installId": "has space"}, "installId: must be 1 to 128 visible ASCII"),
    ],
    ids=["malformed-key", "bad-install-id"],
)
async def test_preview_refuses_a_bad_key_or_install_id(
    gql: GraphQL, admin_key: str, yard: Shipyard, variables: dict[str, str], says: str
) -> None:
    await yard.release("1.0.0", ["linux-x86_64"])
    app_id = yard.app_id
    await lapsed_licence(app_id)

    answer = await gql(
        UPDATE_PREVIEW, {**LINUX, "appId": app_id, "current": "0.9.0", **variables}, key=admin_key
    )

    assert answer["data"] is None
    error = answer["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert says in error["message"]


async def test_preview_answers_an_unknown_key_as_the_route_does(
    gql: GraphQL, admin_key: str, yard: Shipyard, client: httpx.AsyncClient
) -> None:
    """One judgement for both doors: a well-formed key that is not the app's is a 401."""
    await yard.release("1.0.0", ["linux-x86_64"])
    app_id = yard.app_id
    await lapsed_licence(app_id)
    stranger = "lk_" + "N" * 40

    answer = await gql(
        UPDATE_PREVIEW,
        {**LINUX, "appId": app_id, "current": "0.9.0", "licenseKey": stranger},
        key=admin_key,
    )
    route = await client.get(
        "/my-app/update/linux/x86_64/0.9.0", headers={"X-License-Key": stranger}
    )

    preview = answer["data"]["updatePreview"]
    assert (preview["status"], route.status_code) == (401, 401)
    (skipped,) = preview["skipped"]
    assert route.json()["error"]["message"] in skipped["detail"]
    assert preview["refusal"] == route.json()["error"]["message"]
