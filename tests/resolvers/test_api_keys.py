"""API keys through GraphQL: minting, revoking, viewer, CI limits and app isolation.

READY artifacts here are rows without a file (:mod:`tests.support.rows`): the subject is
the API, not what an updater is offered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pytest

from ferryman.models import ApiKey, AuditEvent, Release
from ferryman.models.actor import KeyScope
from ferryman.models.status import ReleaseStatus
from tests.conftest import GraphQL, make_key
from tests.support.api import create_app, create_release
from tests.support.database import key_row, snapshot
from tests.support.documents import API_KEY_CREATE, API_KEY_REVOKE, VIEWER, operation
from tests.support.refusals import top_error, user_error
from tests.support.rows import add_artifact, published_release

KEY_LIST = """
query ($appId: ID) {
  apiKeys(appId: $appId, first: 100) {
    totalCount
    edges { node { id name scope prefix lastUsedAt createdAt revokedAt app { slug } } }
  }
}
"""

UNKNOWN_APP = "app_01ARZ3NDEKTSV4RRFFQ69G5FAV"
UNKNOWN_RELEASE = "rel_01ARZ3NDEKTSV4RRFFQ69G5FAV"


# --- apiKeyCreate / apiKeyRevoke / apiKeys --------------------------------------------


async def test_api_key_create_shows_the_secret_once(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key, slug="my-app")

    result = await gql(
        API_KEY_CREATE,
        {"input": {"name": "GitHub Actions", "scope": "CI", "appId": app_id}},
        key=admin_key,
    )

    payload = result["data"]["apiKeyCreate"]
    assert payload["userErrors"] == []
    secret = payload["secret"]
    assert secret.startswith("uk_live_")
    assert len(secret) >= len("uk_live_") + 32
    key = payload["apiKey"]
    assert key["name"] == "GitHub Actions"
    assert key["scope"] == "CI"
    assert key["app"] == {"id": app_id, "slug": "my-app"}
    assert key["prefix"] == secret[:12]
    assert key["lastUsedAt"] is None
    assert key["revokedAt"] is None

    # Stored: only the SHA-256 of the secret and a short prefix, never the secret.
    row = await ApiKey.get(id=key["id"])
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.prefix == secret[:12]
    assert (row.scope, row.app_id, row.name) == (KeyScope.CI, app_id, "GitHub Actions")
    assert secret not in repr(await snapshot())

    # The listing shows the prefix, never the secret, and has no field that could.
    listing = await gql(KEY_LIST, key=admin_key)
    assert secret not in repr(listing)
    prefixes = {e["node"]["id"]: e["node"]["prefix"] for e in listing["data"]["apiKeys"]["edges"]}
    assert prefixes[key["id"]] == secret[:12]
    fields = await gql('{ __type(name: "ApiKey") { fields { name } } }', key=admin_key)
    assert "secret" not in {f["name"] for f in fields["data"]["__type"]["fields"]}

    # And the new key works, as what it was minted for.
    viewer = await gql(VIEWER, key=secret)
    assert viewer["data"]["viewer"] == {
        "id": key["id"],
        "name": "GitHub Actions",
        "scope": "CI",
        "app": {"id": app_id, "slug": "my-app"},
    }


async def test_api_key_create_global_admin_key(gql: GraphQL, admin_key: str) -> None:
    result = await gql(
        API_KEY_CREATE, {"input": {"name": "  second admin  ", "scope": "ADMIN"}}, key=admin_key
    )

    payload = result["data"]["apiKeyCreate"]
    assert payload["userErrors"] == []
    assert payload["apiKey"]["app"] is None
    assert payload["apiKey"]["name"] == "second admin"
    created = await gql(
        'mutation { appCreate(input: {slug: "made-by-new", name: "N"}) { userErrors { code } } }',
        key=payload["secret"],
    )
    assert created["data"]["appCreate"]["userErrors"] == []


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"name": "   ", "scope": "CI"}, "INVALID_INPUT", ["input", "name"]),
        ({"name": "x" * 201, "scope": "CI"}, "INVALID_INPUT", ["input", "name"]),
        ({"name": "ci\x00", "scope": "CI"}, "INVALID_INPUT", ["input", "name"]),
        ({"name": "ci", "scope": "CI", "appId": UNKNOWN_APP}, "NOT_FOUND", ["input", "appId"]),
        ({"name": "ci", "scope": "CI", "appId": "my-app"}, "INVALID_INPUT", ["input", "appId"]),
    ],
)
async def test_api_key_create_refuses_bad_input(
    gql: GraphQL, admin_key: str, variables: dict[str, str], code: str, field: list[str]
) -> None:
    await create_app(gql, admin_key, slug="my-app")
    before = await snapshot()

    result = await gql(API_KEY_CREATE, {"input": variables}, key=admin_key)

    payload = result["data"]["apiKeyCreate"]
    assert payload["secret"] is None
    assert payload["apiKey"] is None
    user_error(payload, code, field)
    assert await snapshot() == before


async def test_api_key_revoke_refuses_the_key_from_then_on(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    created = await gql(
        API_KEY_CREATE, {"input": {"name": "ci", "scope": "CI", "appId": app_id}}, key=admin_key
    )
    secret = created["data"]["apiKeyCreate"]["secret"]
    key_id = created["data"]["apiKeyCreate"]["apiKey"]["id"]
    assert (await gql(VIEWER, key=secret))["data"]["viewer"]["id"] == key_id

    result = await gql(API_KEY_REVOKE, {"id": key_id}, key=admin_key)

    payload = result["data"]["apiKeyRevoke"]
    assert payload["userErrors"] == []
    assert payload["apiKey"]["id"] == key_id
    assert payload["apiKey"]["revokedAt"] is not None
    assert (await ApiKey.get(id=key_id)).revoked_at is not None
    refused = await gql(
        operation("ReleaseCreate"), {"appId": app_id, "input": {"version": "1.0.0"}}, key=secret
    )
    assert refused["data"] is None
    error = top_error(refused, "UNAUTHENTICATED")
    assert "revoked" in error["message"]
    assert await Release.all().count() == 0


async def test_api_key_revoke_of_an_unknown_key(gql: GraphQL, admin_key: str) -> None:
    before = await snapshot()

    unknown = await gql(API_KEY_REVOKE, {"id": "key_01ARZ3NDEKTSV4RRFFQ69G5FAV"}, key=admin_key)
    malformed = await gql(API_KEY_REVOKE, {"id": "uk_live_abc"}, key=admin_key)

    user_error(unknown["data"]["apiKeyRevoke"], "NOT_FOUND", ["id"])
    assert "key_" in user_error(malformed["data"]["apiKeyRevoke"], "INVALID_INPUT", ["id"])
    assert await snapshot() == before


async def test_api_keys_lists_keys_filtered_by_app(gql: GraphQL, admin_key: str) -> None:
    first = await create_app(gql, admin_key, slug="first")
    second = await create_app(gql, admin_key, slug="second")
    await make_key(KeyScope.CI, first, name="first ci")
    await make_key(KeyScope.ADMIN, second, name="second admin")

    everything = await gql(KEY_LIST, key=admin_key)
    of_first = await gql(KEY_LIST, {"appId": first}, key=admin_key)

    names = {e["node"]["name"] for e in everything["data"]["apiKeys"]["edges"]}
    assert names == {"global admin", "first ci", "second admin"}
    assert everything["data"]["apiKeys"]["totalCount"] == 3
    assert of_first["data"]["apiKeys"]["totalCount"] == 1
    node = of_first["data"]["apiKeys"]["edges"][0]["node"]
    assert (node["name"], node["scope"], node["app"]) == ("first ci", "CI", {"slug": "first"})


@pytest.mark.parametrize("app_id", ["my-app", "app_0000000000000000000000000\x00"])
async def test_api_keys_refuses_a_malformed_app_id(
    gql: GraphQL, admin_key: str, app_id: str
) -> None:
    await gql(VIEWER, key=admin_key)
    before = await snapshot()

    result = await gql(KEY_LIST, {"appId": app_id}, key=admin_key)

    assert result["data"] is None
    error = top_error(result, "BAD_USER_INPUT")
    assert error["path"] == ["apiKeys"]
    assert "not a valid app id" in error["message"]
    assert await snapshot() == before


# --- viewer ---------------------------------------------------------------------------


async def test_viewer_of_a_global_admin_key(gql: GraphQL, admin_key: str) -> None:
    result = await gql(VIEWER, key=admin_key)

    row = await key_row(admin_key)
    assert result == {
        "data": {"viewer": {"id": row.id, "name": "global admin", "scope": "ADMIN", "app": None}}
    }


@pytest.mark.parametrize(("scope", "shown"), [(KeyScope.CI, "CI"), (KeyScope.ADMIN, "ADMIN")])
async def test_viewer_of_an_app_scoped_key(
    gql: GraphQL, admin_key: str, scope: KeyScope, shown: str
) -> None:
    app_id = await create_app(gql, admin_key, slug="my-app")
    secret = await make_key(scope, app_id, name="scoped")

    result = await gql(VIEWER, key=secret)

    assert result["data"]["viewer"] == {
        "id": (await key_row(secret)).id,
        "name": "scoped",
        "scope": shown,
        "app": {"id": app_id, "slug": "my-app"},
    }


# --- what a CI key may not do ---------------------------------------------------------


@dataclass
class World:
    """An app with a publishable draft, a published release and a second CI key."""

    app_id: str
    draft_id: str
    published_id: str
    other_key_id: str
    ci_key: str


@pytest.fixture
async def world(gql: GraphQL, admin_key: str) -> World:
    app_id = await create_app(gql, admin_key, slug="my-app")
    draft_id = await create_release(gql, admin_key, app_id, "2.0.0")
    await add_artifact(draft_id)
    published_id = await published_release(gql, admin_key, app_id, "1.0.0")
    other = await make_key(KeyScope.CI, app_id, name="other ci")
    ci_key = await make_key(KeyScope.CI, app_id, name="ci")
    # First use writes last_used_at; do it now so it is not part of what a test compares.
    await gql(VIEWER, key=ci_key)
    return World(app_id, draft_id, published_id, (await key_row(other)).id, ci_key)


CI_FORBIDDEN: dict[str, tuple[str, Any]] = {
    "releasePublish": (
        "mutation ($id: ID!) { releasePublish(id: $id) { release { id } } }",
        lambda w: {"id": w.draft_id},
    ),
    "releaseArchive": (
        "mutation ($id: ID!) { releaseArchive(id: $id) { release { id } } }",
        lambda w: {"id": w.published_id},
    ),
    "releaseUpdate": (
        'mutation ($id: ID!) { releaseUpdate(id: $id, input: {notes: "x"}) { release { id } } }',
        lambda w: {"id": w.published_id},
    ),
    "appDelete": (
        "mutation ($id: ID!) { appDelete(id: $id) { deletedAppId } }",
        lambda w: {"id": w.app_id},
    ),
    "appUpdate": (
        'mutation ($id: ID!) { appUpdate(id: $id, input: {name: "x"}) { app { id } } }',
        lambda w: {"id": w.app_id},
    ),
    "appCreate": (
        'mutation { appCreate(input: {slug: "new-app", name: "x"}) { app { id } } }',
        lambda w: {},
    ),
    "apiKeyCreate": (
        'mutation ($appId: ID!) { apiKeyCreate(input: {name: "x", scope: CI, appId: $appId}) '
        "{ secret } }",
        lambda w: {"appId": w.app_id},
    ),
    "apiKeyRevoke": (
        "mutation ($id: ID!) { apiKeyRevoke(id: $id) { apiKey { id } } }",
        lambda w: {"id": w.other_key_id},
    ),
    "apiKeys": ("{ apiKeys { totalCount } }", lambda w: {}),
    "auditEvents": ("{ auditEvents { totalCount } }", lambda w: {}),
}


@pytest.mark.parametrize("operation", sorted(CI_FORBIDDEN))
async def test_a_ci_key_is_forbidden(gql: GraphQL, world: World, operation: str) -> None:
    query, variables = CI_FORBIDDEN[operation]
    before = await snapshot()

    result = await gql(query, variables(world), key=world.ci_key)

    assert result["data"] is None
    error = top_error(result, "FORBIDDEN")
    assert error["path"] == [operation]
    if operation == "releasePublish":  # what the app's admin can change, named
        assert "CI keys may not publish" in error["message"]
        assert "ciMayPublish: true" in error["message"]
    else:
        assert "needs" in error["message"]
        assert "admin key" in error["message"]
    assert await snapshot() == before
    assert (await Release.get(id=world.draft_id)).status is ReleaseStatus.DRAFT
    assert (await Release.get(id=world.published_id)).status is ReleaseStatus.PUBLISHED


async def test_a_ci_key_sees_no_audit_event_or_key_through_node(gql: GraphQL, world: World) -> None:
    event = await AuditEvent.filter(app_id=world.app_id).first()
    assert event is not None
    before = await snapshot()

    result = await gql(
        "query ($e: ID!, $k: ID!) { e: node(id: $e) { id } k: node(id: $k) { id } }",
        {"e": event.id, "k": world.other_key_id},
        key=world.ci_key,
    )

    assert result == {"data": {"e": None, "k": None}}
    assert await snapshot() == before


async def test_a_ci_key_creates_and_edits_drafts_of_its_app(gql: GraphQL, world: World) -> None:
    created = await gql(
        operation("ReleaseCreate"),
        {"appId": world.app_id, "input": {"version": "3.0.0", "notes": "a"}},
        key=world.ci_key,
    )
    payload = created["data"]["releaseCreate"]
    assert payload["userErrors"] == []
    release_id = payload["release"]["id"]

    edited = await gql(
        'mutation ($id: ID!) { releaseUpdate(id: $id, input: {version: "3.0.1", notes: "b"}) '
        "{ release { version notes status } userErrors { code } } }",
        {"id": release_id},
        key=world.ci_key,
    )

    assert edited["data"]["releaseUpdate"] == {
        "release": {"version": "3.0.1", "notes": "b", "status": "DRAFT"},
        "userErrors": [],
    }
    stored = await Release.get(id=release_id)
    assert (stored.app_id, stored.version, stored.notes) == (world.app_id, "3.0.1", "b")


# --- an app-scoped key and another app's ids ------------------------------------------


@dataclass
class TwoApps:
    own_id: str
    other_id: str
    other_draft_id: str
    other_published_id: str
    other_artifact_id: str
    other_key_id: str


@pytest.fixture
async def two_apps(gql: GraphQL, admin_key: str) -> TwoApps:
    own_id = await create_app(gql, admin_key, slug="own-app")
    other_id = await create_app(gql, admin_key, slug="other-app")
    other_draft_id = await create_release(gql, admin_key, other_id, "2.0.0")
    artifact_id = await add_artifact(other_draft_id)
    other_published_id = await published_release(gql, admin_key, other_id, "1.0.0")
    other_key = await make_key(KeyScope.CI, other_id, name="other ci")
    other_key_id = (await key_row(other_key)).id
    return TwoApps(own_id, other_id, other_draft_id, other_published_id, artifact_id, other_key_id)


@pytest.fixture(params=[KeyScope.ADMIN, KeyScope.CI], ids=["admin", "ci"])
async def scoped_key(request: pytest.FixtureRequest, gql: GraphQL, two_apps: TwoApps) -> str:
    secret = await make_key(request.param, two_apps.own_id, name="scoped")
    await gql(VIEWER, key=secret)  # first use, so last_used_at is settled
    return secret


async def test_a_scoped_key_does_not_see_another_app(
    gql: GraphQL, two_apps: TwoApps, scoped_key: str
) -> None:
    before = await snapshot()

    result = await gql(
        """
        query ($app: ID!, $rel: ID!, $art: ID!) {
          byId: app(id: $app) { id }
          bySlug: app(slug: "other-app") { id }
          appNode: node(id: $app) { id }
          releaseNode: node(id: $rel) { id }
          artifactNode: node(id: $art) { id }
          apps { totalCount edges { node { slug } } }
        }
        """,
        {
            "app": two_apps.other_id,
            "rel": two_apps.other_published_id,
            "art": two_apps.other_artifact_id,
        },
        key=scoped_key,
    )

    assert result == {
        "data": {
            "byId": None,
            "bySlug": None,
            "appNode": None,
            "releaseNode": None,
            "artifactNode": None,
            "apps": {"totalCount": 1, "edges": [{"node": {"slug": "own-app"}}]},
        }
    }
    assert await snapshot() == before


def _same_as_missing(
    seen: dict[str, Any], missing: dict[str, Any], real_id: str, fake_id: str
) -> None:
    """The answer about another app's object reads exactly like one about no object."""
    assert seen["userErrors"], seen
    assert seen["userErrors"][0]["code"] == "NOT_FOUND"
    shown = seen["userErrors"][0]["message"].replace(real_id, "<id>")
    assert shown == missing["userErrors"][0]["message"].replace(fake_id, "<id>")
    assert seen == {**missing, "userErrors": seen["userErrors"]}


SCOPED_MUTATIONS: dict[str, tuple[str, str, str]] = {
    # name: (document, which TwoApps id it names, the same kind of id that does not exist)
    "releaseCreate": (
        'mutation ($id: ID!) { m: releaseCreate(appId: $id, input: {version: "9.0.0"}) '
        "{ release { id } userErrors { field message code } } }",
        "other_id",
        UNKNOWN_APP,
    ),
    "releaseUpdate": (
        'mutation ($id: ID!) { m: releaseUpdate(id: $id, input: {notes: "x", version: "2.0.1"})'
        " { release { id } userErrors { field message code } } }",
        "other_draft_id",
        UNKNOWN_RELEASE,
    ),
    "releaseDelete": (
        "mutation ($id: ID!) { m: releaseDelete(id: $id) "
        "{ deletedReleaseId userErrors { field message code } } }",
        "other_draft_id",
        UNKNOWN_RELEASE,
    ),
}


@pytest.mark.parametrize("operation", sorted(SCOPED_MUTATIONS))
async def test_a_scoped_key_gets_not_found_for_another_apps_ids(
    gql: GraphQL, two_apps: TwoApps, scoped_key: str, operation: str
) -> None:
    query, attribute, fake_id = SCOPED_MUTATIONS[operation]
    real_id = getattr(two_apps, attribute)
    before = await snapshot()

    seen = await gql(query, {"id": real_id}, key=scoped_key)
    missing = await gql(query, {"id": fake_id}, key=scoped_key)

    _same_as_missing(seen["data"]["m"], missing["data"]["m"], real_id, fake_id)
    assert await snapshot() == before


ADMIN_ONLY_MUTATIONS: dict[str, tuple[str, str, str]] = {
    "releasePublish": (
        "mutation ($id: ID!) { m: releasePublish(id: $id) "
        "{ release { id } userErrors { field message code } } }",
        "other_draft_id",
        UNKNOWN_RELEASE,
    ),
    "releaseArchive": (
        "mutation ($id: ID!) { m: releaseArchive(id: $id) "
        "{ release { id } userErrors { field message code } } }",
        "other_published_id",
        UNKNOWN_RELEASE,
    ),
    "appUpdate": (
        'mutation ($id: ID!) { m: appUpdate(id: $id, input: {name: "x"}) '
        "{ app { id } userErrors { field message code } } }",
        "other_id",
        UNKNOWN_APP,
    ),
    "appDelete": (
        "mutation ($id: ID!) { m: appDelete(id: $id) "
        "{ deletedAppId userErrors { field message code } } }",
        "other_id",
        UNKNOWN_APP,
    ),
    "apiKeyCreate": (
        'mutation ($id: ID!) { m: apiKeyCreate(input: {name: "x", scope: CI, appId: $id}) '
        "{ secret apiKey { id } userErrors { field message code } } }",
        "other_id",
        UNKNOWN_APP,
    ),
    "apiKeyRevoke": (
        "mutation ($id: ID!) { m: apiKeyRevoke(id: $id) "
        "{ apiKey { id } userErrors { field message code } } }",
        "other_key_id",
        "key_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    ),
}


@pytest.mark.parametrize("operation", sorted(ADMIN_ONLY_MUTATIONS))
async def test_an_app_scoped_admin_gets_not_found_for_another_apps_ids(
    gql: GraphQL, two_apps: TwoApps, operation: str
) -> None:
    scoped_admin = await make_key(KeyScope.ADMIN, two_apps.own_id, name="scoped admin")
    await gql(VIEWER, key=scoped_admin)
    query, attribute, fake_id = ADMIN_ONLY_MUTATIONS[operation]
    real_id = getattr(two_apps, attribute)
    before = await snapshot()

    seen = await gql(query, {"id": real_id}, key=scoped_admin)
    missing = await gql(query, {"id": fake_id}, key=scoped_admin)

    _same_as_missing(seen["data"]["m"], missing["data"]["m"], real_id, fake_id)
    assert await snapshot() == before


async def test_an_app_scoped_admin_cannot_revoke_a_global_key(
    gql: GraphQL, admin_key: str, two_apps: TwoApps
) -> None:
    scoped_admin = await make_key(KeyScope.ADMIN, two_apps.own_id, name="scoped admin")
    await gql(VIEWER, key=scoped_admin)
    global_id = (await key_row(admin_key)).id
    before = await snapshot()

    result = await gql(API_KEY_REVOKE, {"id": global_id}, key=scoped_admin)

    user_error(result["data"]["apiKeyRevoke"], "NOT_FOUND", ["id"])
    assert await snapshot() == before


async def test_an_app_scoped_admin_manages_keys_of_its_own_app_only(
    gql: GraphQL, admin_key: str, two_apps: TwoApps
) -> None:
    scoped_admin = await make_key(KeyScope.ADMIN, two_apps.own_id, name="scoped admin")

    listing = await gql(KEY_LIST, key=scoped_admin)
    other_listing = await gql(KEY_LIST, {"appId": two_apps.other_id}, key=scoped_admin)
    created = await gql(
        API_KEY_CREATE,
        {"input": {"name": "own ci", "scope": "CI", "appId": two_apps.own_id}},
        key=scoped_admin,
    )
    before = await snapshot()
    global_key = await gql(
        API_KEY_CREATE, {"input": {"name": "g", "scope": "ADMIN"}}, key=scoped_admin
    )
    new_app = await gql(
        'mutation { appCreate(input: {slug: "new-app", name: "x"}) { app { id } } }',
        key=scoped_admin,
    )

    assert {e["node"]["name"] for e in listing["data"]["apiKeys"]["edges"]} == {"scoped admin"}
    assert other_listing["data"]["apiKeys"] == {"totalCount": 0, "edges": []}
    assert created["data"]["apiKeyCreate"]["userErrors"] == []
    assert created["data"]["apiKeyCreate"]["apiKey"]["app"]["id"] == two_apps.own_id
    assert "set input.appId" in user_error(
        global_key["data"]["apiKeyCreate"], "INVALID_INPUT", ["input", "appId"]
    )
    assert "global admin key" in top_error(new_app, "FORBIDDEN")["message"]
    assert await snapshot() == before
