"""Hostile input at every door: refused in the documented error shape, and nothing changes.

The four doors are GraphQL (``POST`` and ``GET /graphql``), the updater check
(``/{slug}/update/...``), the CI submission (``POST /ci/apps/{slug}/releases``) and
downloads (``/dl/{slug}/{version}/{platform}``). Every case below is a request that must
not succeed: oversized, deeply nested or aliased, odd unicode and control characters,
SQL-looking text, path traversal, huge numbers, NUL bytes, wrong content types, broken
JSON and UTF-8, hostile headers, batches, wrongly typed variables, wrong methods.

Each case checks the answer (REST: a 4xx with ``{"error": {"code", "message"}}``; GraphQL:
a 4xx or 200 whose ``errors`` carry ``extensions.code``, or a mutation payload's
``userErrors``), that the message says something, and that nothing changed: database
rows, bucket objects and the update offer are compared before and after.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Message

from ferryman.app import create_app as create_server
from ferryman.body_limits import UPLOAD_OVERHEAD
from ferryman.local_s3 import LocalS3
from ferryman.models import ApiKey, App, Artifact, AuditEvent, DownloadCount, Release
from ferryman.models.actor import KeyScope
from ferryman.rest_compat.ci import MAX_BODY as MAX_CI_BODY
from ferryman.settings import Settings
from tests.conftest import Databases, GraphQL, make_key
from tests.support.api import create_app, create_release, publish
from tests.support.database import snapshot
from tests.support.documents import (
    API_KEY_CREATE,
    APP_CREATE,
    APP_DELETE,
    ARTIFACT_UPLOAD,
    ARTIFACT_UPLOAD_CREATE,
    CI_RELEASE_SUBMIT,
    operation,
)
from tests.support.refusals import assert_rest_refusal, useful
from tests.support.rows import add_artifact

DATA = Path(__file__).parent / "data" / "tauri"
SIGNATURE = (DATA / "MyApp.app.tar.gz.sig").read_text()
CI_FILE = "my-app/releases/1.2.3/MyApp.app.tar.gz"

# A small direct-upload limit, so the GraphQL route's body limit is cheap to go beyond.
SMALL_UPLOAD = 64 * 1024
ROUTE_BODY_LIMIT = SMALL_UPLOAD + UPLOAD_OVERHEAD
JSON_BODY_LIMIT = Settings().graphql_max_body_bytes
assert JSON_BODY_LIMIT < ROUTE_BODY_LIMIT

TWO_TO_64 = 2**64
HUGE_DIGITS = "9" * 5_000
RTL_MARK = "\u200f"
RTL_OVERRIDE = "\u202e"
EMOJI = "\U0001f680"
COMBINING = "e\u0301\u0308\u0323"
SQL_OR = "' OR 1=1 --"
FULLWIDTH = "\uff4d\uff59\uff0d\uff41\uff50\uff50"  # my-app, full width
HOMOGLYPH = "d\u0430rwin-aarch64"  # a Cyrillic a
SQL_DROP = "; DROP TABLE apps; --"

# GraphQL codes that are never a refusal: a bug and an outage.
NOT_A_REFUSAL = {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"}

Role = Literal["admin", "ci", "none"]


# --- the state a hostile request must not change --------------------------------------------


@dataclasses.dataclass(frozen=True)
class World:
    """An app with a published release (a READY artifact), a draft, an admin and a CI key."""

    admin: str
    ci: str
    app_id: str
    published_id: str
    draft_id: str

    def fill(self, text: str) -> str:
        """Put this world's keys and ids in for the ``<admin>``-style placeholders."""
        for name, value in dataclasses.asdict(self).items():
            text = text.replace(f"<{name}>", value)
        return text


@dataclasses.dataclass
class Stage:
    """One server for every case of this module (a fresh one per case would take minutes),
    with small upload limits and without rate limits.

    Each case proves it changed nothing; after one that did not (a bug, or any failure),
    the next case gets the world rebuilt, so one failure cannot leak into the next.
    """

    app: Starlette
    client: httpx.AsyncClient
    s3: LocalS3
    bucket: str
    world: World | None = None
    dirty: bool = True  # until a case has shown that it left the world as it was

    async def observe(self) -> dict[str, Any]:
        """Everything a request could change: rows, bucket objects, the update offer."""
        await self.app.state.recorder.flush()  # downloads are counted in batches
        listing = self.s3.client.list_objects_v2(Bucket=self.bucket)
        offer = await self.client.get("/my-app/update/darwin/aarch64/0.9.0")
        return {
            "rows": await snapshot(),
            "objects": sorted(item["Key"] for item in listing.get("Contents", [])),
            "offer": (offer.status_code, offer.content),
        }

    async def assert_unchanged(self, before: dict[str, Any]) -> None:
        after = await self.observe()
        changes = differences(before, after)
        assert not changes, "the refused request changed:\n" + "\n".join(changes)
        assert after == before
        self.dirty = False

    async def build(self) -> World:
        """Empty the database and the bucket, then set the world up through the API (the
        published release's READY artifact is a row: this module is about refusals)."""
        for model in (DownloadCount, AuditEvent, Artifact, Release, ApiKey, App):
            await model.all().delete()
        listing = self.s3.client.list_objects_v2(Bucket=self.bucket)
        for item in listing.get("Contents", []):
            self.s3.client.delete_object(Bucket=self.bucket, Key=item["Key"])
        admin = await make_key(KeyScope.ADMIN, name="global admin")
        gql = GraphQL(self.client)
        app_id = await create_app(gql, admin)
        published_id = await create_release(gql, admin, app_id, "1.0.0", notes="First")
        artifact_id = await add_artifact(published_id)
        await Artifact.filter(id=artifact_id).update(
            object_key="my-app/releases/1.0.0/MyApp.app.tar.gz",
            download_url="http://ferryman.test/dl/my-app/1.0.0/darwin-aarch64",
        )
        await publish(gql, admin, published_id)
        draft_id = await create_release(gql, admin, app_id, "1.1.0", notes="Coming soon")
        ci = await make_key(KeyScope.CI, app_id, name="GitHub Actions")
        return World(admin, ci, app_id, published_id, draft_id)


@pytest.fixture(scope="module")
async def stage(
    databases: Databases, s3: LocalS3, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stage]:
    bucket = "hostile-input"
    s3.client.create_bucket(Bucket=bucket)
    settings = Settings(
        database_url=databases.fresh(),
        graphiql_assets=tmp_path_factory.mktemp("hostile") / "no-graphiql-assets",
        s3_endpoint=s3.endpoint,
        s3_region=s3.region,
        s3_bucket=bucket,
        s3_access_key_id=s3.credentials.access_key_id,
        s3_secret_access_key=s3.credentials.secret_access_key,
        max_upload_bytes=SMALL_UPLOAD,
        # Rate limits are not what this module is about: a 429 would hide the real answer.
        rate_limit_graphql=0,
        rate_limit_ci=0,
        rate_limit_downloads=0,
        rate_limit_updates=0,
        rate_limit_auth_failures=0,
    )
    server = create_server(settings)
    async with server.router.lifespan_context(server):
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://ferryman.test") as c:
            yield Stage(server, c, s3, bucket)


@pytest.fixture
async def world(stage: Stage) -> World:
    """The stage's world, rebuilt first when the case before did not prove it unchanged."""
    if stage.world is None or stage.dirty:
        stage.world = await stage.build()
    stage.dirty = True
    return stage.world


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What changed between two observations, one line each, long values cut short."""

    def short(row: dict[str, Any]) -> str:
        return ", ".join(f"{k}={str(v)[:60]!r}" for k, v in row.items() if v is not None)

    found = []
    for table, rows in after["rows"].items():
        old = {row["id"]: row for row in before["rows"][table]}
        new = {row["id"]: row for row in rows}
        found += [f"{table} added: {short(new[i])}" for i in sorted(new.keys() - old.keys())]
        found += [f"{table} removed: {short(old[i])}" for i in sorted(old.keys() - new.keys())]
        for i in sorted(old.keys() & new.keys()):
            changed = {k: v for k, v in new[i].items() if old[i].get(k) != v}
            if changed:
                found.append(f"{table} {i} changed: {short(changed)}")
    for what in ("objects", "offer"):
        if before[what] != after[what]:
            found.append(f"{what}: {before[what]!r} became {after[what]!r}")
    return found


# --- how a hostile request is written and sent ----------------------------------------------


@dataclasses.dataclass(frozen=True)
class Hostile:
    """One request as it goes on the wire; ``<admin>``, ``<draft_id>``... are filled in."""

    method: str
    target: str  # path and query, percent-encoded exactly as sent
    body: bytes | None = None
    content_type: str | None = None
    key: Role = "none"
    headers: tuple[tuple[str, str | bytes], ...] = ()
    chunked: bool = False  # stream the body without a Content-Length
    raw: bool = False  # straight to the ASGI app: httpx would resolve literal ../ segments


async def send(stage: Stage, world: World, hostile: Hostile) -> httpx.Response:
    headers: list[tuple[str, str | bytes]] = []
    if hostile.key != "none":
        headers.append(("authorization", f"Bearer {getattr(world, hostile.key)}"))
    if hostile.content_type is not None:
        headers.append(("content-type", hostile.content_type))
    for name, value in hostile.headers:
        headers.append((name, world.fill(value) if isinstance(value, str) else value))
    target = world.fill(hostile.target)
    body = world.fill(hostile.body.decode("latin-1")).encode("latin-1") if hostile.body else b""
    if hostile.raw:
        return await send_asgi(stage.app, hostile.method, target, headers, body)
    content: bytes | AsyncIterator[bytes] = _stream(body) if hostile.chunked else body
    return await asyncio.wait_for(
        stage.client.request(hostile.method, target, content=content, headers=headers), 30
    )


async def _stream(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


async def send_asgi(
    app: Starlette, method: str, target: str, headers: list[tuple[str, str | bytes]], body: bytes
) -> httpx.Response:
    """Send a request as an HTTP server would hand it over, dot segments and all."""
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "server": ("ferryman.test", 80),
        "client": ("127.0.0.1", 40000),
        "headers": [
            (b"host", b"ferryman.test"),
            *((n.lower().encode(), v if isinstance(v, bytes) else v.encode()) for n, v in headers),
        ],
    }
    messages: list[Message] = []
    answered = asyncio.Event()
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        if pending:
            return pending.pop()
        await answered.wait()
        return {"type": "http.disconnect"}

    async def collect(message: Message) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            answered.set()

    await asyncio.wait_for(app(scope, receive, collect), 30)
    start = next(m for m in messages if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return httpx.Response(start["status"], headers=start.get("headers", []), content=content)


def encode(value: str) -> str:
    """One path segment, percent-encoded (slashes included) as a client would send it."""
    return quote(value, safe="")


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()


# --- what a refusal looks like ---------------------------------------------------------------


def assert_graphql_refusal(
    response: httpx.Response, status: int | None, codes: tuple[str, ...]
) -> None:
    """A 4xx or 200 with coded top-level errors, or a 200 whose mutation has userErrors.

    ``status`` None accepts any of those; ``codes`` (when given) must include the code found.
    """
    detail = f"{response.status_code} {response.headers.get('content-type')} {response.text[:300]}"
    if status is not None:
        assert response.status_code == status, detail
    assert response.status_code == 200 or 400 <= response.status_code < 500, detail
    assert response.headers.get("content-type", "").startswith("application/json"), detail
    body = response.json()
    assert isinstance(body, dict), detail
    found: set[str] = set()
    if body.get("errors"):
        for error in body["errors"]:
            useful(error.get("message"))
            code = (error.get("extensions") or {}).get("code")
            assert isinstance(code, str), detail
            assert code, detail
            found.add(code)
    else:
        assert response.status_code == 200, detail
        data = body.get("data")
        assert isinstance(data, dict), detail
        payloads = [p for p in data.values() if isinstance(p, dict) and "userErrors" in p]
        assert payloads, detail
        for payload in payloads:
            assert payload["userErrors"], detail
            for error in payload["userErrors"]:
                useful(error["message"])
                assert error["code"], detail
                found.add(error["code"])
    assert not found & NOT_A_REFUSAL, detail
    assert not codes or found & set(codes), f"expected one of {codes}: {detail}"


# --- GraphQL ---------------------------------------------------------------------------------

VALIDATION = ("GRAPHQL_VALIDATION_FAILED",)
# A variable whose value its type refuses: the document was valid, the input was not.
BAD_VALUE = ("BAD_USER_INPUT",)
INVALID = ("INVALID_INPUT",)
REFUSED_INPUT = ("INVALID_INPUT", "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")


def gql(query: str, variables: dict[str, Any] | None = None, *, key: Role = "admin") -> Hostile:
    body = as_json({"query": query, "variables": variables or {}})
    return Hostile("POST", "/graphql", body, "application/json", key)


def gql_raw(body: bytes, content_type: str = "application/json", *, key: Role = "admin") -> Hostile:
    return Hostile("POST", "/graphql", body, content_type, key)


def gql_get(params: dict[str, str], *, key: Role = "admin") -> Hostile:
    return Hostile("GET", "/graphql?" + urlencode(params), key=key)


def new_app(
    slug: str = "new-app", name: str = "New App", *, key: Role = "admin", **more: Any
) -> Hostile:
    return gql(APP_CREATE, {"input": {"slug": slug, "name": name, **more}}, key=key)


def new_release(version: str, notes: str | None = None) -> Hostile:
    return gql(
        operation("ReleaseCreate"),
        {"appId": "<app_id>", "input": {"version": version, "notes": notes}},
    )


def upload_create(**changes: Any) -> Hostile:
    artifact = {
        "platform": "linux-x86_64",
        "filename": "MyApp.AppImage",
        "signature": SIGNATURE,
        "fileSize": 1,  # required: an upload URL is made for exactly that many bytes
    }
    return gql(
        ARTIFACT_UPLOAD_CREATE, {"releaseId": "<draft_id>", "input": {**artifact, **changes}}
    )


def ci_submit(slug: str = "my-app", *, key: Role = "ci", **changes: Any) -> Hostile:
    submission = {
        "version": "1.2.3",
        "artifacts": [{"platform": "darwin-aarch64", "signature": SIGNATURE, "r2Key": CI_FILE}],
        **changes,
    }
    return gql(CI_RELEASE_SUBMIT, {"slug": slug, "input": submission}, key=key)


def create_document(slug: str) -> str:
    """An appCreate that would succeed: only the way it is sent is hostile."""
    return f'mutation M {{ appCreate(input: {{slug: "{slug}", name: "New"}}) {{ app {{ id }} }} }}'


def app_selection(levels: int) -> str:
    """A valid selection on App: ``releases { edges { node { app { releases ...`` deeply."""
    inner = "id"
    for _ in range(levels // 4):
        inner = f"releases {{ edges {{ node {{ app {{ {inner} }} }} }} }}"
    return inner


def nested_selection(levels: int) -> str:
    """``{ apps { edges { node { releases { edges { node { app ...`` about ``levels`` deep."""
    return f"{{ apps {{ edges {{ node {{ {app_selection(levels)} }} }} }} }}"


BOUNDARY = "hostile-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(*parts: tuple[str, str | None, bytes], close: bool = True) -> bytes:
    """A multipart/form-data body of (name, filename, content) parts."""
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += content + b"\r\n"
    return body + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


def upload_parts(filename: str, size: int = 24) -> tuple[tuple[str, str | None, bytes], ...]:
    operations = {
        "query": ARTIFACT_UPLOAD,
        "variables": {
            "releaseId": "<draft_id>",
            "platform": "darwin-aarch64",
            "signature": SIGNATURE,
            "file": None,
        },
    }
    return (
        ("operations", None, as_json(operations)),
        ("map", None, as_json({"0": ["variables.file"]})),
        ("0", filename, b"x" * size),
    )


def padded_json(beyond: int) -> bytes:
    """A small query padded to one byte more than ``beyond``."""
    body = as_json({"query": "{ __typename }", "variables": {"padding": ""}})
    return as_json(
        {"query": "{ __typename }", "variables": {"padding": "x" * (beyond + 1 - len(body))}}
    )


GRAPHQL_POST = [
    # Depth, aliases, tokens and other ways to make one request expensive.
    pytest.param(gql(nested_selection(40)), 200, VALIDATION, id="query-40-levels-deep"),
    pytest.param(
        gql(
            'mutation { appCreate(input: {slug: "deep", name: "Deep"}) '
            f"{{ app {{ {app_selection(40)} }} }} }}"
        ),
        200,
        VALIDATION,
        id="mutation-with-a-deep-selection",
    ),
    pytest.param(
        gql(
            "mutation { "
            + " ".join(
                f'a{n}: appCreate(input: {{slug: "app-{n}", name: "App"}}) {{ app {{ id }} }}'
                for n in range(31)
            )
            + " }"
        ),
        200,
        VALIDATION,
        id="31-aliased-appCreate",
    ),
    pytest.param(
        gql("{ " + " ".join(f"a{n}: __typename" for n in range(1_500)) + " }"),
        200,
        VALIDATION,
        id="1500-aliases",
    ),
    pytest.param(
        gql("{ " + " ".join(["__typename"] * 20_000) + " }"), 200, VALIDATION, id="20000-tokens"
    ),
    pytest.param(
        gql("{ apps(first: " + "[" * 2_000 + "1" + "]" * 2_000 + ") { totalCount } }"),
        None,
        VALIDATION,
        id="list-literal-nested-2000-deep",
    ),
    pytest.param(
        gql(
            'mutation { appCreate(input: {slug: "nest", name: "Nest", description: '
            + "{a: " * 1_000
            + "1"
            + "}" * 1_000
            + "}) { app { id } } }"
        ),
        None,
        VALIDATION,
        id="object-literal-nested-1000-deep",
    ),
    pytest.param(
        gql(
            "query { ...A } fragment A on Query { ...B apps { totalCount } } "
            "fragment B on Query { ...A }"
        ),
        None,
        VALIDATION,
        id="fragment-cycle",
    ),
    # Oversized bodies: beyond the JSON limit, and beyond the route's (multipart) limit.
    pytest.param(gql_raw(padded_json(JSON_BODY_LIMIT)), 413, (), id="json-body-beyond-its-limit"),
    pytest.param(gql_raw(padded_json(ROUTE_BODY_LIMIT)), 413, (), id="body-beyond-the-route-limit"),
    pytest.param(
        dataclasses.replace(gql_raw(padded_json(ROUTE_BODY_LIMIT)), chunked=True),
        413,
        (),
        id="chunked-body-beyond-the-route-limit",
    ),
    pytest.param(
        gql_raw(multipart(*upload_parts("MyApp.app.tar.gz", size=ROUTE_BODY_LIMIT)), MULTIPART),
        413,
        (),
        id="multipart-beyond-the-route-limit",
    ),
    # Bodies that are not one GraphQL request.
    pytest.param(
        gql_raw(as_json([{"query": "{ viewer { id } }"}, {"query": "{ viewer { id } }"}])),
        None,
        (),
        id="batch-array-of-queries",
    ),
    pytest.param(
        gql_raw(
            as_json(
                [
                    {"query": create_document("batch-1")},
                    {"query": create_document("batch-2")},
                ]
            )
        ),
        None,
        (),
        id="batch-array-of-mutations",
    ),
    pytest.param(gql_raw(b"[]"), None, (), id="empty-batch-array"),
    pytest.param(
        gql_raw(
            b'{"query": "{ viewer { id } }", "variables": {"a": '
            + b"[" * 5_000
            + b"]" * 5_000
            + b"}}"
        ),
        None,
        (),
        id="json-nested-5000-deep",
    ),
    pytest.param(gql_raw(b"42"), None, (), id="json-number-body"),
    pytest.param(gql_raw(b'"{ viewer { id } }"'), None, (), id="json-string-body"),
    pytest.param(gql_raw(b"null"), None, (), id="json-null-body"),
    pytest.param(gql_raw(b'{"query": "{ viewer { id } }"'), None, (), id="malformed-json"),
    pytest.param(gql_raw(b""), None, (), id="empty-json-body"),
    pytest.param(
        gql_raw(b'{"query": "{ viewer { id \xff\xfe } }"}'), None, (), id="invalid-utf8-body"
    ),
    pytest.param(
        gql_raw(as_json({"query": "{ viewer { id } }"}), "text/plain"), None, (), id="text-plain"
    ),
    pytest.param(
        gql_raw(
            urlencode({"query": create_document("form")}).encode(),
            "application/x-www-form-urlencoded",
        ),
        None,
        (),
        id="form-encoded",
    ),
    pytest.param(
        gql_raw(multipart(*upload_parts("MyApp.app.tar.gz")), MULTIPART, key="none"),
        None,
        (),
        id="multipart-without-authorization",
    ),
    pytest.param(
        gql_raw(multipart(("map", None, b"{}")), MULTIPART),
        None,
        (),
        id="multipart-without-operations",
    ),
    pytest.param(
        gql_raw(multipart(*upload_parts("MyApp.app.tar.gz")[:2]), MULTIPART),
        None,
        (),
        id="multipart-map-names-a-missing-file",
    ),
    pytest.param(
        gql_raw(multipart(("operations", None, b"{not json"), ("map", None, b"{}")), MULTIPART),
        None,
        (),
        id="multipart-operations-not-json",
    ),
    pytest.param(
        gql_raw(multipart(*upload_parts("MyApp.app.tar.gz"), close=False)[:-40], MULTIPART),
        None,
        (),
        id="multipart-truncated",
    ),
    pytest.param(
        gql_raw(multipart(*upload_parts("../../other-app/releases/1.0.0/x.tar.gz")), MULTIPART),
        200,
        INVALID,
        id="multipart-filename-traversal",
    ),
    pytest.param(
        gql_raw(multipart(*upload_parts("..\\..\\evil.exe")), MULTIPART),
        200,
        INVALID,
        id="multipart-filename-backslashes",
    ),
    # Fields of the request of the wrong kind, unknown operations.
    pytest.param(gql_raw(as_json({"query": 123})), None, (), id="query-not-a-string"),
    pytest.param(
        gql_raw(as_json({"query": "{ viewer { id } }", "variables": [1, 2]})),
        None,
        (),
        id="variables-not-an-object",
    ),
    pytest.param(gql_raw(as_json({"variables": {}})), None, (), id="no-query"),
    pytest.param(
        gql_raw(as_json({"query": "query A { viewer { id } }", "operationName": "Nope"})),
        None,
        (),
        id="unknown-operation-name",
    ),
    pytest.param(
        gql_raw(as_json({"query": "query A { viewer { id } } query B { apps { totalCount } }"})),
        None,
        (),
        id="two-operations-and-no-name",
    ),
    pytest.param(
        gql_raw(as_json({"query": "query A { viewer { id } }", "operationName": 42})),
        None,
        (),
        id="operation-name-not-a-string",
    ),
    pytest.param(
        gql('mutation { appCreate(input: {slug: "x", name: "X"}) { app { id }'),
        None,
        VALIDATION,
        id="syntax-error",
    ),
    pytest.param(gql("{ nope }"), None, VALIDATION, id="unknown-field"),
    # Variables of the wrong type.
    pytest.param(gql(APP_CREATE, {"input": "my-app"}), None, BAD_VALUE, id="input-is-a-string"),
    pytest.param(gql(APP_CREATE, {"input": None}), None, BAD_VALUE, id="null-for-non-null"),
    pytest.param(
        gql(APP_CREATE, {"input": {"slug": "x", "name": "X", "isAdmin": True}}),
        None,
        BAD_VALUE,
        id="unknown-input-field",
    ),
    pytest.param(
        gql("query ($n: Int) { apps(first: $n) { totalCount } }", {"n": TWO_TO_64}),
        None,
        BAD_VALUE,
        id="int-variable-2**64",
    ),
    pytest.param(
        gql("query ($n: Int) { apps(first: $n) { totalCount } }", {"n": "ten"}),
        None,
        BAD_VALUE,
        id="int-variable-a-string",
    ),
    pytest.param(
        gql(API_KEY_CREATE, {"input": {"name": "root", "scope": "ROOT"}}),
        None,
        BAD_VALUE,
        id="enum-variable-not-a-member",
    ),
    pytest.param(
        gql(operation("ReleaseCreate"), {"appId": "<app_id>", "input": {"version": TWO_TO_64}}),
        None,
        BAD_VALUE,
        id="version-variable-a-json-number-2**64",
    ),
    pytest.param(upload_create(fileSize="lots"), None, REFUSED_INPUT, id="bytecount-a-string"),
    pytest.param(upload_create(fileSize=TWO_TO_64), None, REFUSED_INPUT, id="bytecount-2**64"),
    pytest.param(
        gql(
            'mutation { artifactUploadCreate(releaseId: "<draft_id>", input: {platform: '
            '"linux-x86_64", filename: "MyApp.AppImage", signature: "x", fileSize: 1e400}) '
            "{ userErrors { field message code } } }"
        ),
        None,
        REFUSED_INPUT,
        id="bytecount-literal-1e400",
    ),
    pytest.param(
        gql("{ apps(first: 1000) { totalCount } }"), None, ("BAD_USER_INPUT",), id="first-1000"
    ),
    pytest.param(
        gql("query ($a: String) { apps(after: $a) { totalCount } }", {"a": SQL_OR}),
        None,
        ("BAD_USER_INPUT",),
        id="cursor-sql",
    ),
    # Keys: missing, huge, odd bytes, duplicated, not allowed.
    pytest.param(new_app(key="none"), None, ("UNAUTHENTICATED",), id="no-authorization"),
    pytest.param(
        dataclasses.replace(
            new_app(), key="none", headers=(("authorization", "Bearer " + "a" * 100_000),)
        ),
        None,
        ("UNAUTHENTICATED",),
        id="authorization-100kb",
    ),
    pytest.param(
        dataclasses.replace(
            new_app(),
            key="none",
            headers=(("authorization", b"Bearer uk_live_\xe2\x80\xae" + b"A" * 40),),
        ),
        None,
        ("UNAUTHENTICATED",),
        id="authorization-rtl-override-bytes",
    ),
    pytest.param(
        dataclasses.replace(
            new_app(),
            key="none",
            headers=(("authorization", "Bearer <ci>"), ("authorization", "Bearer <admin>")),
        ),
        None,
        ("UNAUTHENTICATED", "FORBIDDEN"),
        id="authorization-twice-ci-then-admin",
    ),
    pytest.param(
        dataclasses.replace(
            new_app(),
            content_type=None,
            headers=(("content-type", "text/plain"), ("content-type", "application/json")),
        ),
        None,
        (),
        id="content-type-twice",
    ),
    pytest.param(
        dataclasses.replace(new_app(SQL_OR), headers=(("x-request-id", "r" * 100_000),)),
        None,
        INVALID,
        id="x-request-id-100kb",
    ),
    pytest.param(
        gql("{ __typename ...F } fragment F on Query { apps { totalCount } }", key="none"),
        None,
        ("UNAUTHENTICATED",),
        id="introspection-with-a-fragment-no-key",
    ),
    pytest.param(
        gql_raw(
            as_json(
                {
                    "query": "query I { __typename } " + create_document("sneaky"),
                    "operationName": "M",
                }
            ),
            key="none",
        ),
        None,
        ("UNAUTHENTICATED",),
        id="introspection-beside-a-mutation-no-key",
    ),
    pytest.param(
        gql(API_KEY_CREATE, {"input": {"name": "escalate", "scope": "ADMIN"}}, key="ci"),
        None,
        ("FORBIDDEN",),
        id="ci-key-mints-an-admin-key",
    ),
    # Slugs: unicode, control characters, SQL, traversal.
    pytest.param(new_app(f"my{RTL_MARK}app"), 200, INVALID, id="slug-rtl-mark"),
    pytest.param(new_app(f"{RTL_OVERRIDE}ppa-ym"), 200, INVALID, id="slug-rtl-override"),
    pytest.param(new_app(f"app-{EMOJI}"), 200, INVALID, id="slug-emoji"),
    pytest.param(new_app(f"caf{COMBINING}"), 200, INVALID, id="slug-combining"),
    pytest.param(new_app(FULLWIDTH), 200, INVALID, id="slug-fullwidth"),
    pytest.param(new_app("a" * 100_000), 200, INVALID, id="slug-100k-characters"),
    pytest.param(new_app("my\napp\x1b[2J"), 200, INVALID, id="slug-control-characters"),
    pytest.param(new_app("my-app\x00"), 200, INVALID, id="slug-nul"),
    pytest.param(new_app(SQL_OR), 200, INVALID, id="slug-sql-or"),
    pytest.param(new_app(SQL_DROP), 200, INVALID, id="slug-sql-drop"),
    pytest.param(new_app("../../graphql"), 200, INVALID, id="slug-traversal"),
    pytest.param(new_app("%2e%2e%2fgraphql"), 200, INVALID, id="slug-encoded-traversal"),
    pytest.param(new_app("..\\..\\graphql"), 200, INVALID, id="slug-backslashes"),
    pytest.param(new_app("graphql"), 200, INVALID, id="slug-reserved-graphql"),
    pytest.param(new_app("dl"), 200, INVALID, id="slug-reserved-dl"),
    pytest.param(new_app(publicKey=EMOJI * 40), 200, INVALID, id="public-key-emoji"),
    pytest.param(new_app(publicKey=SQL_DROP), 200, INVALID, id="public-key-sql"),
    # Names and descriptions.
    pytest.param(new_app(name=EMOJI * 201), 200, INVALID, id="name-201-emoji"),
    pytest.param(new_app(name="\u2003\u3000\u00a0\t"), 200, INVALID, id="name-unicode-blank"),
    pytest.param(new_app(name="My\x00App"), 200, INVALID, id="name-nul"),
    pytest.param(
        new_app(description=COMBINING * 600), 200, INVALID, id="description-2400-combining"
    ),
    # Versions and notes.
    pytest.param(new_release(f"1.2.0-{RTL_OVERRIDE}"), 200, INVALID, id="version-rtl-override"),
    pytest.param(new_release(f"1.2.0-{EMOJI}"), 200, INVALID, id="version-emoji"),
    pytest.param(new_release(f"1{COMBINING}.2.0"), 200, INVALID, id="version-combining"),
    pytest.param(new_release(HUGE_DIGITS + ".0.0"), 200, INVALID, id="version-5000-digits"),
    pytest.param(new_release(f"{TWO_TO_64}"), 200, INVALID, id="version-2**64-bare"),
    pytest.param(
        new_release("1.2.0'; DROP TABLE releases; --"), 200, INVALID, id="version-sql-drop"
    ),
    pytest.param(new_release("1.2.0\x00"), 200, INVALID, id="version-nul"),
    pytest.param(new_release("1.2.0\r\n"), 200, INVALID, id="version-crlf"),
    pytest.param(new_release("../1.2.0"), 200, INVALID, id="version-traversal"),
    pytest.param(new_release("1.2.0", "Fixes\x00"), 200, INVALID, id="notes-nul"),
    # What Python takes and the Tauri client (or any UTF-8 encoder) does not.
    pytest.param(new_release("1.2.0", "Fixes \ud800"), 200, INVALID, id="notes-lone-surrogate"),
    pytest.param(new_release(f"{TWO_TO_64}.0.0"), 200, INVALID, id="version-major-past-u64"),
    pytest.param(new_release("\u0661.2.0"), 200, INVALID, id="version-arabic-indic-digit"),
    pytest.param(new_release("1.2.0", "x" * 100_001), 200, INVALID, id="notes-100001-characters"),
    # Ids.
    pytest.param(
        gql(operation("ReleasePublish"), {"id": f"rel_{SQL_OR}"}), 200, (), id="release-id-sql"
    ),
    pytest.param(gql(APP_DELETE, {"id": f"app_x{SQL_DROP}"}), 200, (), id="app-id-sql"),
    pytest.param(gql(APP_DELETE, {"id": "<published_id>"}), 200, INVALID, id="app-id-of-a-release"),
    # Artifacts: file names, platforms, content types.
    pytest.param(
        upload_create(filename="../../other-app/releases/1.0.0/MyApp.AppImage"),
        200,
        INVALID,
        id="filename-traversal",
    ),
    pytest.param(
        upload_create(filename="..\\..\\MyApp.exe"), 200, INVALID, id="filename-backslashes"
    ),
    pytest.param(upload_create(filename="MyApp\x00.exe"), 200, INVALID, id="filename-nul"),
    pytest.param(upload_create(filename="MyApp\x7f.AppImage"), 200, INVALID, id="filename-del"),
    pytest.param(
        upload_create(filename=EMOJI * 64), 200, INVALID, id="filename-256-bytes-of-emoji"
    ),
    pytest.param(
        upload_create(platform="../darwin-aarch64"), 200, INVALID, id="platform-traversal"
    ),
    pytest.param(upload_create(platform=HOMOGLYPH), 200, INVALID, id="platform-homoglyph"),
    pytest.param(
        upload_create(contentType="application/octet-stream\r\n;x-amz-acl=public-read"),
        200,
        INVALID,
        id="content-type-crlf",
    ),
    pytest.param(upload_create(signature=SQL_OR), 200, INVALID, id="signature-sql"),
    pytest.param(upload_create(signature=EMOJI * 30), 200, INVALID, id="signature-emoji"),
    pytest.param(
        gql(
            ARTIFACT_UPLOAD,
            {
                "releaseId": "<draft_id>",
                "platform": "darwin-aarch64",
                "signature": SIGNATURE,
                "file": "/etc/passwd",
            },
        ),
        None,
        REFUSED_INPUT,
        id="upload-file-as-a-json-string",
    ),
    # CI submissions through GraphQL.
    pytest.param(ci_submit(SQL_OR), 200, ("NOT_FOUND",), id="ci-slug-sql"),
    pytest.param(ci_submit(version=HUGE_DIGITS), 200, INVALID, id="ci-version-5000-digits"),
    pytest.param(
        ci_submit(
            artifacts=[
                {
                    "platform": "darwin-aarch64",
                    "signature": SIGNATURE,
                    "r2Key": "my-app/releases/1.2.3/../../../other-app/x",
                }
            ]
        ),
        200,
        INVALID,
        id="ci-r2key-traversal",
    ),
    pytest.param(
        ci_submit(
            artifacts=[{"platform": "darwin-aarch64", "signature": SQL_OR, "r2Key": CI_FILE}]
        ),
        200,
        INVALID,
        id="ci-signature-sql",
    ),
]

GRAPHQL_GET = [
    pytest.param(
        gql_get({"query": create_document("via-get")}),
        None,
        (),
        id="get-mutation",
    ),
    pytest.param(
        gql_get({"query": nested_selection(40)}), None, VALIDATION, id="get-40-levels-deep"
    ),
    pytest.param(
        gql_get({"query": "{ " + " ".join(f"a{n}: __typename" for n in range(100)) + " }"}),
        None,
        VALIDATION,
        id="get-100-aliases",
    ),
    pytest.param(
        gql_get({"query": "{ " + "a " * 6_000 + "}"}), None, VALIDATION, id="get-6000-tokens"
    ),
    pytest.param(
        Hostile("GET", "/graphql?query=%7B%20viewer%20%00%20%7D", key="admin"),
        None,
        VALIDATION,
        id="get-nul-in-query",
    ),
    pytest.param(
        Hostile("GET", "/graphql?query=%7B%20viewer%20%FF%FE%20%7D", key="admin"),
        None,
        VALIDATION,
        id="get-invalid-utf8-in-query",
    ),
    pytest.param(
        gql_get(
            {"query": "query ($n: Int) { apps(first: $n) { totalCount } }", "variables": "{n:"}
        ),
        None,
        (),
        id="get-variables-malformed-json",
    ),
    pytest.param(
        gql_get(
            {"query": "query ($n: Int) { apps(first: $n) { totalCount } }", "variables": "[1]"}
        ),
        None,
        (),
        id="get-variables-an-array",
    ),
    pytest.param(
        gql_get({"query": "{ viewer { id } }", "variables": "[" * 5_000 + "]" * 5_000}),
        None,
        (),
        id="get-variables-nested-5000-deep",
    ),
    pytest.param(
        gql_get(
            {
                "query": "query ($n: Int) { apps(first: $n) { totalCount } }",
                "variables": json.dumps({"n": TWO_TO_64}),
            }
        ),
        None,
        BAD_VALUE,
        id="get-variables-int-2**64",
    ),
    pytest.param(
        gql_get({"query": "query A { viewer { id } }", "operationName": "B"}),
        None,
        (),
        id="get-unknown-operation-name",
    ),
    pytest.param(
        gql_get({"query": "{ apps { totalCount } }"}, key="none"),
        None,
        ("UNAUTHENTICATED",),
        id="get-no-authorization",
    ),
    pytest.param(
        Hostile(
            "GET",
            "/graphql?"
            + urlencode(
                [
                    (
                        "query",
                        create_document("twice"),
                    ),
                    ("query", "{ apps(first: 1000) { totalCount } }"),
                ]
            ),
            key="admin",
        ),
        None,
        (),
        id="get-query-parameter-twice",
    ),
    pytest.param(
        Hostile("PUT", "/graphql", b"{}", "application/json", "admin"), 405, (), id="method-put"
    ),
    pytest.param(Hostile("DELETE", "/graphql", key="admin"), 405, (), id="method-delete"),
    pytest.param(
        Hostile(
            "PATCH",
            "/graphql",
            as_json({"query": "{ viewer { id } }"}),
            "application/json",
            "admin",
        ),
        405,
        (),
        id="method-patch",
    ),
]


@pytest.mark.parametrize(("hostile", "status", "codes"), GRAPHQL_POST + GRAPHQL_GET)
async def test_graphql_refuses_hostile_input(
    stage: Stage,
    world: World,
    hostile: Hostile,
    status: int | None,
    codes: tuple[str, ...],
) -> None:
    before = await stage.observe()

    response = await send(stage, world, hostile)

    assert_graphql_refusal(response, status, codes)
    await stage.assert_unchanged(before)


# --- the updater check -----------------------------------------------------------------------


def check(path: str, **options: Any) -> Hostile:
    return Hostile("GET", path, **options)


def check_with(
    slug: str = "my-app", target: str = "darwin", arch: str = "aarch64", version: str = "0.9.0"
) -> Hostile:
    """A 5-segment check with one segment made hostile (given raw; encoded here)."""
    segments = (slug, "update", target, arch, version)
    return check("/" + "/".join(encode(s) for s in segments))


UPDATE_CHECK = [
    pytest.param(check_with(slug=f"my{RTL_OVERRIDE}app"), (400,), id="slug-rtl-override"),
    pytest.param(check_with(slug=f"my-app{EMOJI}"), (400,), id="slug-emoji"),
    pytest.param(check_with(slug=f"my-app{COMBINING}"), (400,), id="slug-combining"),
    pytest.param(check_with(slug="a" * 5_000), (400,), id="slug-5000-characters"),
    pytest.param(check_with(slug=SQL_OR), (400,), id="slug-sql-or"),
    pytest.param(check_with(slug="my-app\x00"), (400,), id="slug-nul"),
    pytest.param(
        check("/%FF%FEmy-app/update/darwin/aarch64/0.9.0"), (400,), id="slug-invalid-utf8"
    ),
    pytest.param(check_with(slug="../../graphql"), (400, 404), id="slug-encoded-traversal"),
    pytest.param(
        check("/..\\..\\my-app/update/darwin/aarch64/0.9.0"), (400,), id="slug-backslashes"
    ),
    pytest.param(
        check("/../update/darwin/aarch64/0.9.0", raw=True), (400,), id="slug-literal-dot-dot"
    ),
    pytest.param(check("/graphql/update/darwin/aarch64/0.9.0"), (404,), id="slug-reserved-name"),
    pytest.param(
        check("/my-app/update/../aarch64/0.9.0", raw=True), (400,), id="target-literal-dot-dot"
    ),
    pytest.param(check_with(target="../.."), (400, 404), id="target-encoded-traversal"),
    pytest.param(check_with(target="darwin\x00"), (400,), id="target-nul"),
    pytest.param(check_with(arch="..\\..\\windows"), (400,), id="arch-backslashes"),
    pytest.param(check_with(arch=f"x86_64{SQL_OR}"), (400,), id="arch-sql"),
    pytest.param(check_with(arch=f"aarch64{RTL_MARK}"), (400,), id="arch-rtl-mark"),
    pytest.param(check_with(version=HUGE_DIGITS + ".0.0"), (400,), id="version-5000-digits"),
    pytest.param(check_with(version=str(TWO_TO_64)), (400,), id="version-2**64-bare"),
    pytest.param(check_with(version="0.9.0\x00"), (400,), id="version-nul"),
    pytest.param(check_with(version="0.9.0\x1b[2J"), (400,), id="version-escape-sequence"),
    pytest.param(check_with(version=f"0.9.0{RTL_MARK}"), (400,), id="version-rtl-mark"),
    pytest.param(check_with(version=f"0.9.0-{EMOJI}"), (400,), id="version-emoji"),
    pytest.param(check_with(version=f"0{COMBINING}.9.0"), (400,), id="version-combining"),
    pytest.param(check_with(version="0.9.0; DROP TABLE releases;"), (400,), id="version-sql-drop"),
    pytest.param(
        check_with(version="../../etc/passwd"), (400, 404), id="version-encoded-traversal"
    ),
    pytest.param(
        check("/my-app/update/darwin/aarch64/..", raw=True), (400,), id="version-literal-dot-dot"
    ),
    pytest.param(check("/my-app/update/darwin/aarch64/%FF"), (400,), id="version-invalid-utf8"),
    pytest.param(check("/my-app/update/darwin-aarch64/%00"), (400,), id="3-segment-version-nul"),
    pytest.param(
        check(f"/my-app/update/darwin-aarch64/{HUGE_DIGITS}.0.0"),
        (400,),
        id="3-segment-version-5000-digits",
    ),
    pytest.param(
        check("/my-app/update/..%5Cdarwin-aarch64/0.9.0"), (400,), id="3-segment-target-backslash"
    ),
    pytest.param(
        check("/my-app/update/darwin-aarch64-x86_64/0.9.0"), (400,), id="3-segment-two-arches"
    ),
    pytest.param(
        check("/my-app/update/linux/x86_64/0.9.0?bundle_type=../../etc/passwd"),
        (400,),
        id="bundle-type-traversal",
    ),
    pytest.param(
        check("/my-app/update/linux/x86_64/0.9.0?bundle_type=deb%00"), (400,), id="bundle-type-nul"
    ),
    pytest.param(
        check("/my-app/update/linux/x86_64/0.9.0?bundle_type=" + "x" * 50_000),
        (400,),
        id="bundle-type-50kb",
    ),
    pytest.param(
        check("/my-app/update/linux/x86_64/0.9.0?bundle_type=msi&bundle_type=..%2F"),
        (400,),
        id="bundle-type-twice",
    ),
    pytest.param(
        check("/my-app/update/darwin/aarch64/0.9.0?bundle_type=msi"),
        (400,),
        id="bundle-type-of-another-os",
    ),
    pytest.param(check("/my-app/update/darwin/aarch64/0.9.0/extra"), (404,), id="extra-segment"),
    pytest.param(
        check("/my-app/update/darwin/aarch64/%00", headers=(("cookie", "c=" + "x" * 60_000),)),
        (400,),
        id="60kb-cookie-on-a-bad-check",
    ),
    pytest.param(
        Hostile("POST", "/my-app/update/darwin/aarch64/0.9.0", b"{}", "application/json"),
        (405,),
        id="method-post",
    ),
    pytest.param(
        Hostile("DELETE", "/my-app/update/darwin/aarch64/0.9.0"), (405,), id="method-delete"
    ),
]


# --- the CI endpoint -------------------------------------------------------------------------


def submission(**changes: Any) -> dict[str, Any]:
    seed = {
        "version": "1.2.3",
        "notes": "What's new",
        "artifacts": [{"platform": "darwin-aarch64", "signature": SIGNATURE, "r2_key": CI_FILE}],
        "auto_publish": False,
    }
    return {**seed, **changes}


def ci(
    body: bytes | dict[str, Any],
    *,
    slug: str = "my-app",
    key: Role = "ci",
    content_type: str | None = "application/json",
    **options: Any,
) -> Hostile:
    content = body if isinstance(body, bytes) else as_json(body)
    return Hostile("POST", f"/ci/apps/{slug}/releases", content, content_type, key, **options)


def ci_artifact(**changes: str) -> dict[str, Any]:
    return submission(
        artifacts=[
            {"platform": "darwin-aarch64", "signature": SIGNATURE, "r2_key": CI_FILE, **changes}
        ]
    )


CI_ENDPOINT = [
    pytest.param(ci(submission(notes="x" * MAX_CI_BODY)), (413,), id="body-beyond-the-route-limit"),
    pytest.param(
        ci(submission(notes="x" * MAX_CI_BODY), chunked=True),
        (413,),
        id="chunked-body-beyond-the-route-limit",
    ),
    pytest.param(
        ci(submission(), raw=True, headers=(("content-length", str(2**40)),)),
        (413,),
        id="content-length-claims-a-terabyte",
    ),
    pytest.param(ci(b"[1, 2]"), (400,), id="json-array"),
    pytest.param(ci(b"42"), (400,), id="json-number"),
    pytest.param(ci(b'"1.2.3"'), (400,), id="json-string"),
    pytest.param(ci(b"null"), (400,), id="json-null"),
    pytest.param(ci(b'{"version": "1.2.3", '), (400,), id="malformed-json"),
    pytest.param(ci(b""), (400,), id="empty-body"),
    pytest.param(ci(b'{"version": "1.2.3\xff\xfe"}'), (400,), id="invalid-utf8"),
    pytest.param(ci(b"[" * 5_000 + b"]" * 5_000), (400,), id="json-nested-5000-deep"),
    pytest.param(
        ci(b"version: 1.2.3\nnotes: hello\n", content_type="text/plain"), (400,), id="text-plain"
    ),
    pytest.param(
        ci(
            urlencode({"version": "1.2.3"}).encode(),
            content_type="application/x-www-form-urlencoded",
        ),
        (400,),
        id="form-encoded",
    ),
    pytest.param(
        ci(multipart(("version", None, b"1.2.3")), content_type=MULTIPART),
        (400,),
        id="multipart-without-a-json-part",
    ),
    pytest.param(ci(submission(version=HUGE_DIGITS)), (400,), id="version-5000-digits"),
    pytest.param(ci(submission(version=TWO_TO_64)), (400,), id="version-a-json-number-2**64"),
    pytest.param(
        ci(submission(version="1.2.3'; DROP TABLE releases; --")), (400,), id="version-sql-drop"
    ),
    pytest.param(ci(submission(version="1.2.3\x00")), (400,), id="version-nul"),
    pytest.param(
        ci(submission(version=f"1.2.3-{RTL_OVERRIDE}")), (400,), id="version-rtl-override"
    ),
    pytest.param(ci(submission(version=f"1.2.3-{EMOJI}")), (400,), id="version-emoji"),
    pytest.param(ci(submission(version=f"1{COMBINING}.2.3")), (400,), id="version-combining"),
    pytest.param(ci(submission(version="1.2.3\x1b[31m")), (400,), id="version-escape-sequence"),
    pytest.param(ci(submission(version="../../1.2.3")), (400,), id="version-traversal"),
    pytest.param(ci({"notes": "no version", "artifacts": []}), (400,), id="version-missing"),
    pytest.param(ci(submission(notes="Fixes\x00")), (400,), id="notes-nul"),
    pytest.param(ci(submission(notes="Fixes \ud800")), (400,), id="notes-lone-surrogate"),
    pytest.param(ci(submission(version=f"{TWO_TO_64}.0.0")), (400,), id="version-past-u64"),
    pytest.param(ci(submission(notes="x" * 100_001)), (400,), id="notes-100001-characters"),
    pytest.param(ci(submission(auto_publish=TWO_TO_64)), (400,), id="auto-publish-2**64"),
    pytest.param(ci(submission(artifacts="darwin-aarch64")), (400,), id="artifacts-a-string"),
    pytest.param(
        ci(ci_artifact(r2_key="my-app/releases/1.2.3/..%2f..%2fother-app%2fx")),
        (400,),
        id="r2-key-encoded-traversal",
    ),
    pytest.param(
        ci(ci_artifact(r2_key="my-app/releases/1.2.3/..\\..\\other-app\\x")),
        (400,),
        id="r2-key-backslashes",
    ),
    pytest.param(ci(ci_artifact(r2_key="/etc/passwd")), (400,), id="r2-key-absolute"),
    pytest.param(
        ci(ci_artifact(r2_key="my-app/releases/1.2.3/MyApp\x00.app.tar.gz")),
        (400,),
        id="r2-key-nul",
    ),
    pytest.param(
        ci(ci_artifact(r2_key="my-app/releases/1.2.3/MyApp\x1b[2J.app.tar.gz")),
        (400,),
        id="r2-key-control-characters",
    ),
    pytest.param(ci(ci_artifact(platform="../darwin-aarch64")), (400,), id="platform-traversal"),
    pytest.param(ci(ci_artifact(platform=HOMOGLYPH)), (400,), id="platform-homoglyph"),
    pytest.param(ci(ci_artifact(platform="darwin-aarch64\x00")), (400,), id="platform-nul"),
    pytest.param(ci(ci_artifact(signature=SQL_OR)), (400,), id="signature-sql"),
    pytest.param(ci(ci_artifact(signature=RTL_OVERRIDE + SIGNATURE)), (400,), id="signature-rtl"),
    pytest.param(ci(submission(), slug=encode(SQL_OR)), (404,), id="slug-sql"),
    pytest.param(
        ci(submission(), slug=encode("../../graphql")), (400, 404), id="slug-encoded-traversal"
    ),
    pytest.param(ci(submission(), slug="..", raw=True), (400, 404), id="slug-literal-dot-dot"),
    pytest.param(ci(submission(), slug=encode(f"my-app{EMOJI}")), (404,), id="slug-emoji"),
    pytest.param(ci(submission(), slug="a" * 10_000), (404,), id="slug-10000-characters"),
    pytest.param(ci(submission(), key="none"), (401,), id="no-authorization"),
    pytest.param(
        ci(submission(), key="none", headers=(("authorization", "Bearer " + "k" * 100_000),)),
        (401,),
        id="authorization-100kb",
    ),
    pytest.param(
        ci(
            submission(artifacts=[]),
            key="none",
            headers=(("authorization", "Bearer uk_live_nope"), ("authorization", "Bearer <ci>")),
        ),
        (401,),
        id="authorization-twice-garbage-then-ci",
    ),
    pytest.param(Hostile("GET", "/ci/apps/my-app/releases", key="ci"), (405,), id="method-get"),
    pytest.param(
        Hostile("PUT", "/ci/apps/my-app/releases", as_json(submission()), "application/json", "ci"),
        (405,),
        id="method-put",
    ),
]


# --- downloads -------------------------------------------------------------------------------


def download(
    slug: str = "my-app", version: str = "1.0.0", platform: str = "darwin-aarch64"
) -> Hostile:
    """A download of the published artifact with one segment made hostile (encoded here)."""
    return Hostile("GET", f"/dl/{encode(slug)}/{encode(version)}/{encode(platform)}")


DOWNLOADS = [
    pytest.param(download(version="../../k"), (400, 404), id="version-encoded-traversal"),
    pytest.param(
        Hostile("GET", "/dl/my-app/%2e%2e/darwin-aarch64"), (400,), id="version-encoded-dots"
    ),
    pytest.param(
        Hostile("GET", "/dl/my-app/../darwin-aarch64", raw=True),
        (400,),
        id="version-literal-dot-dot",
    ),
    pytest.param(download(version=HUGE_DIGITS + ".0.0"), (400,), id="version-5000-digits"),
    pytest.param(download(version=str(TWO_TO_64)), (400,), id="version-2**64-bare"),
    # Past u64: no client can hold it, so no release can have it.
    pytest.param(download(version=f"{TWO_TO_64}.0.0"), (400,), id="version-2**64-major"),
    pytest.param(download(version="1.0.0' OR '1'='1"), (400,), id="version-sql-or"),
    pytest.param(download(version="1.0.0\x00"), (400,), id="version-nul"),
    pytest.param(download(version=f"1.0.0{RTL_MARK}"), (400,), id="version-rtl-mark"),
    pytest.param(download(version="01.0.0"), (400,), id="version-leading-zero"),
    pytest.param(
        Hostile("GET", "/dl/my-app/1.0.0/..", raw=True), (400,), id="platform-literal-dot-dot"
    ),
    pytest.param(download(platform="..\\..\\windows-x86_64"), (400,), id="platform-backslashes"),
    pytest.param(Hostile("GET", "/dl/my-app/1.0.0/..\\k"), (400,), id="platform-raw-backslash"),
    pytest.param(download(platform="darwin-aarch64\x00"), (400,), id="platform-nul"),
    pytest.param(
        download(platform=f"darwin-aarch64{RTL_OVERRIDE}"), (400,), id="platform-rtl-override"
    ),
    pytest.param(download(platform=f"darwin-{EMOJI}"), (400,), id="platform-emoji"),
    pytest.param(download(platform=f"darwin-aarch64{COMBINING}"), (400,), id="platform-combining"),
    pytest.param(download(platform="darwin-aarch64 "), (400,), id="platform-trailing-space"),
    pytest.param(download(platform="DARWIN-AARCH64"), (400,), id="platform-upper-case"),
    pytest.param(Hostile("GET", "/dl/my-app/1.0.0/%FF%FE"), (400,), id="platform-invalid-utf8"),
    pytest.param(download(platform=f"darwin-aarch64{SQL_DROP}"), (400,), id="platform-sql-drop"),
    pytest.param(download(slug=SQL_OR), (404,), id="slug-sql-or"),
    pytest.param(download(slug="my-app\x00"), (404,), id="slug-nul"),
    pytest.param(download(slug="my\u2010app"), (404,), id="slug-unicode-hyphen"),
    pytest.param(download(slug=f"my-app{EMOJI}"), (404,), id="slug-emoji"),
    pytest.param(Hostile("GET", "/dl/%FF%FE/1.0.0/darwin-aarch64"), (404,), id="slug-invalid-utf8"),
    pytest.param(download(slug="a" * 10_000), (404,), id="slug-10000-characters"),
    pytest.param(download(slug="../../graphql"), (400, 404), id="slug-encoded-traversal"),
    pytest.param(
        Hostile("GET", "/dl/my-app/1.0.0/%00", headers=(("cf-ipcountry", "N" * 50_000),)),
        (400,),
        id="50kb-country-on-a-bad-download",
    ),
    pytest.param(
        Hostile("POST", "/dl/my-app/1.0.0/darwin-aarch64", b"x"), (405,), id="method-post"
    ),
    pytest.param(Hostile("DELETE", "/dl/my-app/1.0.0/darwin-aarch64"), (405,), id="method-delete"),
]


# The REST doors, each case named after its door.
REST = [
    pytest.param(*case.values, id=f"{door}-{case.id}")
    for door, cases in (("updates", UPDATE_CHECK), ("ci", CI_ENDPOINT), ("dl", DOWNLOADS))
    for case in cases
]


@pytest.mark.parametrize(("hostile", "statuses"), REST)
async def test_rest_doors_refuse_hostile_input(
    stage: Stage,
    world: World,
    hostile: Hostile,
    statuses: tuple[int, ...],
) -> None:
    before = await stage.observe()

    response = await send(stage, world, hostile)

    assert_rest_refusal(response, statuses)
    await stage.assert_unchanged(before)


def test_the_corpus_is_large_enough() -> None:
    doors = [GRAPHQL_POST + GRAPHQL_GET, UPDATE_CHECK, CI_ENDPOINT, DOWNLOADS]
    assert sum(len(cases) for cases in doors) >= 60
    for cases in doors:
        ids = [case.id for case in cases]
        assert all(ids)
        assert len(set(ids)) == len(ids), "every case has its own readable id"
