"""Small building blocks the resolver tests share: set-up through the API, and checks.

Set-up goes through GraphQL like a client would; the only thing written directly with the
models is a READY artifact, because the upload flow that makes one does not exist yet.
"""

from __future__ import annotations

from typing import Any

import httpx

from ferryman.auth import hash_key
from ferryman.models import (
    ApiKey,
    App,
    Artifact,
    AuditEvent,
    CoveragePeriod,
    DownloadEvent,
    License,
    Release,
)
from ferryman.models.ids import new_id
from ferryman.models.status import ArtifactStatus
from tests.conftest import GraphQL

APP_CREATE = """
mutation ($input: AppCreateInput!) {
  appCreate(input: $input) {
    app { id slug name description publicKey createdAt updatedAt releaseCount latestVersion }
    userErrors { field message code }
  }
}
"""

RELEASE_CREATE = """
mutation ($appId: ID!, $input: ReleaseCreateInput!) {
  releaseCreate(appId: $appId, input: $input) {
    release { id version notes status pubDate }
    userErrors { field message code }
  }
}
"""

RELEASE_PUBLISH = """
mutation ($id: ID!) {
  releasePublish(id: $id) {
    release { id version status pubDate }
    userErrors { field message code }
  }
}
"""

RELEASE_ARCHIVE = """
mutation ($id: ID!) {
  releaseArchive(id: $id) {
    release { id version status pubDate }
    userErrors { field message code }
  }
}
"""


async def create_app(gql: GraphQL, key: str, slug: str = "my-app", name: str = "My App") -> str:
    """Create an app through the API and return its id."""
    result = await gql(APP_CREATE, {"input": {"slug": slug, "name": name}}, key=key)
    payload = result["data"]["appCreate"]
    assert payload["userErrors"] == [], payload
    app_id: str = payload["app"]["id"]
    return app_id


async def create_release(
    gql: GraphQL, key: str, app_id: str, version: str = "1.0.0", notes: str | None = None
) -> str:
    """Create a draft release through the API and return its id."""
    variables = {"appId": app_id, "input": {"version": version, "notes": notes}}
    result = await gql(RELEASE_CREATE, variables, key=key)
    payload = result["data"]["releaseCreate"]
    assert payload["userErrors"] == [], payload
    release_id: str = payload["release"]["id"]
    return release_id


async def add_artifact(
    release_id: str,
    platform: str = "darwin-aarch64",
    status: ArtifactStatus = ArtifactStatus.READY,
) -> str:
    """Attach an artifact directly (the upload flow is not built yet); returns its id."""
    artifact = await Artifact.create(
        id=new_id("art"),
        release_id=release_id,
        platform=platform,
        signature="sig",
        object_key="k",
        status=status,
    )
    return artifact.id


async def publish(gql: GraphQL, key: str, release_id: str) -> dict[str, Any]:
    """Publish a release that has a READY artifact; returns the published release."""
    result = await gql(RELEASE_PUBLISH, {"id": release_id}, key=key)
    payload = result["data"]["releasePublish"]
    assert payload["userErrors"] == [], payload
    release: dict[str, Any] = payload["release"]
    return release


async def published_release(gql: GraphQL, key: str, app_id: str, version: str) -> str:
    """A release of ``app_id`` that is live: created, given a READY artifact, published."""
    release_id = await create_release(gql, key, app_id, version)
    await add_artifact(release_id)
    await publish(gql, key, release_id)
    return release_id


async def key_row(secret: str) -> ApiKey:
    """The stored row of a key, found the way the server finds it (by hash)."""
    return await ApiKey.get(key_hash=hash_key(secret))


_TABLES = (App, Release, Artifact, ApiKey, AuditEvent, DownloadEvent, License, CoveragePeriod)


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, to prove that a refused request changed nothing.

    ``last_used_at`` is left out: it records that a key was used, which a refused
    request legitimately does (at most once a minute).
    """
    state: dict[str, list[dict[str, Any]]] = {}
    for model in _TABLES:
        rows = await model.all().order_by("id").values()
        for row in rows:
            row.pop("last_used_at", None)
        state[model.__name__] = rows
    return state


async def counts() -> dict[str, int]:
    return {model.__name__: await model.all().count() for model in _TABLES}


def top_error(result: dict[str, Any], code: str) -> dict[str, Any]:
    """The single top-level error of ``result``, after checking its code."""
    errors = result.get("errors")
    assert errors, result
    assert len(errors) == 1, errors
    error: dict[str, Any] = errors[0]
    assert error["extensions"]["code"] == code, error
    return error


def user_error(payload: dict[str, Any], code: str, field: list[str] | None) -> str:
    """The single user error of a mutation payload, after checking code and field."""
    assert len(payload["userErrors"]) == 1, payload
    error = payload["userErrors"][0]
    assert error["code"] == code, error
    assert error["field"] == field, error
    message: str = error["message"]
    assert message, error
    return message


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    key: str | None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a GraphQL document and return the whole HTTP response (headers included)."""
    sent = dict(headers or {})
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
    )
    assert response.status_code == 200, response.text
    return response
