"""Set-up through the GraphQL API, as a client does it, and reading its answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from tests.support.documents import APP_CREATE, APP_UPDATE, operation

if TYPE_CHECKING:
    from tests.conftest import GraphQL


def payload_of(body: dict[str, Any], name: str) -> dict[str, Any]:
    """A mutation's payload, asserting it has no top-level errors."""
    assert not body.get("errors"), body
    payload: dict[str, Any] = body["data"][name]
    return payload


async def create_app(gql: GraphQL, key: str, slug: str = "my-app", name: str = "My App") -> str:
    """Create an app through the API and return its id."""
    result = await gql(APP_CREATE, {"input": {"slug": slug, "name": name}}, key=key)
    payload = payload_of(result, "appCreate")
    assert payload["userErrors"] == [], payload
    app_id: str = payload["app"]["id"]
    return app_id


async def update_app(gql: GraphQL, key: str, app_id: str, **changes: Any) -> None:
    """Change an app's fields (by their GraphQL names) through the API."""
    result = await gql(APP_UPDATE, {"id": app_id, "input": changes}, key=key)
    payload = payload_of(result, "appUpdate")
    assert payload["userErrors"] == [], payload


async def create_release(
    gql: GraphQL, key: str, app_id: str, version: str = "1.0.0", notes: str | None = None
) -> str:
    """Create a draft release through the API and return its id."""
    variables = {"appId": app_id, "input": {"version": version, "notes": notes}}
    payload = payload_of(await gql(operation("ReleaseCreate"), variables, key=key), "releaseCreate")
    assert payload["userErrors"] == [], payload
    release_id: str = payload["release"]["id"]
    return release_id


async def publish(gql: GraphQL, key: str, release_id: str) -> None:
    """Publish a release that has a READY artifact."""
    result = await gql(operation("ReleasePublish"), {"id": release_id}, key=key)
    payload = payload_of(result, "releasePublish")
    assert payload["userErrors"] == [], payload


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
