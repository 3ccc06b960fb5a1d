"""No request can stall the server: a GraphQL document is weighed before it is validated.

Security review, issue 12, item 1: ``{ apps{totalCount} apps{totalCount} ... }`` (900 times,
14 KB, no key) stayed under the token, depth and alias limits and kept the event loop in
graphql-core's OverlappingFieldsCanBeMerged validation for seconds, /healthz waiting
behind it; the key was checked only after validation. Now every document is measured
first (its selections with fragments expanded, and how often one key or fragment spreads
recur at one place of the result) and, without a key, anything but introspection is
refused before validation. These tests count graphql-core's validations to show that a
refused document never reaches one; a burst against the real server shows /healthz still
answering while it is refused.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import ValidationContext, get_introspection_query, parse, validate
from graphql import build_schema as schema_from_sdl

from ferryman.models.actor import KeyScope
from ferryman.resolvers.budget import Budget
from ferryman.settings import Settings
from tests.conftest import GraphQL, make_key, peer, serving
from tests.support.api import create_app
from tests.support.documents import APPS
from tests.support.refusals import top_error

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = sorted((ROOT / "schema" / "operations").glob("*.graphql"))
DEFAULTS = Settings()
SELECTIONS = ("FERRYMAN_GRAPHQL_MAX_SELECTIONS", str(DEFAULTS.graphql_max_selections))
REPEATS = ("FERRYMAN_GRAPHQL_MAX_REPEATS", str(DEFAULTS.graphql_max_repeats))
APP_FIELDS = (
    "id slug name description publicKey ciMayPublish channels distribution expiredPolicy "
    "graceDays offerDowngradeOnYank requireSignedVersion createdAt updatedAt releaseCount "
    "latestVersion"
)
RELEASE_FIELDS = (
    "id version notes channel status pubDate coverageDate effectiveDate rolloutPercent yankedAt "
    "yankReason createdAt"
)
# What GraphiQL sends to load the docs, with every option graphql-core knows switched on.
INTROSPECTION = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)

# The document of the review: 900 times one field, under every limit validation checks.
REPORTED = "{" + "apps{totalCount} " * 900 + "}"


def fan_out(levels: int) -> str:
    """Fragments that spread each other twice: a few hundred bytes, 2**levels expansions."""
    fragments = " ".join(
        f"fragment F{n} on Query {{ apps {{ totalCount }} ...F{n + 1} ...G{n + 1} }} "
        f"fragment G{n} on Query {{ apps {{ totalCount }} ...F{n + 1} ...G{n + 1} }}"
        for n in range(levels)
    )
    last = (
        f"fragment F{levels} on Query {{ __typename }} fragment G{levels} on Query {{ __typename }}"
    )
    return f"{{ ...F0 ...G0 }} {fragments} {last}"


HOSTILE = [
    pytest.param(REPORTED, REPEATS, "`apps`", id="reported"),
    pytest.param(
        "{" + "a: apps{totalCount} " * 30 + "apps{totalCount} " * 870 + "}",
        REPEATS,
        "`a`",
        id="aliased-under-the-alias-limit",
    ),
    pytest.param(fan_out(20), REPEATS, "fragments are spread", id="fragments-spreading-each-other"),
    pytest.param(
        "{ ...A } "
        "fragment A on Query { " + "apps{totalCount} " * 450 + "...B } "
        "fragment B on Query { " + "apps{totalCount} " * 450 + "...A }",
        REPEATS,
        "`apps`",
        id="fragments-in-a-cycle",
    ),
    pytest.param(
        "{" + ("apps { edges { node { " + "releaseCount " * 30 + "} } } ") * 30 + "}",
        REPEATS,
        "`apps`",
        id="nested-repetition",
    ),
    pytest.param(
        # Each selection set repeats a field 9 times, under the limit; merged as execution
        # merges them, apps.edges.node.releases is selected 81 times.
        "{" + ("apps { edges { node { " + "releases { totalCount } " * 9 + "} } } ") * 9 + "}",
        REPEATS,
        "`apps.edges.node.releases`",
        id="nested-repetition-merged",
    ),
    pytest.param(
        "{" + "__typename " * 900 + "}", REPEATS, "`__typename`", id="typename-introspection-only"
    ),
    pytest.param(
        "{ "
        + " ".join(f"...F{n}" for n in range(400))
        + " } "
        + " ".join(f"fragment F{n} on Query {{ a{n}: __typename }}" for n in range(400)),
        REPEATS,
        "fragments are spread",
        id="many-fragments-at-one-place",
    ),
    pytest.param(
        "{"
        + " ".join(
            f"a{n}: apps {{ edges {{ node {{ {APP_FIELDS} "
            f"releases {{ edges {{ node {{ {RELEASE_FIELDS} }} }} }} }} }} }}"
            for n in range(30)
        )
        + "}",
        SELECTIONS,
        "selections",
        id="wide",
    ),
]


@dataclasses.dataclass
class Validations:
    """How many times graphql-core's ``validate`` ran (each run makes one ValidationContext)."""

    count: int = 0


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> Validations:
    seen = Validations()
    original = ValidationContext.__init__

    def counting(self: ValidationContext, *args: Any, **kwargs: Any) -> None:
        seen.count += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(ValidationContext, "__init__", counting)
    return seen


# --- hostile documents are refused before validation ----------------------------------------


@pytest.mark.parametrize("caller", ["no key", "admin key"])
@pytest.mark.parametrize(("document", "limit", "names"), HOSTILE)
async def test_a_document_over_the_budget_is_refused_before_validation(
    gql: GraphQL,
    admin_key: str,
    validations: Validations,
    caller: str,
    document: str,
    limit: tuple[str, str],
    names: str,
) -> None:
    key = admin_key if caller == "admin key" else None

    result = await gql(document, key=key)

    assert result.get("data") is None
    message = top_error(result, "GRAPHQL_VALIDATION_FAILED")["message"]
    setting, value = limit
    assert setting in message, message
    assert f" {value} " in message, message
    assert names in message, message
    assert validations.count == 0


async def test_a_refused_document_is_refused_again_from_the_cache(
    gql: GraphQL, admin_key: str, validations: Validations
) -> None:
    first = await gql(REPORTED, key=admin_key)
    second = await gql(REPORTED, key=admin_key)

    assert first == second
    assert (
        "FERRYMAN_GRAPHQL_MAX_REPEATS" in top_error(second, "GRAPHQL_VALIDATION_FAILED")["message"]
    )
    assert validations.count == 0


async def test_without_a_key_a_document_is_refused_before_validation(
    gql: GraphQL, validations: Validations
) -> None:
    # Within the budget, and invalid: validation would name the unknown field.
    result = await gql("{ apps { totalCount } noSuchField }", key=None)

    assert result.get("data") is None
    error = top_error(result, "UNAUTHENTICATED")
    assert "missing Authorization header" in error["message"]
    assert validations.count == 0


async def test_a_bad_key_is_refused_before_validation(
    gql: GraphQL, validations: Validations
) -> None:
    result = await gql("{ apps { totalCount } noSuchField }", key="uk_live_" + "x" * 40)

    assert top_error(result, "UNAUTHENTICATED")["message"] == "unknown API key"
    assert validations.count == 0


async def test_a_fragment_cycle_within_the_budget_is_left_to_validation_to_name(
    gql: GraphQL, admin_key: str, validations: Validations
) -> None:
    cycle = (
        "{ ...A } fragment A on Query { apps { totalCount } ...B } "
        "fragment B on Query { viewer { id } ...A }"
    )

    result = await gql(cycle, key=admin_key)

    assert result.get("data") is None
    assert any("Cannot spread fragment 'A' within itself" in e["message"] for e in result["errors"])
    assert validations.count == 1


async def test_a_document_of_several_operations_must_name_one_before_validation(
    client: httpx.AsyncClient, admin_key: str, validations: Validations
) -> None:
    document = "query A { viewer { name } } query B { __typename }"
    headers = {"Authorization": f"Bearer {admin_key}"}

    unnamed = await client.post("/graphql", json={"query": document}, headers=headers)
    assert validations.count == 0
    named = await client.post(
        "/graphql", json={"query": document, "operationName": "A"}, headers=headers
    )

    message = top_error(unnamed.json(), "GRAPHQL_VALIDATION_FAILED")["message"]
    assert "the document has 2 operations: send operationName" in message
    assert named.json() == {"data": {"viewer": {"name": "global admin"}}}
    assert validations.count == 1


async def test_with_introspection_off_no_caller_may_introspect(settings: Settings) -> None:
    async with (
        serving(settings, introspection=False) as application,
        peer(application) as client,
    ):
        gql = GraphQL(client)
        key = await make_key(KeyScope.ADMIN)
        anonymous = await gql("{ __schema { queryType { name } } }", key=None)
        admin = await gql("{ __schema { queryType { name } } }", key=key)
        typename = await gql("{ __typename }", key=None)

    for refused in (anonymous, admin):
        assert refused.get("data") is None
        assert {e["extensions"]["code"] for e in refused["errors"]} == {"GRAPHQL_VALIDATION_FAILED"}
        assert "introspection has been disabled" in refused["errors"][0]["message"]
    assert typename == {"data": {"__typename": "Query"}}


# --- legitimate documents pass, and are validated once -------------------------------------


async def test_graphiqls_introspection_passes_without_a_key(
    gql: GraphQL, validations: Validations
) -> None:
    result = await gql(INTROSPECTION, key=None)

    assert "errors" not in result, result["errors"]
    assert result["data"]["__schema"]["queryType"]["name"] == "Query"
    assert validations.count == 1


@pytest.mark.parametrize("path", OPERATIONS, ids=[p.stem for p in OPERATIONS])
def test_every_operation_ci_sends_is_within_the_budget_and_valid(path: Path) -> None:
    document = parse(path.read_text(), max_tokens=DEFAULTS.graphql_max_tokens)
    schema = schema_from_sdl((ROOT / "schema" / "schema.graphql").read_text())

    assert (
        Budget(DEFAULTS.graphql_max_selections, DEFAULTS.graphql_max_repeats).refusal(document)
        is None
    )
    assert validate(schema, document) == []


def test_the_budget_leaves_room_above_graphiqls_introspection() -> None:
    document = parse(INTROSPECTION)
    selections, repeats = DEFAULTS.graphql_max_selections, DEFAULTS.graphql_max_repeats

    assert Budget(selections // 2, 1).refusal(document) is None  # half the budget is enough
    assert Budget(selections // 4, 1).refusal(document) is not None  # the count is real
    assert repeats > 1


async def test_fields_repeated_within_the_limit_run(
    gql: GraphQL, admin_key: str, validations: Validations
) -> None:
    await create_app(gql, admin_key, slug="repeated")
    before = validations.count
    repeats = DEFAULTS.graphql_max_repeats
    document = (
        "query { apps { ...Ids edges { node { ...Slug " + "slug " * (repeats - 1) + "} } } } "
        "fragment Slug on App { slug } fragment Ids on AppConnection { totalCount }"
    )

    result = await gql(document, key=admin_key)

    assert result == {
        "data": {"apps": {"totalCount": 1, "edges": [{"node": {"slug": "repeated"}}]}}
    }
    assert validations.count == before + 1


async def test_a_repeated_document_is_validated_once(
    gql: GraphQL, admin_key: str, validations: Validations
) -> None:
    first = await gql("{ viewer { name } }", key=admin_key)
    second = await gql("{ viewer { name } }", key=admin_key)

    assert first == second == {"data": {"viewer": {"name": "global admin"}}}
    assert validations.count == 1


async def test_callers_without_a_key_cannot_evict_or_poison_the_cache(
    gql: GraphQL, admin_key: str, validations: Validations
) -> None:
    document = APPS
    # Sent first without a key: refused, and nothing about the text is kept for the admin.
    assert top_error(await gql(document, key=None), "UNAUTHENTICATED")
    assert await gql(document, key=admin_key) == {"data": {"apps": {"totalCount": 0}}}
    assert validations.count == 1

    # A flood of distinct introspection documents without a key...
    for n in range(300):
        assert "errors" not in await gql(f"{{ t{n}: __typename }}", key=None)
    assert validations.count == 301

    # ...evicts nothing the admin had validated.
    assert await gql(document, key=admin_key) == {"data": {"apps": {"totalCount": 0}}}
    assert validations.count == 301


# --- the operator's limits -------------------------------------------------------------------


async def test_the_operators_budget_applies_and_is_named(settings: Settings) -> None:
    async with (
        serving(settings, graphql_max_selections=8, graphql_max_repeats=2) as application,
        peer(application) as client,
    ):
        gql = GraphQL(client)
        within = await gql("{ a: __typename b: __typename __typename __typename }", key=None)
        repeated = await gql("{ __typename __typename __typename }", key=None)
        wide = await gql("{ " + " ".join(f"a{n}: __typename" for n in range(9)) + " }", key=None)

    assert "errors" not in within, within
    assert (
        "FERRYMAN_GRAPHQL_MAX_REPEATS"
        in top_error(repeated, "GRAPHQL_VALIDATION_FAILED")["message"]
    )
    message = top_error(wide, "GRAPHQL_VALIDATION_FAILED")["message"]
    assert "more than 8 selections" in message
    assert "FERRYMAN_GRAPHQL_MAX_SELECTIONS" in message


def test_the_budget_is_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {"FERRYMAN_GRAPHQL_MAX_SELECTIONS": "50", "FERRYMAN_GRAPHQL_MAX_REPEATS": "3"}
    )

    assert (settings.graphql_max_selections, settings.graphql_max_repeats) == (50, 3)


# --- the real server stays responsive ---------------------------------------------------------


async def test_healthz_answers_during_a_burst_of_hostile_documents(
    live_server: tuple[str, str],
) -> None:
    url, key = live_server
    hostile = [REPORTED, fan_out(20), "{" + "__typename " * 900 + "}"]

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def attack(n: int) -> httpx.Response:
            headers = {"Authorization": f"Bearer {key}"} if n % 2 else {}
            body = {"query": hostile[n % len(hostile)]}
            return await client.post("/graphql", json=body, headers=headers)

        async def probe() -> float:
            await asyncio.sleep(0.05)  # the burst is on its way
            started = time.perf_counter()
            response = await client.get("/healthz")
            assert response.status_code == 200, response.text
            return time.perf_counter() - started

        *answers, waited = await asyncio.gather(*(attack(n) for n in range(10)), probe())

    # Validating these ten documents held the loop for tens of seconds; the bound is generous
    # so that a busy machine does not fail it, and still far below that.
    assert waited < 5, f"/healthz took {waited:.2f} s"
    for answer in answers:
        assert answer.status_code == 200, answer.text
        errors = answer.json()["errors"]
        assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", errors
