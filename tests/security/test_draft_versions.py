"""A release publishes only files verified for its own version (security review, issue 12,
finding 7).

Renaming a draft from 1.5.0 to 9.0.0 after its files were verified published a 9.0.0
whose signatures say version:1.5.0 (which clients with requireSignedVersion refuse) and
whose manifest pointed at 1.5.0's key. The version of a draft with artifacts cannot
change now, and publishing checks every signed version against the release's again.
"""

from __future__ import annotations

import httpx

from ferryman.models import Release
from tests.conftest import GraphQL
from tests.support.api import payload_of
from tests.support.documents import ARTIFACT_DELETE, RELEASE_UPDATE
from tests.support.shipping import Shipyard

LINUX = "linux-x86_64"


async def test_the_version_of_a_draft_with_artifacts_cannot_change(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str
) -> None:
    yard = await Shipyard.open(client, gql, admin_key)
    release_id = await yard.draft("1.5.0")
    uploaded = await yard.upload(release_id, "1.5.0", LINUX)
    assert uploaded["artifact"]["status"] == "READY", uploaded

    refused = payload_of(
        await gql(RELEASE_UPDATE, {"id": release_id, "input": {"version": "9.0.0"}}, key=admin_key),
        "releaseUpdate",
    )

    assert refused["release"] is None
    [error] = refused["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID_STATE", ["input", "version"])
    assert LINUX in error["message"]
    assert "delete" in error["message"]
    assert (await Release.get(id=release_id)).version == "1.5.0"

    # Doing what the message says works, and the release ships its own version's file.
    deleted = await gql(ARTIFACT_DELETE, {"id": uploaded["artifact"]["id"]}, key=admin_key)
    assert deleted["data"]["artifactDelete"]["userErrors"] == []
    renamed = payload_of(
        await gql(RELEASE_UPDATE, {"id": release_id, "input": {"version": "9.0.0"}}, key=admin_key),
        "releaseUpdate",
    )
    assert renamed["userErrors"] == [], renamed
    assert (await yard.upload(release_id, "9.0.0", LINUX))["artifact"]["status"] == "READY"
    assert (await yard.publish(release_id))["userErrors"] == []
    install = yard.install("linux", "x86_64", "1.0.0")
    assert await install.update(require_signed_version=True) == "9.0.0"


async def test_publish_refuses_files_signed_for_another_version(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str
) -> None:
    # A draft renamed before versions were locked: its file still says version:1.5.0.
    yard = await Shipyard.open(client, gql, admin_key)
    release_id = await yard.draft("1.5.0")
    assert (await yard.upload(release_id, "1.5.0", LINUX))["artifact"]["status"] == "READY"
    await Release.filter(id=release_id).update(version="9.0.0")

    refused = await yard.publish(release_id)

    assert refused["release"] is None
    [error] = refused["userErrors"]
    assert error["code"] == "INVALID_STATE"
    assert "1.5.0" in error["message"]
    assert LINUX in error["message"]
    assert await yard.install("linux", "x86_64", "1.0.0").check() is None
