"""API-key authentication: the header, the key format, revoked keys, last_used_at."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ferryman import auth
from ferryman.models import ApiKey, App
from ferryman.models.actor import KeyScope
from tests.conftest import GraphQL, make_key
from tests.support.api import create_app
from tests.support.database import key_row, snapshot
from tests.support.documents import VIEWER

UNKNOWN_KEY = "uk_live_" + "A1b2C3d4E5" * 4


def _refusal(body: dict[str, object]) -> str:
    """The message of an authentication refusal, after checking its whole shape."""
    assert set(body) == {"data", "errors"}, body
    assert body["data"] is None
    errors = body["errors"]
    assert isinstance(errors, list)
    assert len(errors) == 1, errors
    assert errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}
    message: str = errors[0]["message"]
    return message


# --- the key format (pure functions) ------------------------------------------------


def test_minted_keys_have_the_documented_format() -> None:
    minted = auth.mint()
    other = auth.mint()

    assert minted.secret.startswith("uk_live_")
    assert len(minted.secret) == len("uk_live_") + 40
    assert minted.secret[len("uk_live_") :].isalnum()
    assert minted.key_hash == hashlib.sha256(minted.secret.encode()).hexdigest()
    assert minted.prefix == minted.secret[:12]
    assert minted.secret != other.secret
    assert auth.bearer_token(f"Bearer {minted.secret}") == minted.secret


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "missing Authorization header"),
        ("", "missing Authorization header"),
        ("Basic x", "malformed Authorization header"),
        ("Bearer", "malformed Authorization header"),
        ("Token uk_live_" + "a" * 40, "malformed Authorization header"),
        ("Bearer short", "malformed API key"),
        ("Bearer uk_live_" + "a" * 31, "malformed API key"),
        ("Bearer uk_test_" + "a" * 40, "malformed API key"),
        ("Bearer uk_live_" + "a" * 39 + "!", "malformed API key"),
    ],
)
def test_bearer_token_names_what_is_wrong(header: str | None, expected: str) -> None:
    with pytest.raises(auth.AuthenticationError, match=expected):
        auth.bearer_token(header)


# --- refusals over HTTP ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "missing Authorization header: send 'Authorization: Bearer <api key>'"),
        (
            {"Authorization": "Basic x"},
            "malformed Authorization header: expected 'Bearer <api key>'",
        ),
        (
            {"Authorization": "Bearer short"},
            "malformed API key: keys look like uk_live_ followed by at least 32 letters and digits",
        ),
        ({"Authorization": f"Bearer {UNKNOWN_KEY}"}, "unknown API key"),
    ],
)
async def test_requests_without_a_usable_key_are_refused(
    client: httpx.AsyncClient, admin_key: str, headers: dict[str, str], expected: str
) -> None:
    before = await snapshot()

    response = await client.post(
        "/graphql",
        json={"query": 'mutation { appCreate(input: {slug: "x", name: "X"}) { app { id } } }'},
        headers=headers,
    )

    assert response.status_code == 200
    assert _refusal(response.json()) == expected
    assert await snapshot() == before
    assert await App.all().count() == 0


async def test_a_query_is_refused_without_a_key_too(gql: GraphQL, admin_key: str) -> None:
    await create_app(gql, admin_key)
    before = await snapshot()

    result = await gql("{ apps { totalCount edges { node { slug } } } }", key=None)

    assert "missing Authorization header" in _refusal(result)
    assert await snapshot() == before


async def test_a_revoked_key_is_refused(gql: GraphQL, admin_key: str) -> None:
    secret = await make_key(KeyScope.ADMIN, name="old key")
    assert (await gql(VIEWER, key=secret))["data"]["viewer"]["name"] == "old key"
    row = await key_row(secret)
    await ApiKey.filter(id=row.id).update(revoked_at=datetime.now(UTC))
    before = await snapshot()

    result = await gql(
        'mutation { appCreate(input: {slug: "x", name: "X"}) { app { id } } }', key=secret
    )

    message = _refusal(result)
    assert message.startswith(f"API key {row.prefix}… was revoked at ")
    assert await snapshot() == before


async def test_introspection_alone_works_without_a_key(gql: GraphQL) -> None:
    result = await gql("{ __schema { queryType { name } } }", key=None)

    assert result == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { queryType { name } } apps { totalCount } }",
        "{ ...F } fragment F on Query { apps { totalCount } }",
        "{ ... on Query { apps { totalCount } } }",
    ],
)
async def test_introspection_does_not_carry_other_fields_past_auth(
    gql: GraphQL, admin_key: str, query: str
) -> None:
    await create_app(gql, admin_key)
    before = await snapshot()

    result = await gql(query, key=None)

    assert "missing Authorization header" in _refusal(result)
    assert await snapshot() == before


# --- last_used_at ---------------------------------------------------------------------


async def test_last_used_at_is_written_at_most_once_a_minute(gql: GraphQL, admin_key: str) -> None:
    secret = await make_key(KeyScope.ADMIN, name="fresh")
    assert (await key_row(secret)).last_used_at is None
    started = datetime.now(UTC)

    await gql(VIEWER, key=secret)
    first = (await key_row(secret)).last_used_at
    await gql(VIEWER, key=secret)
    second = (await key_row(secret)).last_used_at

    assert first is not None
    assert started - timedelta(seconds=1) <= first <= datetime.now(UTC) + timedelta(seconds=1)
    assert second == first

    # Once the last write is over a minute old, the next request writes again.
    stale = datetime.now(UTC) - timedelta(minutes=2)
    await ApiKey.filter(key_hash=auth.hash_key(secret)).update(last_used_at=stale)
    await gql(VIEWER, key=secret)
    third = (await key_row(secret)).last_used_at

    assert third is not None
    assert third > stale + timedelta(minutes=1)


async def test_a_refused_key_is_not_marked_used(gql: GraphQL, admin_key: str) -> None:
    secret = await make_key(KeyScope.ADMIN, name="revoked before use")
    await ApiKey.filter(key_hash=auth.hash_key(secret)).update(revoked_at=datetime.now(UTC))

    result = await gql(VIEWER, key=secret)

    assert "was revoked" in _refusal(result)
    assert (await key_row(secret)).last_used_at is None
