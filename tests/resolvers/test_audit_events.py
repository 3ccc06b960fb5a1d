"""The audit trail: one event per change, carrying who, what, which app and which request.

READY artifacts here are rows without a file (:mod:`tests.support.rows`): the subject is
the API, not what an updater is offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ferryman.models import AuditEvent
from ferryman.models.actor import KeyScope
from tests.conftest import GraphQL, make_key
from tests.support.api import create_app, create_release, post
from tests.support.database import key_row, snapshot
from tests.support.documents import NODE, VIEWER
from tests.support.refusals import top_error
from tests.support.rows import add_artifact, published_release


@dataclass
class Scene:
    """An app with a draft, a publishable draft and a published release, and a CI key."""

    app_id: str
    draft_id: str
    ready_id: str
    published_id: str
    ci_key_id: str


@pytest.fixture
async def scene(gql: GraphQL, admin_key: str) -> Scene:
    app_id = await create_app(gql, admin_key, slug="my-app")
    draft_id = await create_release(gql, admin_key, app_id, "0.1.0")
    ready_id = await create_release(gql, admin_key, app_id, "2.0.0")
    await add_artifact(ready_id)
    published_id = await published_release(gql, admin_key, app_id, "1.0.0")
    ci_key = await make_key(KeyScope.CI, app_id, name="ci")
    return Scene(app_id, draft_id, ready_id, published_id, (await key_row(ci_key)).id)


@dataclass
class Case:
    document: str
    variables: Any  # Scene -> dict
    action: str
    target: Any  # (Scene, payload) -> target id
    app: Any  # (Scene, payload) -> app id
    summary: str  # a fragment the summary must contain


CASES: dict[str, Case] = {
    "appCreate": Case(
        'mutation { m: appCreate(input: {slug: "new-app", name: "New"}) '
        "{ app { id } userErrors { code } } }",
        lambda s: {},
        "app.create",
        lambda s, p: p["app"]["id"],
        lambda s, p: p["app"]["id"],
        "new-app",
    ),
    "appUpdate": Case(
        'mutation ($id: ID!) { m: appUpdate(id: $id, input: {name: "Renamed"}) '
        "{ app { id } userErrors { code } } }",
        lambda s: {"id": s.app_id},
        "app.update",
        lambda s, p: s.app_id,
        lambda s, p: s.app_id,
        "name",
    ),
    "releaseCreate": Case(
        'mutation ($id: ID!) { m: releaseCreate(appId: $id, input: {version: "3.0.0"}) '
        "{ release { id } userErrors { code } } }",
        lambda s: {"id": s.app_id},
        "release.create",
        lambda s, p: p["release"]["id"],
        lambda s, p: s.app_id,
        "3.0.0",
    ),
    "releaseUpdate": Case(
        'mutation ($id: ID!) { m: releaseUpdate(id: $id, input: {notes: "new notes"}) '
        "{ release { id } userErrors { code } } }",
        lambda s: {"id": s.draft_id},
        "release.update",
        lambda s, p: s.draft_id,
        lambda s, p: s.app_id,
        "notes",
    ),
    "releaseDelete": Case(
        "mutation ($id: ID!) { m: releaseDelete(id: $id) "
        "{ deletedReleaseId userErrors { code } } }",
        lambda s: {"id": s.draft_id},
        "release.delete",
        lambda s, p: s.draft_id,
        lambda s, p: s.app_id,
        "0.1.0",
    ),
    "releasePublish": Case(
        "mutation ($id: ID!) { m: releasePublish(id: $id) { release { id } userErrors { code } } }",
        lambda s: {"id": s.ready_id},
        "release.publish",
        lambda s, p: s.ready_id,
        lambda s, p: s.app_id,
        "2.0.0",
    ),
    "releaseArchive": Case(
        "mutation ($id: ID!) { m: releaseArchive(id: $id) { release { id } userErrors { code } } }",
        lambda s: {"id": s.published_id},
        "release.archive",
        lambda s, p: s.published_id,
        lambda s, p: s.app_id,
        "1.0.0",
    ),
    "apiKeyCreate": Case(
        'mutation ($id: ID!) { m: apiKeyCreate(input: {name: "deploy", scope: CI, appId: $id}) '
        "{ apiKey { id } userErrors { code } } }",
        lambda s: {"id": s.app_id},
        "api_key.create",
        lambda s, p: p["apiKey"]["id"],
        lambda s, p: s.app_id,
        "deploy",
    ),
    "apiKeyCreate (global)": Case(
        'mutation { m: apiKeyCreate(input: {name: "root", scope: ADMIN}) '
        "{ apiKey { id } userErrors { code } } }",
        lambda s: {},
        "api_key.create",
        lambda s, p: p["apiKey"]["id"],
        lambda s, p: None,
        "root",
    ),
    "apiKeyRevoke": Case(
        "mutation ($id: ID!) { m: apiKeyRevoke(id: $id) { apiKey { id } userErrors { code } } }",
        lambda s: {"id": s.ci_key_id},
        "api_key.revoke",
        lambda s, p: s.ci_key_id,
        lambda s, p: s.app_id,
        "ci",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_every_mutation_writes_one_audit_event(
    client: httpx.AsyncClient, admin_key: str, scene: Scene, name: str
) -> None:
    case = CASES[name]
    before = {e.id for e in await AuditEvent.all()}

    response = await post(client, case.document, case.variables(scene), key=admin_key)

    payload = response.json()["data"]["m"]
    assert payload["userErrors"] == []
    new = await AuditEvent.exclude(id__in=before)
    assert len(new) == 1, [(e.action, e.summary) for e in new]
    event = new[0]
    assert event.id.startswith("evt_")
    assert event.key_id == (await key_row(admin_key)).id
    assert event.app_id == case.app(scene, payload)
    assert event.action == case.action
    assert event.target_id == case.target(scene, payload)
    assert event.request_id == response.headers["x-request-id"]
    assert case.summary in event.summary


async def test_app_delete_writes_one_audit_event_that_outlives_the_app(
    client: httpx.AsyncClient, admin_key: str, gql: GraphQL
) -> None:
    app_id = await create_app(gql, admin_key, slug="doomed")
    await create_release(gql, admin_key, app_id, "1.0.0")
    before = {e.id for e in await AuditEvent.all()}

    response = await post(
        client,
        "mutation ($id: ID!) { appDelete(id: $id) { deletedAppId userErrors { code } } }",
        {"id": app_id},
        key=admin_key,
    )

    assert response.json()["data"]["appDelete"] == {"deletedAppId": app_id, "userErrors": []}
    new = await AuditEvent.exclude(id__in=before)
    assert len(new) == 1
    event = new[0]
    assert (event.action, event.target_id, event.app_id) == ("app.delete", app_id, app_id)
    assert event.key_id == (await key_row(admin_key)).id
    assert event.request_id == response.headers["x-request-id"]
    assert "doomed" in event.summary
    # The trail still shows it, though the app is gone.
    trail = await post(
        client,
        "{ auditEvents(first: 1) { edges { node { action targetId app { id } } } } }",
        key=admin_key,
    )
    assert trail.json()["data"]["auditEvents"]["edges"] == [
        {"node": {"action": "app.delete", "targetId": app_id, "app": None}}
    ]


async def test_a_ci_key_change_is_audited_under_its_own_key(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    ci_key = await make_key(KeyScope.CI, app_id, name="ci")

    response = await post(
        client,
        'mutation ($id: ID!) { releaseCreate(appId: $id, input: {version: "1.0.0"}) '
        "{ release { id } userErrors { code } } }",
        {"id": app_id},
        key=ci_key,
    )

    release_id = response.json()["data"]["releaseCreate"]["release"]["id"]
    event = await AuditEvent.get(target_id=release_id)
    assert event.key_id == (await key_row(ci_key)).id
    assert event.request_id == response.headers["x-request-id"]
    assert event.action == "release.create"


FAILURES: dict[str, tuple[str, Any]] = {
    "duplicate slug": (
        'mutation { m: appCreate(input: {slug: "my-app", name: "x"}) { userErrors { code } } }',
        lambda s: {},
    ),
    "invalid slug": (
        'mutation { m: appCreate(input: {slug: "My App", name: "x"}) { userErrors { code } } }',
        lambda s: {},
    ),
    "invalid version": (
        'mutation ($id: ID!) { m: releaseCreate(appId: $id, input: {version: "1.2"}) '
        "{ userErrors { code } } }",
        lambda s: {"id": s.app_id},
    ),
    "duplicate version": (
        'mutation ($id: ID!) { m: releaseCreate(appId: $id, input: {version: "v1.0.0"}) '
        "{ userErrors { code } } }",
        lambda s: {"id": s.app_id},
    ),
    "publish without artifact": (
        "mutation ($id: ID!) { m: releasePublish(id: $id) { userErrors { code } } }",
        lambda s: {"id": s.draft_id},
    ),
    "archive a draft": (
        "mutation ($id: ID!) { m: releaseArchive(id: $id) { userErrors { code } } }",
        lambda s: {"id": s.draft_id},
    ),
    "delete published release": (
        "mutation ($id: ID!) { m: releaseDelete(id: $id) { userErrors { code } } }",
        lambda s: {"id": s.published_id},
    ),
    "delete app with published release": (
        "mutation ($id: ID!) { m: appDelete(id: $id) { userErrors { code } } }",
        lambda s: {"id": s.app_id},
    ),
    "key for unknown app": (
        'mutation { m: apiKeyCreate(input: {name: "x", scope: CI, '
        'appId: "app_01ARZ3NDEKTSV4RRFFQ69G5FAV"}) { userErrors { code } } }',
        lambda s: {},
    ),
}


@pytest.mark.parametrize("name", list(FAILURES))
async def test_a_failed_mutation_writes_no_audit_event(
    gql: GraphQL, admin_key: str, scene: Scene, name: str
) -> None:
    document, variables = FAILURES[name]
    before = await snapshot()

    result = await gql(document, variables(scene), key=admin_key)

    assert result["data"]["m"]["userErrors"], result
    assert await snapshot() == before


async def test_a_forbidden_mutation_writes_no_audit_event(
    gql: GraphQL, admin_key: str, scene: Scene
) -> None:
    ci_key = await make_key(KeyScope.CI, scene.app_id, name="another ci")
    await gql(VIEWER, key=ci_key)
    events = await AuditEvent.all().count()

    result = await gql(
        "mutation ($id: ID!) { releasePublish(id: $id) { userErrors { code } } }",
        {"id": scene.ready_id},
        key=ci_key,
    )

    top_error(result, "FORBIDDEN")
    assert await AuditEvent.all().count() == events


# --- reading the trail ------------------------------------------------------------------


TRAIL = """
query ($appId: ID) {
  auditEvents(appId: $appId, first: 100) {
    totalCount
    edges { node { id action targetId appId requestId summary key { id } app { slug } } }
  }
}
"""


async def test_the_trail_shows_events_newest_first(
    gql: GraphQL, admin_key: str, scene: Scene
) -> None:
    result = await gql(TRAIL, key=admin_key)

    trail = result["data"]["auditEvents"]
    stored = await AuditEvent.all().order_by("-id")
    assert trail["totalCount"] == len(stored)
    assert [e["node"]["id"] for e in trail["edges"]] == [e.id for e in stored]
    newest = trail["edges"][0]["node"]
    assert newest["action"] == "api_key.create"
    assert newest["key"] is None  # minted at the console, not with a key
    publish = next(e["node"] for e in trail["edges"] if e["node"]["action"] == "release.publish")
    assert publish["targetId"] == scene.published_id
    assert publish["app"] == {"slug": "my-app"}
    assert publish["key"] == {"id": (await key_row(admin_key)).id}
    assert publish["requestId"]


async def test_an_app_scoped_admin_sees_only_its_apps_events(gql: GraphQL, admin_key: str) -> None:
    own = await create_app(gql, admin_key, slug="own-app")
    other = await create_app(gql, admin_key, slug="other-app")
    await create_release(gql, admin_key, own, "1.0.0")
    await published_release(gql, admin_key, other, "1.0.0")
    await gql(
        'mutation { apiKeyCreate(input: {name: "g", scope: ADMIN}) { secret } }', key=admin_key
    )
    scoped = await make_key(KeyScope.ADMIN, own, name="scoped admin")
    await gql(
        'mutation ($id: ID!) { appUpdate(id: $id, input: {name: "Own"}) { userErrors { code } } }',
        {"id": own},
        key=scoped,
    )
    other_event = await AuditEvent.filter(app_id=other).first()
    assert other_event is not None
    assert await AuditEvent.filter(app_id=None).count() > 0

    mine = await gql(TRAIL, key=scoped)
    asked_for_other = await gql(TRAIL, {"appId": other}, key=scoped)
    node = await gql(NODE, {"id": other_event.id}, key=scoped)
    everything = await gql(TRAIL, key=admin_key)

    expected = {e.id for e in await AuditEvent.filter(app_id=own)}
    edges = mine["data"]["auditEvents"]["edges"]
    assert {e["node"]["id"] for e in edges} == expected
    assert {e["node"]["appId"] for e in edges} == {own}
    assert mine["data"]["auditEvents"]["totalCount"] == len(expected)
    assert {"app.create", "release.create", "app.update"} <= {e["node"]["action"] for e in edges}
    assert asked_for_other["data"]["auditEvents"] == {"totalCount": 0, "edges": []}
    assert node == {"data": {"node": None}}
    assert everything["data"]["auditEvents"]["totalCount"] == await AuditEvent.all().count()


FILTERED_EVENTS = """
query ($actorId: ID, $action: String, $since: DateTime, $until: DateTime) {
  auditEvents(actorId: $actorId, action: $action, since: $since, until: $until) {
    totalCount
    edges { node { action keyId userId } }
  }
}
"""


async def test_the_trail_is_filtered_by_actor_action_and_time(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key, slug="my-app")
    await create_release(gql, admin_key, app_id, "1.0.0")
    ci_key = await make_key(KeyScope.CI, app_id, name="ci")
    await create_release(gql, ci_key, app_id, "1.1.0")
    admin_id = (await key_row(admin_key)).id
    ci_id = (await key_row(ci_key)).id

    async def actions(**filters: Any) -> list[str]:
        result = await gql(FILTERED_EVENTS, filters, key=admin_key)
        assert not result.get("errors"), result
        return [edge["node"]["action"] for edge in result["data"]["auditEvents"]["edges"]]

    assert await actions(actorId=admin_id) == ["release.create", "app.create"]
    assert await actions(actorId=ci_id) == ["release.create"]
    assert await actions(action="release.") == ["release.create", "release.create"]
    assert await actions(action="app.create") == ["app.create"]
    assert await actions(since="2999-01-01T00:00:00Z") == []
    assert await actions(until="2000-01-01T00:00:00Z") == []
    refused = await gql(FILTERED_EVENTS, {"actorId": app_id}, key=admin_key)
    assert "neither a person's id" in top_error(refused, "BAD_USER_INPUT")["message"]
