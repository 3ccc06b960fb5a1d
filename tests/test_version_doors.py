"""A version the client cannot hold is refused on every door.

The client rule (the updater protocol reference, §1.2 and §2): the Tauri
updater prints its own version as semver into the check URL and parses the answer's
``version`` with the Rust ``semver`` crate after stripping leading ``v``: a full
``MAJOR.MINOR.PATCH[-pre][+build]`` in ASCII, no leading zeros, no empty identifier, and
numbers that fit in a u64 (past it the parse fails with ``value of major version number
exceeds u64::MAX``). A release the server took but the client cannot parse would break every
check of its app, so each door refuses such a version as an input error and writes nothing:
GraphQL ``releaseCreate``, ``releaseUpdate`` and ``ciReleaseSubmit``, the CI REST route, the
update check URL, and ``ferryman publish`` before it sends a single request. The boundary
(``18446744073709551615.0.0``, build metadata with leading zeros) is accepted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from ferryman.models import App, Artifact, Release
from ferryman.models.actor import KeyScope
from ferryman.models.ids import new_id
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from tests.conftest import GraphQL, make_key
from tests.support import ci
from tests.support.api import create_app, create_release
from tests.support.cli import ferryman
from tests.support.database import snapshot
from tests.support.documents import (
    CI_RELEASE_SUBMIT,
    RELEASE_ROLLBACK,
    RELEASE_UPDATE,
    operation,
)
from tests.support.refusals import assert_rest_refusal, user_error
from tests.support.rows import SIGNATURE
from tests.support.shipping import Shipyard, client_parse
from tests.support.tauri_files import APPIMAGE, DATA

PAST_U64 = "18446744073709551616.0.0"  # u64::MAX + 1
REFUSED = {
    "major-past-u64": PAST_U64,
    "minor-past-u64": "1.18446744073709551616.0",
    "patch-past-u64": "1.0.18446744073709551616",
    "arabic-indic-major": "\u0661.0.0",  # a digit to Python's int(), not to the client
    "arabic-indic-pre": "1.0.0-\u0661",
    "leading-zero-major": "01.0.0",
    "leading-zero-pre": "1.0.0-01",
    "empty-pre-identifier": "1.0.0-a..b",
}
ACCEPTED = [
    "18446744073709551615.0.0",
    "1.0.0+01",
]  # u64::MAX itself; build metadata may lead with 0

refused = pytest.mark.parametrize("version", list(REFUSED.values()), ids=list(REFUSED))


def check_url(version: str, slug: str = "my-app") -> str:
    return f"/{slug}/update/linux/x86_64/{quote(version, safe='')}"


@pytest.fixture
async def app_id(gql: GraphQL, admin_key: str) -> str:
    """The app my-app, created through the API."""
    return await create_app(gql, admin_key)


@refused
async def test_release_create_refuses_it(
    gql: GraphQL, admin_key: str, app_id: str, version: str
) -> None:
    before = await snapshot()
    result = await gql(
        operation("ReleaseCreate"),
        {"appId": app_id, "input": {"version": version}},
        key=admin_key,
    )
    payload = result["data"]["releaseCreate"]
    message = user_error(payload, "INVALID_INPUT", ["input", "version"])
    assert repr(version) in message
    assert payload["release"] is None
    assert await snapshot() == before


@refused
async def test_release_update_of_a_draft_refuses_it(
    gql: GraphQL, admin_key: str, app_id: str, version: str
) -> None:
    draft = await create_release(gql, admin_key, app_id, "1.0.0")
    before = await snapshot()
    result = await gql(RELEASE_UPDATE, {"id": draft, "input": {"version": version}}, key=admin_key)
    payload = result["data"]["releaseUpdate"]
    message = user_error(payload, "INVALID_INPUT", ["input", "version"])
    assert repr(version) in message
    assert await snapshot() == before
    assert (await Release.get(id=draft)).version == "1.0.0"


@refused
async def test_ci_release_submit_refuses_it(gql: GraphQL, app_id: str, version: str) -> None:
    key = await make_key(KeyScope.CI, app_id)
    before = await snapshot()
    variables = {"slug": "my-app", "input": {"version": version, "notes": "n"}}
    payload = (await gql(CI_RELEASE_SUBMIT, variables, key=key))["data"]["ciReleaseSubmit"]
    message = user_error(payload, "INVALID_INPUT", ["input", "version"])
    assert repr(version) in message
    assert await snapshot() == before


@refused
async def test_the_ci_route_refuses_it(
    client: httpx.AsyncClient, app_id: str, version: str
) -> None:
    key = await make_key(KeyScope.CI, app_id)
    before = await snapshot()
    response = await ci.post(client, key, ci.body(version=version))
    assert_rest_refusal(response, (400,))
    assert repr(version) in response.json()["error"]["message"]
    assert await snapshot() == before


@refused
async def test_the_update_check_refuses_it(
    client: httpx.AsyncClient, yard: Shipyard, version: str
) -> None:
    """On an app with a live release, so that only the version can make the check fail."""
    await yard.release("1.1.0", ["linux-x86_64"])
    assert (await client.get(check_url("1.0.0"))).status_code == 200
    response = await client.get(check_url(version))
    assert_rest_refusal(response, (400,))
    assert "current version" in response.json()["error"]["message"]


@refused
def test_publish_refuses_it_before_any_request(tmp_path: Path, version: str) -> None:
    """With the committed updater file (its .sig beside it) and a closed port for a server:
    a request would fail with "cannot reach", so a refusal about the version shows that
    nothing was sent."""
    result = ferryman(
        "publish", "--server", "http://127.0.0.1:9", "--app", "my-app", "--version", version,
        str(DATA / APPIMAGE), cwd=tmp_path, api_key="uk_live_" + "a" * 40,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: version: "), lines
    assert repr(version) in lines[0]
    assert "cannot reach" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("version", ACCEPTED)
async def test_the_boundary_is_accepted(
    client: httpx.AsyncClient, yard: Shipyard, version: str
) -> None:
    """The largest u64 and build metadata with leading zeros are versions the client holds:
    created, checked from, and offered."""
    assert (await client.get(check_url(version))).status_code == 204  # nothing published yet
    await yard.release(version, ["linux-x86_64"])
    offered = client_parse(await client.get(check_url("1.0.0")))
    assert offered is not None
    assert offered["version"] == version
    assert client_parse(await client.get(check_url(version))) is None


async def stored_before_the_rule(app: App) -> Release:
    """A published release with a READY artifact whose version the client cannot parse,
    written directly with the models: every door now refuses such a version."""
    release = await Release.create(
        id=new_id("rel"),
        app=app,
        version=PAST_U64,
        notes="Stored before the rule",
        channel="stable",
        status=ReleaseStatus.PUBLISHED,
        pub_date=datetime.now(UTC),
    )
    await Artifact.create(
        id=new_id("art"),
        release_id=release.id,
        platform="linux-x86_64",
        signature=SIGNATURE,
        object_key=f"{app.slug}/releases/{release.version}/linux-x86_64.bin",
        status=ArtifactStatus.READY,
        download_url=f"https://dl.example.com/{app.slug}/{release.version}/linux-x86_64",
    )
    return release


async def test_a_version_stored_before_the_rule_does_not_break_the_checks(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    """The old row is written directly with the models, because every door now refuses
    its version; the app's checks skip it and still offer the newest valid release."""
    await yard.release("1.0.5", ["linux-x86_64"])
    await stored_before_the_rule(await App.get(id=yard.app_id))
    await yard.release("1.1.0", ["linux-x86_64"])
    for url in (check_url("1.0.0"), "/my-app/update/linux-x86_64/1.0.0"):
        offered = client_parse(await client.get(url))
        assert offered is not None, url
        assert offered["version"] == "1.1.0"
    statics = client_parse(await client.get("/my-app/update/linux/1.0.0"))
    assert statics is not None
    assert statics["version"] == "1.1.0"
    assert client_parse(await client.get(check_url("1.1.0"))) is None


@pytest.fixture
async def legacy_app(yard: Shipyard) -> str:
    """my-app with 1.0.5 and 1.1.0 live, and the old row (written directly, as the doors
    refuse its version); returns the app's id."""
    for version in ("1.0.5", "1.1.0"):
        await yard.release(version, ["linux-x86_64"])
    await stored_before_the_rule(await App.get(id=yard.app_id))
    return yard.app_id


def answered(result: dict[str, Any]) -> dict[str, Any]:
    """The data of a GraphQL answer without top-level errors (an old row is no bug's excuse)."""
    assert not result.get("errors"), result
    data: dict[str, Any] = result["data"]
    return data


async def test_an_old_version_does_not_break_the_app_view(
    gql: GraphQL, admin_key: str, legacy_app: str
) -> None:
    """The old row is listed as stored, but is never the app's latest version."""
    query = (
        "query ($id: ID!) { app(id: $id) { latestVersion releaseCount "
        "releases { edges { node { version } } } } }"
    )
    app = answered(await gql(query, {"id": legacy_app}, key=admin_key))["app"]
    assert app["latestVersion"] == "1.1.0"
    versions = [edge["node"]["version"] for edge in app["releases"]["edges"]]
    assert sorted(versions) == sorted(["1.0.5", "1.1.0", PAST_U64])


async def test_an_old_version_does_not_break_the_update_preview(
    gql: GraphQL, admin_key: str, legacy_app: str
) -> None:
    query = (
        'query ($id: ID!) { updatePreview(appId: $id, target: "linux", arch: "x86_64", '
        'currentVersion: "1.0.0") { status offered { version } } }'
    )
    preview = answered(await gql(query, {"id": legacy_app}, key=admin_key))["updatePreview"]
    assert preview == {"status": 200, "offered": {"version": "1.1.0"}}


async def test_an_old_version_does_not_break_a_rollback(
    gql: GraphQL, admin_key: str, legacy_app: str
) -> None:
    """Rolling back stable yanks the newest release installs are offered (1.1.0), not the
    old row they never were."""
    variables = {"appId": legacy_app, "channel": "stable", "reason": "bad build"}
    payload = answered(await gql(RELEASE_ROLLBACK, variables, key=admin_key))
    rollback = payload["releaseRollback"]
    assert rollback["userErrors"] == [], rollback
    assert (rollback["yanked"]["version"], rollback["offered"]["version"]) == ("1.1.0", "1.0.5")
