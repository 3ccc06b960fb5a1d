"""Query limits (depth, aliases, tokens) and the cost of nested fields (no N+1 queries).

READY artifacts here are rows without a file (:mod:`tests.support.rows`): the subject is
the API, not what an updater is offered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from graphql import get_introspection_query

from ferryman.models import App
from ferryman.models.actor import KeyScope
from ferryman.settings import Settings
from tests.conftest import GraphQL, QueryCounter, make_key, peer, serving
from tests.support.api import create_app
from tests.support.database import snapshot
from tests.support.documents import VIEWER
from tests.support.refusals import top_error
from tests.support.rows import published_release

MAX_DEPTH = 10
MAX_ALIASES = 30


def _deep_selection(levels: int) -> str:
    """``app { releases { edges { node { app { ... id`` nested to about ``levels`` fields."""
    selection = "id"
    depth = 1
    while depth < levels:
        selection = f"app {{ releases {{ edges {{ node {{ {selection} }} }} }} }}"
        depth += 4
    return selection


async def test_a_mutation_deeper_than_the_limit_is_not_executed(
    gql: GraphQL, admin_key: str
) -> None:
    before = await snapshot()
    document = (
        'mutation { appCreate(input: {slug: "deep", name: "Deep"}) '
        f"{{ app {{ releases {{ edges {{ node {{ {_deep_selection(MAX_DEPTH)} }} }} }} }} }} }}"
    )

    result = await gql(document, key=admin_key)

    assert result.get("data") is None
    error = top_error(result, "GRAPHQL_VALIDATION_FAILED")
    assert "exceeds maximum operation depth" in error["message"]
    assert str(MAX_DEPTH) in error["message"]
    assert await snapshot() == before
    assert await App.all().count() == 0


async def test_a_query_at_the_depth_limit_runs(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    await published_release(gql, admin_key, app_id, "1.0.0")
    # apps(1) edges(2) node(3) releases(4) edges(5) node(6) app(7) releases(8) edges(9) node(10)
    at_limit = (
        "{ apps { edges { node { releases { edges { node { "
        "app { releases { edges { node { version } } } } } } } } } } }"
    )
    too_deep = at_limit.replace("{ version }", "{ app { id } }")

    ok = await gql(at_limit, key=admin_key)
    refused = await gql(too_deep, key=admin_key)

    assert "errors" not in ok
    edge = ok["data"]["apps"]["edges"][0]["node"]["releases"]["edges"][0]
    assert edge["node"]["app"]["releases"]["edges"] == [{"node": {"version": "1.0.0"}}]
    assert refused.get("data") is None
    top_error(refused, "GRAPHQL_VALIDATION_FAILED")


async def test_a_mutation_with_too_many_aliases_is_not_executed(
    gql: GraphQL, admin_key: str
) -> None:
    before = await snapshot()
    fields = " ".join(
        f'a{n}: appCreate(input: {{slug: "app-{n}", name: "App"}}) {{ app {{ id }} }}'
        for n in range(MAX_ALIASES + 1)
    )

    result = await gql(f"mutation {{ {fields} }}", key=admin_key)

    assert result.get("data") is None
    error = top_error(result, "GRAPHQL_VALIDATION_FAILED")
    assert "aliases" in error["message"]
    assert str(MAX_ALIASES) in error["message"]
    assert await snapshot() == before
    assert await App.all().count() == 0


async def test_thirty_aliases_are_accepted(gql: GraphQL, admin_key: str) -> None:
    fields = " ".join(
        f'a{n}: appCreate(input: {{slug: "app-{n}", name: "App"}}) {{ app {{ id }} }}'
        for n in range(MAX_ALIASES)
    )

    result = await gql(f"mutation {{ {fields} }}", key=admin_key)

    assert "errors" not in result
    assert await App.all().count() == MAX_ALIASES


async def test_a_document_with_too_many_tokens_is_refused(gql: GraphQL, admin_key: str) -> None:
    before = await snapshot()
    fields = " ".join(
        f'a{n}: appCreate(input: {{slug: "app-{n}", name: "App"}}) {{ app {{ id }} }}'
        for n in range(MAX_ALIASES)
    )
    padding = " ".join("__typename" for _ in range(5_000))

    result = await gql(f"mutation {{ {fields} {padding} }}", key=admin_key)

    assert result.get("data") is None
    error = top_error(result, "GRAPHQL_VALIDATION_FAILED")
    assert "more than 5000 tokens" in error["message"]
    assert await snapshot() == before


async def test_a_syntax_error_is_a_coded_top_level_error(gql: GraphQL, admin_key: str) -> None:
    before = await snapshot()

    result = await gql(
        'mutation { appCreate(input: {slug: "x", name: "X"}) { app { id }', key=admin_key
    )

    assert result.get("data") is None
    assert "Syntax Error" in top_error(result, "GRAPHQL_VALIDATION_FAILED")["message"]
    assert await snapshot() == before


async def test_graphiqls_introspection_query_fits_the_limits(gql: GraphQL) -> None:
    result = await gql(get_introspection_query(descriptions=True), key=None)

    assert "errors" not in result, result["errors"]
    types = {t["name"] for t in result["data"]["__schema"]["types"]}
    assert {"App", "Release", "ApiKey", "AuditEvent", "UserError"} <= types


async def test_limits_apply_before_authentication(gql: GraphQL) -> None:
    fields = " ".join(f"a{n}: __typename" for n in range(MAX_ALIASES + 1))

    result = await gql(f"{{ {fields} }}", key=None)

    assert result.get("data") is None
    assert "aliases" in top_error(result, "GRAPHQL_VALIDATION_FAILED")["message"]


# --- N+1 ---------------------------------------------------------------------------------


NESTED = "{ apps(first: 50) { edges { node { releaseCount latestVersion } } } }"


async def _statements_for_apps(gql: GraphQL, key: str, sql_log: QueryCounter) -> list[str]:
    sql_log.statements.clear()
    result = await gql(NESTED, key=key)
    assert "errors" not in result, result
    return list(sql_log.statements)


async def test_nested_app_fields_cost_the_same_for_3_and_12_apps(
    gql: GraphQL, admin_key: str, sql_log: QueryCounter
) -> None:
    for n in range(3):
        app_id = await create_app(gql, admin_key, slug=f"app-{n}")
        await published_release(gql, admin_key, app_id, f"1.{n}.0")
    await gql(VIEWER, key=admin_key)  # last_used_at is now fresh: no write

    with_3 = await _statements_for_apps(gql, admin_key, sql_log)
    for n in range(3, 12):
        app_id = await create_app(gql, admin_key, slug=f"app-{n}")
        await published_release(gql, admin_key, app_id, f"1.{n}.0")
    with_12 = await _statements_for_apps(gql, admin_key, sql_log)

    result = await gql(NESTED, key=admin_key)
    nodes = [e["node"] for e in result["data"]["apps"]["edges"]]
    assert len(nodes) == 12
    assert {n["releaseCount"] for n in nodes} == {1}
    assert with_3, "no SQL was logged: the counter sees nothing"
    assert len(with_12) == len(with_3), (with_3, with_12)
    # The key lookup, the page, and one batched query per nested field (at most a few more).
    assert len(with_3) <= 6, with_3


# --- limits set by the operator ----------------------------------------------------------


@pytest.fixture
async def tight(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app with small FERRYMAN_GRAPHQL_MAX_* limits."""
    async with (
        serving(
            settings,
            graphql_max_depth=3,
            graphql_max_aliases=2,
            graphql_max_tokens=40,
            graphql_max_page_size=2,
            graphql_max_body_bytes=600,
        ) as application,
        peer(application) as client,
    ):
        yield client


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ("{ apps { edges { node { releases { totalCount } } } } }", "maximum operation depth of 3"),
        ("{ a: __typename b: __typename c: __typename }", "2"),
        ("{ " + "__typename " * 40 + "}", "more than 40 tokens"),
        ("{ apps(first: 3) { totalCount } }", "first must be between 1 and 2, got 3"),
    ],
    ids=["depth", "aliases", "tokens", "page-size"],
)
async def test_the_operators_limits_apply_and_are_named(
    tight: httpx.AsyncClient, document: str, named: str
) -> None:
    key = await make_key(KeyScope.ADMIN)

    response = await tight.post(
        "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {key}"}
    )

    assert response.status_code == 200
    errors = response.json()["errors"]
    assert named in errors[0]["message"], errors
    assert errors[0]["extensions"]["code"] in ("GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT")


async def test_a_query_within_the_operators_limits_runs(tight: httpx.AsyncClient) -> None:
    key = await make_key(KeyScope.ADMIN)

    response = await tight.post(
        "/graphql",
        json={"query": "{ apps(first: 2) { totalCount } }"},
        headers={"Authorization": f"Bearer {key}"},
    )

    assert response.json() == {"data": {"apps": {"totalCount": 0}}}


async def test_a_json_body_over_the_limit_is_refused_before_it_runs(
    tight: httpx.AsyncClient,
) -> None:
    key = await make_key(KeyScope.ADMIN)
    before = await snapshot()
    padding = "x" * 600
    mutation = 'mutation { appCreate(input: {slug: "big", name: "Big"}) { app { id } } }'

    response = await tight.post(
        "/graphql",
        json={"query": mutation, "variables": {"padding": padding}},
        headers={"Authorization": f"Bearer {key}"},
    )

    assert response.status_code == 413
    assert "limit of 600 bytes" in response.text
    assert await snapshot() == before
