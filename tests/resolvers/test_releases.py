"""releaseCreate / releaseUpdate / releaseDelete / releasePublish / releaseArchive, and
releaseRollout / releaseYank / releaseRollback / releaseSetCoverageDate.

READY artifacts here are rows without a file (:mod:`tests.support.rows`): the subject is
the API, not what an updater is offered.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ferryman.models import AuditEvent, Release
from ferryman.models.actor import KeyScope
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from tests.conftest import GraphQL, make_key
from tests.support.api import create_app, create_release, update_app
from tests.support.database import snapshot
from tests.support.documents import (
    RELEASE_ARCHIVE,
    RELEASE_CREATE,
    RELEASE_DELETE,
    RELEASE_ROLLBACK,
    RELEASE_ROLLOUT,
    RELEASE_SET_COVERAGE_DATE,
    RELEASE_UPDATE,
    RELEASE_YANK,
    VIEWER,
)
from tests.support.refusals import top_error, user_error
from tests.support.rows import add_artifact, published_release

RELEASE_PUBLISH = """
mutation ($id: ID!) {
  releasePublish(id: $id) {
    release { id version status pubDate }
    userErrors { field message code }
  }
}
"""

NOTES_MAX = 100_000


async def _create(
    gql: GraphQL, key: str, app_id: str, version: str, notes: str | None = None
) -> Any:
    variables = {"appId": app_id, "input": {"version": version, "notes": notes}}
    return (await gql(RELEASE_CREATE, variables, key=key))["data"]["releaseCreate"]


# --- releaseCreate ----------------------------------------------------------------


async def test_release_create_starts_a_draft(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)

    payload = await _create(gql, admin_key, app_id, "1.2.3-beta.1+45", "## Fixes")

    assert payload["userErrors"] == []
    release = payload["release"]
    assert release["id"].startswith("rel_")
    assert release["version"] == "1.2.3-beta.1+45"
    assert release["notes"] == "## Fixes"
    assert release["status"] == "DRAFT"
    assert release["pubDate"] is None
    stored = await Release.get(id=release["id"])
    assert (stored.app_id, stored.version, stored.status) == (
        app_id,
        "1.2.3-beta.1+45",
        ReleaseStatus.DRAFT,
    )


async def test_release_create_stores_the_canonical_version(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)

    payload = await _create(gql, admin_key, app_id, "v2.0.0")

    assert payload["userErrors"] == []
    assert payload["release"]["version"] == "2.0.0"
    assert (await Release.get(id=payload["release"]["id"])).version == "2.0.0"
    found = await gql(
        'query ($id: ID!) { app(id: $id) { a: release(version: "2.0.0") { id } '
        'b: release(version: "v2.0.0") { id } c: release(version: "2.0.1") { id } } }',
        {"id": app_id},
        key=admin_key,
    )
    assert found["data"]["app"] == {
        "a": {"id": payload["release"]["id"]},
        "b": {"id": payload["release"]["id"]},
        "c": None,
    }


@pytest.mark.parametrize(("first", "second"), [("1.0.0", "1.0.0"), ("1.0.0", "v1.0.0")])
async def test_release_create_refuses_a_duplicate_version(
    gql: GraphQL, admin_key: str, first: str, second: str
) -> None:
    app_id = await create_app(gql, admin_key, slug="my-app")
    await create_release(gql, admin_key, app_id, first)
    before = await snapshot()

    payload = await _create(gql, admin_key, app_id, second)

    assert payload["release"] is None
    message = user_error(payload, "TAKEN", ["input", "version"])
    assert message == "app my-app already has a release 1.0.0"
    assert await snapshot() == before


async def test_the_same_version_in_two_apps_is_fine(gql: GraphQL, admin_key: str) -> None:
    first = await create_app(gql, admin_key, slug="first")
    second = await create_app(gql, admin_key, slug="second")
    await create_release(gql, admin_key, first, "1.0.0")

    payload = await _create(gql, admin_key, second, "1.0.0")

    assert payload["userErrors"] == []
    assert await Release.filter(version="1.0.0").count() == 2


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.2", "is not a version"),
        ("01.2.3", "without leading zeros"),
        ("1.2.3 ", "white space"),
        (" 1.2.3", "white space"),
        ("latest", "is not a version"),
        ("", "is not a version"),
        ("1.2.3.4", "is not a version"),
        ("1" * 129 + ".0.0", "longer than 128"),
    ],
)
async def test_release_create_refuses_an_invalid_version(
    gql: GraphQL, admin_key: str, version: str, expected: str
) -> None:
    app_id = await create_app(gql, admin_key)
    before = await snapshot()

    payload = await _create(gql, admin_key, app_id, version)

    assert payload["release"] is None
    message = user_error(payload, "INVALID_INPUT", ["input", "version"])
    assert expected in message
    assert await snapshot() == before
    assert await Release.all().count() == 0


async def test_release_create_accepts_notes_of_exactly_the_limit(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)

    payload = await _create(gql, admin_key, app_id, "1.0.0", "n" * NOTES_MAX)

    assert payload["userErrors"] == []
    stored = await Release.get(id=payload["release"]["id"])
    assert stored.notes is not None
    assert len(stored.notes) == NOTES_MAX


async def test_release_create_refuses_notes_over_the_limit(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    before = await snapshot()

    payload = await _create(gql, admin_key, app_id, "1.0.0", "n" * (NOTES_MAX + 1))

    assert payload["release"] is None
    message = user_error(payload, "INVALID_INPUT", ["input", "notes"])
    assert "100,001" in message
    assert "100,000" in message
    assert await snapshot() == before


async def test_release_notes_refuse_nul_characters(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await create_release(gql, admin_key, app_id, "1.0.0", "clean")
    before = await snapshot()

    created = await _create(gql, admin_key, app_id, "2.0.0", "binary\x00junk")
    updated = await gql(
        RELEASE_UPDATE, {"id": release_id, "input": {"notes": "binary\x00junk"}}, key=admin_key
    )

    assert "NUL" in user_error(created, "INVALID_INPUT", ["input", "notes"])
    assert "NUL" in user_error(
        updated["data"]["releaseUpdate"], "INVALID_INPUT", ["input", "notes"]
    )
    assert await snapshot() == before


async def test_release_create_for_an_unknown_app(gql: GraphQL, admin_key: str) -> None:
    await create_app(gql, admin_key)
    before = await snapshot()

    unknown = await _create(gql, admin_key, "app_01ARZ3NDEKTSV4RRFFQ69G5FAV", "1.0.0")
    malformed = await _create(gql, admin_key, "my-app", "1.0.0")

    user_error(unknown, "NOT_FOUND", ["appId"])
    assert "app_" in user_error(malformed, "INVALID_INPUT", ["appId"])
    assert await snapshot() == before


# --- releaseUpdate ----------------------------------------------------------------


async def test_release_update_edits_a_draft(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await create_release(gql, admin_key, app_id, "1.0.0", "old notes")

    result = await gql(
        RELEASE_UPDATE,
        {"id": release_id, "input": {"version": "v1.0.1", "notes": "new"}},
        key=admin_key,
    )

    payload = result["data"]["releaseUpdate"]
    assert payload["userErrors"] == []
    assert payload["release"] == {
        "id": release_id,
        "version": "1.0.1",
        "notes": "new",
        "status": "DRAFT",
    }
    stored = await Release.get(id=release_id)
    assert (stored.version, stored.notes) == ("1.0.1", "new")


async def test_release_update_refuses_a_version_taken_by_another_release(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key, slug="my-app")
    await create_release(gql, admin_key, app_id, "1.0.0")
    second = await create_release(gql, admin_key, app_id, "1.1.0")
    before = await snapshot()

    result = await gql(
        RELEASE_UPDATE, {"id": second, "input": {"version": "v1.0.0"}}, key=admin_key
    )

    payload = result["data"]["releaseUpdate"]
    assert payload["release"] is None
    assert user_error(payload, "TAKEN", ["input", "version"]) == (
        "app my-app already has a release 1.0.0"
    )
    assert await snapshot() == before


@pytest.mark.parametrize("version", ["1.2", "01.2.3", "1.2.3 ", "latest"])
async def test_release_update_refuses_an_invalid_version(
    gql: GraphQL, admin_key: str, version: str
) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await create_release(gql, admin_key, app_id, "1.0.0")
    before = await snapshot()

    result = await gql(
        RELEASE_UPDATE, {"id": release_id, "input": {"version": version}}, key=admin_key
    )

    user_error(result["data"]["releaseUpdate"], "INVALID_INPUT", ["input", "version"])
    assert await snapshot() == before


async def test_release_update_notes_limit(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await create_release(gql, admin_key, app_id, "1.0.0", "short")
    before = await snapshot()

    too_long = await gql(
        RELEASE_UPDATE,
        {"id": release_id, "input": {"notes": "n" * (NOTES_MAX + 1)}},
        key=admin_key,
    )
    assert await snapshot() == before
    exact = await gql(
        RELEASE_UPDATE, {"id": release_id, "input": {"notes": "n" * NOTES_MAX}}, key=admin_key
    )

    user_error(too_long["data"]["releaseUpdate"], "INVALID_INPUT", ["input", "notes"])
    assert exact["data"]["releaseUpdate"]["userErrors"] == []
    stored = await Release.get(id=release_id)
    assert stored.notes is not None
    assert len(stored.notes) == NOTES_MAX


async def test_release_update_refuses_a_version_change_once_published(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")
    before = await snapshot()

    result = await gql(
        RELEASE_UPDATE,
        {"id": release_id, "input": {"version": "1.0.1", "notes": "x"}},
        key=admin_key,
    )

    payload = result["data"]["releaseUpdate"]
    assert payload["release"] is None
    message = user_error(payload, "INVALID_STATE", ["input", "version"])
    assert "published release cannot change" in message
    assert await snapshot() == before


async def test_release_update_edits_the_notes_of_a_published_release(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")

    # Sending the unchanged version (even spelled with a v) is not a version change.
    result = await gql(
        RELEASE_UPDATE,
        {"id": release_id, "input": {"version": "v1.0.0", "notes": "fixed typo"}},
        key=admin_key,
    )

    payload = result["data"]["releaseUpdate"]
    assert payload["userErrors"] == []
    assert payload["release"]["notes"] == "fixed typo"
    assert payload["release"]["status"] == "PUBLISHED"
    assert (await Release.get(id=release_id)).notes == "fixed typo"


async def test_release_update_of_an_unknown_release(gql: GraphQL, admin_key: str) -> None:
    await create_app(gql, admin_key)
    before = await snapshot()

    unknown = await gql(
        RELEASE_UPDATE,
        {"id": "rel_01ARZ3NDEKTSV4RRFFQ69G5FAV", "input": {"notes": "x"}},
        key=admin_key,
    )
    malformed = await gql(RELEASE_UPDATE, {"id": "1.0.0", "input": {"notes": "x"}}, key=admin_key)

    user_error(unknown["data"]["releaseUpdate"], "NOT_FOUND", ["id"])
    assert "rel_" in user_error(malformed["data"]["releaseUpdate"], "INVALID_INPUT", ["id"])
    assert await snapshot() == before


# --- releaseDelete ----------------------------------------------------------------


async def test_release_delete_removes_a_draft(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await create_release(gql, admin_key, app_id, "1.0.0")
    kept = await create_release(gql, admin_key, app_id, "1.1.0")

    result = await gql(RELEASE_DELETE, {"id": release_id}, key=admin_key)

    assert result["data"]["releaseDelete"] == {"deletedReleaseId": release_id, "userErrors": []}
    assert [r.id for r in await Release.all()] == [kept]


async def test_release_delete_refuses_a_published_release(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")
    before = await snapshot()

    result = await gql(RELEASE_DELETE, {"id": release_id}, key=admin_key)

    payload = result["data"]["releaseDelete"]
    assert payload["deletedReleaseId"] is None
    message = user_error(payload, "INVALID_STATE", ["id"])
    assert "is published" in message
    assert "only drafts can be deleted" in message
    assert "archive it instead" in message
    assert await snapshot() == before


async def test_release_delete_refuses_an_archived_release(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")
    await gql(RELEASE_ARCHIVE, {"id": release_id}, key=admin_key)
    before = await snapshot()

    result = await gql(RELEASE_DELETE, {"id": release_id}, key=admin_key)

    assert "is archived" in user_error(result["data"]["releaseDelete"], "INVALID_STATE", ["id"])
    assert await snapshot() == before


# --- releasePublish ---------------------------------------------------------------


async def test_release_publish_makes_a_draft_live(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await create_release(gql, admin_key, app_id, "1.0.0")
    await add_artifact(release_id)
    started = datetime.now(UTC)

    result = await gql(RELEASE_PUBLISH, {"id": release_id}, key=admin_key)

    payload = result["data"]["releasePublish"]
    assert payload["userErrors"] == []
    assert payload["release"]["status"] == "PUBLISHED"
    pub_date = datetime.fromisoformat(payload["release"]["pubDate"])
    assert started - timedelta(seconds=1) <= pub_date <= datetime.now(UTC) + timedelta(seconds=1)
    stored = await Release.get(id=release_id)
    assert stored.status is ReleaseStatus.PUBLISHED
    assert stored.pub_date is not None
    assert abs(stored.pub_date - pub_date) < timedelta(seconds=1)


@pytest.mark.parametrize(
    "artifacts",
    [
        [],
        [ArtifactStatus.PENDING],
        [ArtifactStatus.FAILED, ArtifactStatus.PENDING],
        [ArtifactStatus.READY, ArtifactStatus.FAILED],
    ],
)
async def test_release_publish_needs_a_ready_artifact(
    gql: GraphQL, admin_key: str, artifacts: list[ArtifactStatus]
) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await create_release(gql, admin_key, app_id, "1.0.0")
    platforms = ["darwin-aarch64", "linux-x86_64"]
    for platform, status in zip(platforms, artifacts, strict=False):
        await add_artifact(release_id, platform, status)
    before = await snapshot()

    result = await gql(RELEASE_PUBLISH, {"id": release_id}, key=admin_key)

    payload = result["data"]["releasePublish"]
    assert payload["release"] is None
    message = user_error(payload, "INVALID_STATE", ["id"])
    if not artifacts:
        assert "no READY artifact" in message
    for platform, status in zip(platforms, artifacts, strict=False):
        named = f"{platform} ({status.value})"
        assert (named in message) == (status is not ArtifactStatus.READY), message
    assert await snapshot() == before
    stored = await Release.get(id=release_id)
    assert stored.status is ReleaseStatus.DRAFT
    assert stored.pub_date is None


async def test_release_publish_twice_is_refused(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")
    before = await snapshot()

    result = await gql(RELEASE_PUBLISH, {"id": release_id}, key=admin_key)

    payload = result["data"]["releasePublish"]
    assert payload["release"] is None
    assert "already published" in user_error(payload, "INVALID_STATE", ["id"])
    assert await snapshot() == before


async def test_an_archived_release_cannot_be_published_again(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")
    await gql(RELEASE_ARCHIVE, {"id": release_id}, key=admin_key)
    before = await snapshot()

    result = await gql(RELEASE_PUBLISH, {"id": release_id}, key=admin_key)

    assert "already archived" in user_error(
        result["data"]["releasePublish"], "INVALID_STATE", ["id"]
    )
    assert await snapshot() == before


async def test_release_publish_of_an_unknown_release(gql: GraphQL, admin_key: str) -> None:
    await create_app(gql, admin_key)
    before = await snapshot()

    result = await gql(RELEASE_PUBLISH, {"id": "rel_01ARZ3NDEKTSV4RRFFQ69G5FAV"}, key=admin_key)

    user_error(result["data"]["releasePublish"], "NOT_FOUND", ["id"])
    assert await snapshot() == before


# --- releaseArchive ---------------------------------------------------------------


async def test_release_archive_takes_a_release_off_the_update_path(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")
    pub_date = (await Release.get(id=release_id)).pub_date

    result = await gql(RELEASE_ARCHIVE, {"id": release_id}, key=admin_key)

    payload = result["data"]["releaseArchive"]
    assert payload["userErrors"] == []
    assert payload["release"]["status"] == "ARCHIVED"
    assert payload["release"]["pubDate"] is not None
    stored = await Release.get(id=release_id)
    assert stored.status is ReleaseStatus.ARCHIVED
    assert stored.pub_date == pub_date


async def test_release_archive_refuses_a_draft(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await create_release(gql, admin_key, app_id, "1.0.0")
    await add_artifact(release_id)
    before = await snapshot()

    result = await gql(RELEASE_ARCHIVE, {"id": release_id}, key=admin_key)

    payload = result["data"]["releaseArchive"]
    assert payload["release"] is None
    message = user_error(payload, "INVALID_STATE", ["id"])
    assert "is draft" in message
    assert "only published releases can be archived" in message
    assert await snapshot() == before


async def test_release_archive_twice_is_refused(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")
    await gql(RELEASE_ARCHIVE, {"id": release_id}, key=admin_key)
    before = await snapshot()

    result = await gql(RELEASE_ARCHIVE, {"id": release_id}, key=admin_key)

    assert "is archived" in user_error(result["data"]["releaseArchive"], "INVALID_STATE", ["id"])
    assert await snapshot() == before


# --- reading releases -------------------------------------------------------------


async def test_release_node_shows_its_app_and_artifacts(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key, slug="my-app")
    release_id = await create_release(gql, admin_key, app_id, "1.0.0")
    artifact_id = await add_artifact(release_id, "linux-x86_64-deb", ArtifactStatus.PENDING)

    result = await gql(
        "query ($id: ID!) { node(id: $id) { ... on Release { version status app { slug } "
        "artifacts { id platform status release { id } } } } }",
        {"id": release_id},
        key=admin_key,
    )

    assert result == {
        "data": {
            "node": {
                "version": "1.0.0",
                "status": "DRAFT",
                "app": {"slug": "my-app"},
                "artifacts": [
                    {
                        "id": artifact_id,
                        "platform": "linux-x86_64-deb",
                        "status": "PENDING",
                        "release": {"id": release_id},
                    }
                ],
            }
        }
    }


async def test_app_releases_filter_by_status(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    draft = await create_release(gql, admin_key, app_id, "2.0.0")
    live = await published_release(gql, admin_key, app_id, "1.0.0")

    result = await gql(
        "query ($id: ID!) { app(id: $id) { "
        "drafts: releases(status: DRAFT) { totalCount edges { node { id } } } "
        "live: releases(status: PUBLISHED) { totalCount edges { node { id } } } "
        "all: releases { totalCount } } }",
        {"id": app_id},
        key=admin_key,
    )

    app = result["data"]["app"]
    assert app["drafts"] == {"totalCount": 1, "edges": [{"node": {"id": draft}}]}
    assert app["live"] == {"totalCount": 1, "edges": [{"node": {"id": live}}]}
    assert app["all"] == {"totalCount": 2}


# --- releaseRollout ---------------------------------------------------------------


async def test_a_new_release_is_fully_rolled_out_and_not_yanked(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await create_release(gql, admin_key, app_id, "1.0.0")

    result = await gql(
        "query ($id: ID!) { node(id: $id) { ... on Release { rolloutPercent yankedAt "
        "yankReason coverageDate effectiveDate } } }",
        {"id": release_id},
        key=admin_key,
    )

    assert result["data"]["node"] == {
        "rolloutPercent": 100,
        "yankedAt": None,
        "yankReason": None,
        "coverageDate": None,
        "effectiveDate": None,
    }


@pytest.mark.parametrize("percent", [0, 100, 25])
async def test_release_rollout_accepts_0_to_100(gql: GraphQL, admin_key: str, percent: int) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")
    await gql(RELEASE_ROLLOUT, {"id": release_id, "percent": 50}, key=admin_key)

    result = await gql(RELEASE_ROLLOUT, {"id": release_id, "percent": percent}, key=admin_key)

    assert result["data"]["releaseRollout"] == {
        "release": {"id": release_id, "rolloutPercent": percent, "status": "PUBLISHED"},
        "userErrors": [],
    }
    assert (await Release.get(id=release_id)).rollout_percent == percent


@pytest.mark.parametrize("percent", [101, -1])
async def test_release_rollout_refuses_a_percent_outside_0_to_100(
    gql: GraphQL, admin_key: str, percent: int
) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")
    await gql(RELEASE_ROLLOUT, {"id": release_id, "percent": 30}, key=admin_key)
    before = await snapshot()

    result = await gql(RELEASE_ROLLOUT, {"id": release_id, "percent": percent}, key=admin_key)

    payload = result["data"]["releaseRollout"]
    assert payload["release"] is None
    message = user_error(payload, "INVALID_INPUT", ["percent"])
    assert "percent" in message
    assert "0 to 100" in message
    assert str(percent) in message
    assert await snapshot() == before
    assert (await Release.get(id=release_id)).rollout_percent == 30


async def test_release_rollout_is_audited(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")

    await gql(RELEASE_ROLLOUT, {"id": release_id, "percent": 10}, key=admin_key)

    event = await AuditEvent.filter(target_id=release_id, action="release.rollout").get()
    assert "10%" in event.summary


async def test_a_ci_key_rolls_out_only_where_it_may_publish(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")
    ci_key = await make_key(KeyScope.CI, app_id, name="ci")
    await gql(VIEWER, key=ci_key)
    before = await snapshot()

    refused = await gql(RELEASE_ROLLOUT, {"id": release_id, "percent": 20}, key=ci_key)
    assert await snapshot() == before
    await update_app(gql, admin_key, app_id, ciMayPublish=True)
    allowed = await gql(RELEASE_ROLLOUT, {"id": release_id, "percent": 20}, key=ci_key)

    assert "admin key" in top_error(refused, "FORBIDDEN")["message"]
    assert allowed["data"]["releaseRollout"]["userErrors"] == []
    assert (await Release.get(id=release_id)).rollout_percent == 20


# --- releaseYank ------------------------------------------------------------------


async def test_release_yank_archives_at_once_with_its_reason(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")
    started = datetime.now(UTC)

    result = await gql(
        RELEASE_YANK, {"id": release_id, "reason": "  crashes on start  "}, key=admin_key
    )

    payload = result["data"]["releaseYank"]
    assert payload["userErrors"] == []
    release = payload["release"]
    assert release["status"] == "ARCHIVED"
    assert release["yankReason"] == "crashes on start"
    yanked_at = datetime.fromisoformat(release["yankedAt"])
    assert started - timedelta(seconds=1) <= yanked_at <= datetime.now(UTC)
    stored = await Release.get(id=release_id)
    assert (stored.status, stored.yank_reason) == (ReleaseStatus.ARCHIVED, "crashes on start")
    event = await AuditEvent.filter(target_id=release_id, action="release.yank").get()
    assert "crashes on start" in event.summary


@pytest.mark.parametrize("reason", ["", "   ", "r" * 501])
async def test_release_yank_needs_a_reason(gql: GraphQL, admin_key: str, reason: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")
    before = await snapshot()

    result = await gql(RELEASE_YANK, {"id": release_id, "reason": reason}, key=admin_key)

    payload = result["data"]["releaseYank"]
    assert payload["release"] is None
    assert "not blank" in user_error(payload, "INVALID_INPUT", ["reason"])
    assert await snapshot() == before


async def test_release_yank_refuses_a_draft(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await create_release(gql, admin_key, app_id, "1.0.0")
    before = await snapshot()

    result = await gql(RELEASE_YANK, {"id": release_id, "reason": "bad"}, key=admin_key)

    payload = result["data"]["releaseYank"]
    assert payload["release"] is None
    message = user_error(payload, "INVALID_STATE", ["id"])
    assert "is draft" in message
    assert "only published releases can be yanked" in message
    assert await snapshot() == before


# --- releaseRollback --------------------------------------------------------------


async def test_release_rollback_yanks_the_newest_and_offers_the_previous(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    previous = await published_release(gql, admin_key, app_id, "1.0.0")
    newest = await published_release(gql, admin_key, app_id, "1.1.0")
    await gql(RELEASE_ROLLOUT, {"id": previous, "percent": 40}, key=admin_key)

    result = await gql(
        RELEASE_ROLLBACK,
        {"appId": app_id, "channel": "stable", "reason": "data loss"},
        key=admin_key,
    )

    payload = result["data"]["releaseRollback"]
    assert payload["userErrors"] == []
    assert payload["yanked"]["id"] == newest
    assert payload["yanked"]["status"] == "ARCHIVED"
    assert payload["yanked"]["yankReason"] == "data loss"
    assert payload["yanked"]["yankedAt"] is not None
    assert payload["offered"] == {
        "id": previous,
        "version": "1.0.0",
        "status": "PUBLISHED",
        "rolloutPercent": 100,
    }
    assert (await Release.get(id=newest)).status is ReleaseStatus.ARCHIVED
    assert (await Release.get(id=previous)).rollout_percent == 100
    actions = {e.action for e in await AuditEvent.filter(app_id=app_id)}
    assert "release.rollback" in actions


async def test_release_rollback_without_a_reason_says_what_happened(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    await published_release(gql, admin_key, app_id, "1.0.0")
    newest = await published_release(gql, admin_key, app_id, "1.1.0")

    result = await gql(RELEASE_ROLLBACK, {"appId": app_id, "channel": "stable"}, key=admin_key)

    assert result["data"]["releaseRollback"]["yanked"]["yankReason"] == "rolled back on stable"
    assert (await Release.get(id=newest)).yank_reason == "rolled back on stable"


async def test_release_rollback_with_nothing_to_roll_back_to(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    await published_release(gql, admin_key, app_id, "1.0.0")
    before = await snapshot()

    result = await gql(RELEASE_ROLLBACK, {"appId": app_id, "channel": "stable"}, key=admin_key)

    payload = result["data"]["releaseRollback"]
    assert payload["yanked"] is None
    assert payload["offered"] is None
    message = user_error(payload, "INVALID_STATE", ["channel"])
    assert "nothing to roll back to" in message
    assert "releaseYank" in message
    assert await snapshot() == before


@pytest.mark.parametrize(
    ("channel", "code", "expected"),
    [
        ("beta", "INVALID_STATE", "beta installs of my-app are offered 1.0.0 from stable"),
        ("qa", "INVALID_INPUT", "qa"),
    ],
)
async def test_release_rollback_of_a_channel_without_releases(
    gql: GraphQL, admin_key: str, channel: str, code: str, expected: str
) -> None:
    app_id = await create_app(gql, admin_key, slug="my-app")
    await published_release(gql, admin_key, app_id, "1.0.0")
    before = await snapshot()

    result = await gql(RELEASE_ROLLBACK, {"appId": app_id, "channel": channel}, key=admin_key)

    assert expected in user_error(result["data"]["releaseRollback"], code, ["channel"])
    assert await snapshot() == before


# --- releaseSetCoverageDate -------------------------------------------------------


async def test_an_earlier_coverage_date_changes_the_effective_date(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.1")
    earlier = datetime(2024, 6, 1, tzinfo=UTC)

    result = await gql(
        RELEASE_SET_COVERAGE_DATE,
        {"id": release_id, "coverageDate": earlier.isoformat(), "reason": "security fix"},
        key=admin_key,
    )

    payload = result["data"]["releaseSetCoverageDate"]
    assert payload["userErrors"] == []
    release = payload["release"]
    assert datetime.fromisoformat(release["coverageDate"]) == earlier
    assert datetime.fromisoformat(release["effectiveDate"]) == earlier
    assert datetime.fromisoformat(release["pubDate"]) > earlier
    assert (await Release.get(id=release_id)).coverage_date == earlier
    event = await AuditEvent.filter(target_id=release_id, action="release.coverage_date").get()
    assert "security fix" in event.summary


async def test_a_null_coverage_date_clears_the_override(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.1")
    await gql(
        RELEASE_SET_COVERAGE_DATE,
        {"id": release_id, "coverageDate": "2024-06-01T00:00:00Z", "reason": "fix"},
        key=admin_key,
    )

    result = await gql(
        RELEASE_SET_COVERAGE_DATE,
        {"id": release_id, "coverageDate": None, "reason": "dated by mistake"},
        key=admin_key,
    )

    release = result["data"]["releaseSetCoverageDate"]["release"]
    assert release["coverageDate"] is None
    assert release["effectiveDate"] == release["pubDate"]
    assert (await Release.get(id=release_id)).coverage_date is None
    summaries = [
        e.summary
        for e in await AuditEvent.filter(target_id=release_id, action="release.coverage_date")
    ]
    assert any("dated by mistake" in s for s in summaries), summaries


@pytest.mark.parametrize(
    ("coverage_date", "says"),
    [
        (
            (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            "later than its publish time, an override may only date a release earlier",
        ),
        ("0001-01-01T00:00:00+01:00", "must lie between 1970-01-01 and 9000-01-01"),
        ("1969-12-31T23:59:59Z", "must lie between"),
    ],
    ids=["later-than-publishing", "year-one-with-offset", "before-1970"],
)
async def test_a_coverage_date_out_of_range_is_refused(
    gql: GraphQL, admin_key: str, coverage_date: str, says: str
) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.1")
    before = await snapshot()

    result = await gql(
        RELEASE_SET_COVERAGE_DATE,
        {"id": release_id, "coverageDate": coverage_date, "reason": "why not"},
        key=admin_key,
    )

    payload = result["data"]["releaseSetCoverageDate"]
    assert payload["release"] is None
    message = user_error(payload, "INVALID_INPUT", ["coverageDate"])
    assert all(part in message for part in says.split(", ")), message
    assert await snapshot() == before
    assert (await gql(RELEASE_SET_COVERAGE_DATE, {"id": release_id, "reason": "x"}, key=admin_key))[
        "data"
    ]["releaseSetCoverageDate"]["release"]["id"] == release_id  # the row is still readable


async def test_a_coverage_date_needs_a_reason(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.1")
    before = await snapshot()

    result = await gql(
        RELEASE_SET_COVERAGE_DATE,
        {"id": release_id, "coverageDate": "2024-06-01T00:00:00Z", "reason": " "},
        key=admin_key,
    )

    user_error(result["data"]["releaseSetCoverageDate"], "INVALID_INPUT", ["reason"])
    assert await snapshot() == before


@pytest.mark.parametrize(
    ("operation", "document", "variables"),
    [
        (
            "releaseYank",
            RELEASE_YANK,
            lambda app_id, release_id: {"id": release_id, "reason": "x"},
        ),
        (
            "releaseRollback",
            RELEASE_ROLLBACK,
            lambda app_id, release_id: {"appId": app_id, "channel": "stable"},
        ),
        (
            "releaseSetCoverageDate",
            RELEASE_SET_COVERAGE_DATE,
            lambda app_id, release_id: {"id": release_id, "reason": "x"},
        ),
    ],
)
async def test_a_ci_key_may_not_yank_roll_back_or_date_releases(
    gql: GraphQL, admin_key: str, operation: str, document: str, variables: Any
) -> None:
    app_id = await create_app(gql, admin_key)
    await published_release(gql, admin_key, app_id, "1.0.0")
    release_id = await published_release(gql, admin_key, app_id, "1.1.0")
    await update_app(gql, admin_key, app_id, ciMayPublish=True)
    ci_key = await make_key(KeyScope.CI, app_id, name="ci")
    await gql(VIEWER, key=ci_key)
    before = await snapshot()

    result = await gql(document, variables(app_id, release_id), key=ci_key)

    error = top_error(result, "FORBIDDEN")
    assert error["path"] == [operation]
    assert "admin key" in error["message"]
    assert await snapshot() == before
