"""Cursor connections: keyset pages, pageInfo, totalCount, and the page-size limits."""

from __future__ import annotations

from typing import Any

import pytest

from ferryman.models import ApiKey, App, AuditEvent, Release
from ferryman.models.actor import KeyScope
from tests.conftest import GraphQL, make_key
from tests.support.api import create_app, create_release
from tests.support.database import snapshot
from tests.support.refusals import top_error

APPS_PAGE = """
query ($first: Int, $after: String) {
  apps(first: $first, after: $after) {
    totalCount
    edges { cursor node { id slug } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def _walk(
    gql: GraphQL, key: str, document: str, path: list[str], first: int, **variables: Any
) -> list[dict[str, Any]]:
    """Every page of a connection, following endCursor until hasNextPage is false."""
    pages: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        result = await gql(document, {**variables, "first": first, "after": after}, key=key)
        assert "errors" not in result, result
        connection = result["data"]
        for step in path:
            connection = connection[step]
        pages.append(connection)
        assert len(pages) <= 50, "pagination does not end"
        if not connection["pageInfo"]["hasNextPage"]:
            return pages
        after = connection["pageInfo"]["endCursor"]


async def test_app_pages_cover_every_app_exactly_once(gql: GraphQL, admin_key: str) -> None:
    created = [await create_app(gql, admin_key, slug=f"app-{n}") for n in range(7)]

    pages = await _walk(gql, admin_key, APPS_PAGE, ["apps"], first=3)

    assert [len(p["edges"]) for p in pages] == [3, 3, 1]
    seen = [e["node"]["id"] for p in pages for e in p["edges"]]
    assert seen == sorted(created, reverse=True)  # newest first, each once
    assert len(set(seen)) == len(created)
    for number, page in enumerate(pages):
        info = page["pageInfo"]
        assert page["totalCount"] == 7
        assert info["hasNextPage"] is (number < len(pages) - 1)
        assert info["hasPreviousPage"] is (number > 0)
        assert [e["cursor"] for e in page["edges"]] == [e["node"]["id"] for e in page["edges"]]
        assert info["startCursor"] == page["edges"][0]["cursor"]
        assert info["endCursor"] == page["edges"][-1]["cursor"]


async def test_a_page_size_that_divides_the_rows_ends_cleanly(gql: GraphQL, admin_key: str) -> None:
    created = [await create_app(gql, admin_key, slug=f"app-{n}") for n in range(4)]

    pages = await _walk(gql, admin_key, APPS_PAGE, ["apps"], first=2)
    after_last = await gql(
        APPS_PAGE, {"first": 2, "after": pages[-1]["pageInfo"]["endCursor"]}, key=admin_key
    )

    assert [len(p["edges"]) for p in pages] == [2, 2]
    assert {e["node"]["id"] for p in pages for e in p["edges"]} == set(created)
    assert pages[-1]["pageInfo"]["hasNextPage"] is False
    assert after_last["data"]["apps"]["edges"] == []
    assert after_last["data"]["apps"]["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }
    assert after_last["data"]["apps"]["totalCount"] == 4


async def test_rows_created_between_pages_do_not_shift_later_pages(
    gql: GraphQL, admin_key: str
) -> None:
    created = [await create_app(gql, admin_key, slug=f"app-{n}") for n in range(5)]
    first = await gql(APPS_PAGE, {"first": 2}, key=admin_key)
    await create_app(gql, admin_key, slug="late-comer")

    rest = await gql(
        APPS_PAGE,
        {"first": 10, "after": first["data"]["apps"]["pageInfo"]["endCursor"]},
        key=admin_key,
    )

    ids = [e["node"]["id"] for e in first["data"]["apps"]["edges"]]
    ids += [e["node"]["id"] for e in rest["data"]["apps"]["edges"]]
    assert ids == sorted(created, reverse=True)
    assert rest["data"]["apps"]["totalCount"] == 6


async def test_the_default_page_is_twenty(gql: GraphQL, admin_key: str) -> None:
    for n in range(21):
        await App.create(id=f"app_{n:026d}", slug=f"app-{n}", name="App")

    result = await gql(APPS_PAGE, key=admin_key)

    assert len(result["data"]["apps"]["edges"]) == 20
    assert result["data"]["apps"]["pageInfo"]["hasNextPage"] is True
    assert result["data"]["apps"]["totalCount"] == 21


async def test_a_page_of_a_hundred_is_accepted(gql: GraphQL, admin_key: str) -> None:
    for n in range(101):
        await App.create(id=f"app_{n:026d}", slug=f"app-{n}", name="App")

    result = await gql(APPS_PAGE, {"first": 100}, key=admin_key)

    assert len(result["data"]["apps"]["edges"]) == 100
    assert result["data"]["apps"]["pageInfo"]["hasNextPage"] is True


async def test_release_pages_of_one_app(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    other = await create_app(gql, admin_key, slug="other")
    created = [await create_release(gql, admin_key, app_id, f"1.{n}.0") for n in range(5)]
    await create_release(gql, admin_key, other, "1.0.0")
    document = """
    query ($id: ID!, $first: Int, $after: String) {
      app(id: $id) {
        releases(first: $first, after: $after) {
          totalCount edges { cursor node { id version } } pageInfo { hasNextPage endCursor }
        }
      }
    }
    """

    pages = await _walk(gql, admin_key, document, ["app", "releases"], first=2, id=app_id)

    assert [len(p["edges"]) for p in pages] == [2, 2, 1]
    assert [e["node"]["id"] for p in pages for e in p["edges"]] == sorted(created, reverse=True)
    assert {p["totalCount"] for p in pages} == {5}


async def test_api_key_and_audit_event_pages(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    for n in range(4):
        await make_key(KeyScope.CI, app_id, name=f"ci {n}")
    keys_doc = """
    query ($first: Int, $after: String) {
      apiKeys(first: $first, after: $after) {
        totalCount edges { node { id } } pageInfo { hasNextPage endCursor }
      }
    }
    """
    events_doc = """
    query ($first: Int, $after: String) {
      auditEvents(first: $first, after: $after) {
        totalCount edges { node { id } } pageInfo { hasNextPage endCursor }
      }
    }
    """

    key_pages = await _walk(gql, admin_key, keys_doc, ["apiKeys"], first=2)
    event_pages = await _walk(gql, admin_key, events_doc, ["auditEvents"], first=2)

    keys = [e["node"]["id"] for p in key_pages for e in p["edges"]]
    events = [e["node"]["id"] for p in event_pages for e in p["edges"]]
    assert keys == sorted([k.id for k in await ApiKey.all()], reverse=True)
    assert len(keys) == 5
    assert events == sorted([e.id for e in await AuditEvent.all()], reverse=True)
    assert len(events) == 6
    assert {p["totalCount"] for p in key_pages} == {5}
    assert {p["totalCount"] for p in event_pages} == {6}


# --- page-size limits -------------------------------------------------------------------


@pytest.mark.parametrize("first", [0, 1000, 101, -1])
async def test_a_page_size_outside_1_to_100_is_refused(
    gql: GraphQL, admin_key: str, first: int
) -> None:
    await create_app(gql, admin_key)
    before = await snapshot()

    result = await gql(APPS_PAGE, {"first": first}, key=admin_key)

    assert result["data"] is None
    error = top_error(result, "BAD_USER_INPUT")
    assert error["path"] == ["apps"]
    assert "first" in error["message"]
    assert "between 1 and 100" in error["message"]
    assert str(first) in error["message"]
    assert await snapshot() == before


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ("{ apiKeys(first: 0) { totalCount } }", ["apiKeys"]),
        ("{ auditEvents(first: 1000) { totalCount } }", ["auditEvents"]),
        (
            "query ($id: ID!) { app(id: $id) { releases(first: 1000) { totalCount } } }",
            ["app", "releases"],
        ),
    ],
)
async def test_every_connection_enforces_the_page_size(
    gql: GraphQL, admin_key: str, document: str, path: list[str]
) -> None:
    app_id = await create_app(gql, admin_key)
    await create_release(gql, admin_key, app_id)
    before = await snapshot()

    result = await gql(document, {"id": app_id}, key=admin_key)

    error = top_error(result, "BAD_USER_INPUT")
    assert error["path"] == path
    assert "between 1 and 100" in error["message"]
    assert await Release.all().count() == 1
    assert await snapshot() == before


@pytest.mark.parametrize(
    "after", ["", "garbage", "x" * 1000, "app_0000000000000000000000000\x00", "app_ 1"]
)
async def test_a_cursor_that_was_never_returned_is_refused(
    gql: GraphQL, admin_key: str, after: str
) -> None:
    await create_app(gql, admin_key)
    before = await snapshot()

    result = await gql(APPS_PAGE, {"first": 5, "after": after}, key=admin_key)

    assert result["data"] is None
    error = top_error(result, "BAD_USER_INPUT")
    assert error["message"] == "after must be a cursor returned in a previous page"
    assert await snapshot() == before
