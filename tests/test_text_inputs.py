"""No string input on any door gives a 5xx.

The client rule: a lone surrogate (JSON ``"\\ud800"``) is not text. JSON and GraphQL escapes
can carry one, but no UTF-8 encoder (the database's, a log line's, a JSON answer's) can, so
every door must answer it as an input error and write nothing:

- a GraphQL mutation: a ``userErrors`` entry, code INVALID_INPUT, naming the camelCase path
  to where the surrogate was (``["input", "notes"]``);
- a GraphQL query: a top-level error whose ``extensions.code`` is BAD_USER_INPUT, or a null
  or empty answer;
- REST: a 4xx with a JSON error;

never INTERNAL_SERVER_ERROR or a 5xx. The mutation and query sweeps put the surrogate in
every String and ID argument and input field (IDs are JSON strings too), one at a time; they
are generated from the committed ``schema/schema.graphql`` (so test ids are stable) and
checked against what the server introspects, so a new argument is swept as soon as it
exists. Every request body is raw JSON with the escape spelled out, as a client sends it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
    get_named_type,
)

from ferryman.local_s3 import LocalS3
from ferryman.models import app as apps
from ferryman.models.actor import Actor, KeyScope
from tests.conftest import GraphQL, make_key
from tests.support import ci
from tests.support.api import create_app, create_release
from tests.support.database import snapshot
from tests.support.refusals import assert_rest_refusal, user_error
from tests.support.shipping import Shipyard
from tests.support.uploads import multipart, objects

SCHEMA_FILE = Path(__file__).parent.parent / "schema" / "schema.graphql"
SURROGATE = "\ud800"
ENCODED_SURROGATE = "%ED%A0%80"  # the surrogate's UTF-8 bytes (surrogatepass), percent-encoded
MADE_UP_ID = "app_01JAAAAAAAAAAAAAAAAAAAAAAA"
# Placeholders for the arguments a case must send but does not aim at (schema.graphql
# documents the custom scalars: DateTime is ISO 8601, ByteCount a JSON number).
PLACEHOLDERS: dict[str, Any] = {
    "ID": MADE_UP_ID,
    "String": "x",
    "Int": 0,
    "Float": 0.0,
    "Boolean": False,
    "DateTime": "2025-01-01T00:00:00+00:00",
    "Date": "2025-01-01",
    "ByteCount": 0,
}
TEXT_SCALARS = ("String", "ID")  # both are JSON strings on the wire
# Arguments sent whenever a field takes them, so that a check of the install (updatePreview)
# gets as far as the argument that holds the surrogate.
NAMED = {"target": "linux", "arch": "x86_64", "currentVersion": "1.0.0", "version": "1.0.0"}
# What stands in for the surrogate in a query's control request, besides NAMED.
# (auditEvents' actorId names a key or a person, so an app's id is refused there.)
VALID = {"slug": "my-app", "actorId": "key_01JAAAAAAAAAAAAAAAAAAAAAAA"}
# Where the query sweep reaches the fields of each object type; App and Release fields are
# reached from app(id:), on an app (and its release 1.0.0) that the test creates.
REACH = {
    "Query": "{}",
    "App": "app(id: $reachApp) {{ {} }}",
    "Release": 'app(id: $reachApp) {{ release(version: "1.0.0") {{ {} }} }}',
}
USER_ERRORS = "userErrors { field message code }"


@dataclasses.dataclass(frozen=True)
class Case:
    """One request with a lone surrogate in one place: ``path`` names that place as the
    server's userErrors do (an input object in a list by its index, as the CI submission's
    own checks name it; a string in a list by its list, as the channel checks do)."""

    owner: str
    field: str
    path: tuple[str, ...]
    document: str
    variables: dict[str, Any] = dataclasses.field(hash=False)
    # The same request with a valid value (or nothing) where the surrogate is.
    control: dict[str, Any] = dataclasses.field(hash=False)

    @property
    def id(self) -> str:
        prefix = "" if self.owner in ("Mutation", "Query") else f"{self.owner}."
        return f"{prefix}{self.field}:{'.'.join(self.path)}"


def required(spec: GraphQLArgument | GraphQLInputField) -> bool:
    return isinstance(spec.type, GraphQLNonNull) and spec.default_value is Undefined


def placeholder(kind: GraphQLInputType) -> Any:
    """A value of ``kind`` that is not the surrogate: required fields filled, others left out."""
    if isinstance(kind, GraphQLNonNull):
        return placeholder(kind.of_type)
    if isinstance(kind, GraphQLList):
        return []
    if isinstance(kind, GraphQLInputObjectType):
        return {name: placeholder(f.type) for name, f in kind.fields.items() if required(f)}
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    assert isinstance(kind, GraphQLScalarType)
    assert kind.name in PLACEHOLDERS, f"no placeholder for the scalar {kind.name}: add one"
    return PLACEHOLDERS[kind.name]


def text_places(kind: GraphQLInputType) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every place in a value of ``kind`` a string can go: (its path, the value with a
    lone surrogate there)."""
    if isinstance(kind, GraphQLNonNull):
        yield from text_places(kind.of_type)
    elif isinstance(kind, GraphQLList):
        index = ("0",) if isinstance(get_named_type(kind), GraphQLInputObjectType) else ()
        for path, value in text_places(kind.of_type):
            yield (*index, *path), [value]
    elif isinstance(kind, GraphQLInputObjectType):
        for name, spec in kind.fields.items():
            for path, value in text_places(spec.type):
                yield (name, *path), {**placeholder(kind), name: value}
    elif isinstance(kind, GraphQLScalarType) and kind.name in TEXT_SCALARS:
        yield (), SURROGATE


def takes_upload(field: GraphQLField) -> bool:
    return any(get_named_type(arg.type).name == "Upload" for arg in field.args.values())


def leaves(kind: GraphQLOutputType, depth: int) -> str:
    """A selection of ``kind``: its leaf fields, and ``depth`` levels of object fields
    (so that what a resolver returns is also read, not only its type name)."""
    named = get_named_type(kind)
    if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        return ""
    picked = ["__typename"]
    for name, spec in named.fields.items():
        if any(required(arg) for arg in spec.args.values()):
            continue
        inner = get_named_type(spec.type)
        if not isinstance(inner, GraphQLObjectType | GraphQLInterfaceType):
            picked.append(name)
        elif depth > 0:
            picked.append(f"{name} {{ {leaves(spec.type, depth - 1)} }}")
    return " ".join(picked)


def field_cases(
    owner: str, name: str, field: GraphQLField, operation: str, selection: str
) -> Iterator[Case]:
    """A case for every string an argument of ``field`` can carry."""
    reach = REACH.get(owner, "{}")
    for target, spec in field.args.items():
        for path, value in text_places(spec.type):
            sent = {
                a: NAMED.get(a, placeholder(s.type))
                for a, s in field.args.items()
                if required(s) or a in NAMED
            }
            control = dict(sent)
            if not path and target in NAMED | VALID:
                control[target] = (NAMED | VALID)[target]
            elif not path and get_named_type(spec.type).name == "ID":
                control[target] = MADE_UP_ID
            elif not path and not required(spec):
                control.pop(target, None)
            sent[target] = value
            declared = [f"${a}: {field.args[a].type}" for a in sent]
            if owner not in ("Query", "Mutation"):
                declared.append("$reachApp: ID!")
            passed = ", ".join(f"{a}: ${a}" for a in sent)
            call = f"{name}({passed}) {{ {selection} }}"
            document = f"{operation} Sweep({', '.join(declared)}) {{ {reach.format(call)} }}"
            yield Case(owner, name, (target, *path), document, sent, control)


def mutation_cases(schema: GraphQLSchema) -> list[Case]:
    """Every mutation with a lone surrogate in each string argument or input field; those
    taking an ``Upload!`` are left to the multipart test below."""
    mutation = schema.mutation_type
    assert mutation is not None
    return [
        case
        for name, field in mutation.fields.items()
        if not takes_upload(field)
        for case in field_cases("Mutation", name, field, "mutation", USER_ERRORS)
    ]


def query_cases(schema: GraphQLSchema) -> list[Case]:
    """Every query field, and every App and Release field, with a string argument."""
    cases: list[Case] = []
    for owner in REACH:
        kind = schema.get_type(owner)
        assert isinstance(kind, GraphQLObjectType), owner
        for name, field in kind.fields.items():
            selection = leaves(field.type, 2)
            cases.extend(field_cases(owner, name, field, "query", selection))
    return cases


FILE_SCHEMA = graphql.build_schema(SCHEMA_FILE.read_text())
MUTATION_CASES = mutation_cases(FILE_SCHEMA)
QUERY_CASES = query_cases(FILE_SCHEMA)


def raw_json(payload: Any) -> bytes:
    """The body as a client writes it: a surrogate spelled as the escape ``\\ud800``."""
    return json.dumps(payload, ensure_ascii=True).encode("ascii")


async def send(
    client: httpx.AsyncClient, key: str, case: Case, variables: dict[str, Any] | None = None
) -> httpx.Response:
    """POST the case's document as raw JSON (with ``variables`` instead of its own)."""
    sent = case.variables if variables is None else variables
    return await client.post(
        "/graphql",
        content=raw_json({"query": case.document, "variables": sent}),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


def all_text(value: Any) -> bool:
    """Whether every string in a decoded JSON answer is text (the surrogate is not echoed)."""
    if isinstance(value, str):
        return not any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    if isinstance(value, list):
        return all(all_text(item) for item in value)
    if isinstance(value, dict):
        return all(all_text(k) and all_text(v) for k, v in value.items())
    return True


def graphql_answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a GraphQL answer that is not a bug: 200, no INTERNAL_SERVER_ERROR."""
    assert response.status_code == 200, response.text[:500]
    body: dict[str, Any] = response.json()
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    assert "INTERNAL_SERVER_ERROR" not in codes, body
    assert all_text(body), body
    return body


def test_the_sweep_is_not_trivial() -> None:
    """Every mutation is swept but artifactUpload (multipart, tested on its own), nested and
    list fields included."""
    ids = [case.id for case in MUTATION_CASES]
    assert len(ids) > 30, ids
    assert len(set(ids)) == len(ids)
    for expected in ("appCreate:input.channels", "ciReleaseSubmit:input.artifacts.0.r2Key"):
        assert expected in ids
    mutations = FILE_SCHEMA.mutation_type
    assert mutations is not None
    assert [n for n, f in mutations.fields.items() if takes_upload(f)] == ["artifactUpload"]
    assert {case.field for case in MUTATION_CASES} == set(mutations.fields) - {"artifactUpload"}
    assert {case.field for case in QUERY_CASES} >= {"updatePreview", "app", "release"}


async def test_the_sweep_covers_the_schema_the_server_serves(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    """The cases come from the committed file; the server must serve that same schema."""
    response = await client.post(
        "/graphql",
        json={"query": graphql.get_introspection_query()},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert response.status_code == 200
    served = graphql.build_client_schema(response.json()["data"])
    assert mutation_cases(served) == MUTATION_CASES
    assert query_cases(served) == QUERY_CASES
    in_order = graphql.lexicographic_sort_schema
    assert graphql.print_schema(in_order(served)) == graphql.print_schema(in_order(FILE_SCHEMA))


@pytest.mark.parametrize("case", MUTATION_CASES, ids=lambda case: case.id)
async def test_a_mutation_refuses_a_lone_surrogate(
    client: httpx.AsyncClient, admin_key: str, case: Case
) -> None:
    before = await snapshot()
    response = await send(client, admin_key, case)
    assert b"\\ud800" in response.request.read()  # the escape, as a client spells it
    body = graphql_answer(response)
    assert not body.get("errors"), body
    message = user_error(body["data"][case.field], "INVALID_INPUT", list(case.path))
    assert "surrogate" in message
    assert await snapshot() == before


async def test_a_multipart_upload_refuses_a_lone_surrogate_signature(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str, s3: LocalS3, bucket: str
) -> None:
    """artifactUpload (the one mutation taking an Upload!) through the multipart spec."""
    release_id = await create_release(gql, admin_key, await create_app(gql, admin_key))
    before, stored = await snapshot(), objects(s3, bucket)
    response = await multipart(client, admin_key, release_id, signature=SURROGATE)
    assert b"\\ud800" in response.request.read()  # the escape went over the wire
    body = graphql_answer(response)
    assert not body.get("errors"), body
    payload = body["data"]["artifactUpload"]
    assert "surrogate" in user_error(payload, "INVALID_INPUT", ["signature"])
    assert payload["artifact"] is None
    assert await snapshot() == before
    assert objects(s3, bucket) == stored


def substituted(value: Any, old: str, new: str) -> Any:
    """``value`` with every ``old`` string replaced by ``new``."""
    if value == old:
        return new
    if isinstance(value, list):
        return [substituted(item, old, new) for item in value]
    if isinstance(value, dict):
        return {k: substituted(v, old, new) for k, v in value.items()}
    return value


def empty(answer: Any) -> bool:
    """A null answer, or a list or connection with nothing in it."""
    if answer is None or answer == []:
        return True
    return isinstance(answer, dict) and answer.get("edges") == []


@pytest.mark.parametrize("case", QUERY_CASES, ids=lambda case: case.id)
async def test_a_query_refuses_a_lone_surrogate(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str, case: Case
) -> None:
    """Ids the case does not aim at name a real app, and the same query without the
    surrogate must succeed, so that it is the surrogate that is judged."""
    app_id = await create_app(gql, admin_key)
    await create_release(gql, admin_key, app_id, "1.0.0")
    reach = {} if case.owner == "Query" else {"reachApp": app_id}
    control = await send(
        client, admin_key, case, {**substituted(case.control, MADE_UP_ID, app_id), **reach}
    )
    answered = graphql_answer(control)
    assert not answered.get("errors"), answered
    assert field_of(case, answered) is not None, answered
    before = await snapshot()
    variables = {**substituted(case.variables, MADE_UP_ID, app_id), **reach}
    response = await send(client, admin_key, case, variables)
    assert b"\\ud800" in response.request.read()
    body = graphql_answer(response)
    errors = body.get("errors") or []
    if errors:
        assert {e["extensions"]["code"] for e in errors} == {"BAD_USER_INPUT"}, body
    else:
        assert empty(field_of(case, body)), body
    assert await snapshot() == before


def field_of(case: Case, body: dict[str, Any]) -> Any:
    """The answer to the case's field, reached through app(id:) and release() as needed."""
    answer = body["data"]
    for step in ("app", "release")[: list(REACH).index(case.owner)]:
        answer = answer[step]
    return answer[case.field]


# --- REST -------------------------------------------------------------------------------


@pytest.fixture
async def ci_key(app: Any) -> str:
    """A CI key of the app my-app (the submission is refused before any file is read)."""
    created = await apps.create(Actor.console(), apps.AppChanges(slug="my-app", name="My App"))
    return await make_key(KeyScope.CI, created.id)


def with_surrogate(place: str) -> dict[str, Any]:
    """The CI route's body with a lone surrogate at ``place`` (``artifacts.0.platform``)."""
    submission = ci.body(channel="stable")
    *parents, last = place.split(".")
    holder: Any = submission
    for step in parents:
        holder = holder[int(step)] if step.isdigit() else holder[step]
    holder[last] = SURROGATE
    return submission


@pytest.mark.parametrize(
    ("place", "named"),
    [
        ("version", "version"),
        ("notes", "notes"),
        ("channel", "channel"),
        ("artifacts.0.platform", "platform"),
        ("artifacts.0.signature", "signature"),
        ("artifacts.0.r2_key", "r2_key"),
    ],
)
async def test_the_ci_route_refuses_a_lone_surrogate(
    client: httpx.AsyncClient, ci_key: str, place: str, named: str
) -> None:
    before = await snapshot()
    response = await ci.post(client, ci_key, with_surrogate(place))
    assert b"\\ud800" in response.request.read()
    assert_rest_refusal(response, (400,))
    error = response.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert named in error["message"], error
    assert "surrogate" in error["message"], error
    assert await snapshot() == before


CHECK = "/my-app/update/linux/x86_64/1.0.0"
CHECKS = {
    "slug": f"/{ENCODED_SURROGATE}/update/linux/x86_64/1.0.0",
    "target": f"/my-app/update/{ENCODED_SURROGATE}/x86_64/1.0.0",
    "arch": f"/my-app/update/linux/{ENCODED_SURROGATE}/1.0.0",
    "version": f"/my-app/update/linux/x86_64/{ENCODED_SURROGATE}",
    "version-suffix": f"/my-app/update/linux/x86_64/1.0.0-{ENCODED_SURROGATE}",
    "legacy-target": f"/my-app/update/linux-{ENCODED_SURROGATE}/1.0.0",
    "channel": f"{CHECK}?channel={ENCODED_SURROGATE}",
    "bundle-type": f"{CHECK}?bundle_type={ENCODED_SURROGATE}",
}
DOWNLOADS = {
    "slug": f"/dl/{ENCODED_SURROGATE}/1.1.0/linux-x86_64",
    "version": f"/dl/my-app/{ENCODED_SURROGATE}/linux-x86_64",
    "platform": f"/dl/my-app/1.1.0/{ENCODED_SURROGATE}",
    "platform-suffix": f"/dl/my-app/1.1.0/linux-x86_64-{ENCODED_SURROGATE}",
}


@pytest.mark.parametrize("url", list(CHECKS.values()), ids=list(CHECKS))
async def test_the_update_check_refuses_an_encoded_surrogate(
    client: httpx.AsyncClient, yard: Shipyard, url: str
) -> None:
    """An app with a live release, so that only the surrogate can make the check fail."""
    await yard.release("1.1.0", ["linux-x86_64"])
    assert (await client.get(CHECK)).status_code == 200
    before = await snapshot()
    response = await client.get(url)
    assert ENCODED_SURROGATE in str(response.request.url)
    assert_rest_refusal(response, (400, 404))
    assert await snapshot() == before


@pytest.mark.parametrize("url", list(DOWNLOADS.values()), ids=list(DOWNLOADS))
async def test_a_download_refuses_an_encoded_surrogate(
    client: httpx.AsyncClient, yard: Shipyard, url: str
) -> None:
    await yard.release("1.1.0", ["linux-x86_64"])
    before = await snapshot()
    response = await client.get(url)
    assert ENCODED_SURROGATE in str(response.request.url)
    assert_rest_refusal(response, (400, 404))
    assert await snapshot() == before
