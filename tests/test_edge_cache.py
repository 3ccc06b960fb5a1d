"""The edge cache against small real ASGI origins: every status, every storage rule, every race.

Time moves on a fake clock, never by sleeping. Origins count their calls and can be held on an
event, so coalescing, disconnects and purges can be placed exactly inside an origin fetch.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from ferryman.edge_cache import CacheRule, EdgeCache

CACHED = "public, max-age=60"


@dataclass
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("cache-control", CACHED)])
    body: bytes = b'{"version":"1.0.0"}'


class Origin:
    """A scripted origin: counts calls, records what it saw, and can be held mid-fetch.

    ``script(n, scope)`` decides the n-th call's answer (a Reply, or an exception to raise) at
    the moment the call starts — like an origin that reads its database before it is held.
    """

    def __init__(self, script: Reply | Callable[[int, Scope], Reply | Exception]) -> None:
        self.script = script
        self.calls = 0
        self.scopes: list[Scope] = []
        self.request_bodies: list[bytes] = []
        self.gate: asyncio.Event | None = None
        self.cancelled = 0
        self.entered = asyncio.Event()
        self.served = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.calls += 1
        self.scopes.append(scope)
        message = await receive()
        self.request_bodies.append(message.get("body", b""))
        answer = self.script if isinstance(self.script, Reply) else self.script(self.calls, scope)
        self.entered.set()
        if self.gate is not None:
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        if isinstance(answer, Exception):
            raise answer
        headers = [(k.lower().encode(), v.encode()) for k, v in answer.headers]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
        self.served.set()

    def headers_seen(self, call: int = -1) -> dict[bytes, bytes]:
        return dict(self.scopes[call]["headers"])


class PathRule:
    """Caches every path under /c/, keyed by path; the origin sees only the path and Host."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope) -> tuple[Hashable, Scope] | None:
        self.calls += 1
        if not scope["path"].startswith("/c/"):
            return None
        headers = [(n, v) for n, v in scope["headers"] if n == b"host"]
        return scope["path"], {**scope, "query_string": b"", "headers": headers}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Stack = Callable[..., tuple[EdgeCache, httpx.AsyncClient]]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def stack(clock: Clock) -> AsyncIterator[Stack]:
    """Builds edge + client around an origin; closes the clients and the edges afterwards."""
    opened: list[tuple[EdgeCache, httpx.AsyncClient]] = []

    def build(
        origin: Callable[[Scope, Receive, Send], Awaitable[None]],
        rule: CacheRule | None = None,
        max_bytes: int = 1024 * 1024,
    ) -> tuple[EdgeCache, httpx.AsyncClient]:
        edge = EdgeCache(origin, rule=rule or PathRule(), max_bytes=max_bytes, clock=clock)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=edge), base_url="http://edge.test"
        )
        opened.append((edge, client))
        return edge, client

    yield build
    for edge, client in opened:
        await client.aclose()
        await edge.aclose()


def status_of(response: httpx.Response) -> str:
    return response.headers["cf-cache-status"]


async def raw(
    app: Callable[[Scope, Receive, Send], Awaitable[None]],
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Drive the ASGI app directly, to see exactly which headers and body bytes it sends."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"edge.test"), *(headers or [])],
        "client": ("127.0.0.1", 1),
        "server": ("edge.test", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    return sent[0]["status"], list(sent[0]["headers"]), sent[1].get("body", b"")


async def until(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until ``condition`` holds (no wall-clock sleeping)."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - waiting for other tasks, not for an event
            await asyncio.sleep(0)


# --- 8.1 basic semantics ------------------------------------------------------------------


async def test_miss_then_hit_replays_the_bytes_with_a_growing_age(
    stack: Stack, clock: Clock
) -> None:
    body = '{"notes":"Grüße ✓","version":"1.0.0"}'.encode()
    origin = Origin(Reply(body=body, headers=[("cache-control", CACHED), ("x-kept", "yes")]))
    _, client = stack(origin)

    first = await client.get("/c/app")
    assert (first.status_code, status_of(first), first.content) == (200, "MISS", body)
    assert "age" not in first.headers
    assert first.headers["x-kept"] == "yes"

    second = await client.get("/c/app")
    assert (status_of(second), second.content, second.headers["age"]) == ("HIT", body, "0")
    assert second.headers["content-length"] == str(len(body))
    assert second.headers["etag"] == first.headers["etag"]
    clock.advance(37)
    third = await client.get("/c/app")
    assert (status_of(third), third.headers["age"]) == ("HIT", "37")
    assert origin.calls == 1


async def test_an_upstream_age_counts_against_freshness(stack: Stack, clock: Clock) -> None:
    origin = Origin(Reply(headers=[("cache-control", "max-age=60"), ("age", "50")]))
    _, client = stack(origin)
    await client.get("/c/app")
    clock.advance(5)
    assert (await client.get("/c/app")).headers["age"] == "55"
    clock.advance(6)
    assert status_of(await client.get("/c/app")) == "EXPIRED"
    assert origin.calls == 2


FUTURE = "Thu, 01 Jan 2099 00:00:30 GMT"
DATE = "Thu, 01 Jan 2099 00:00:00 GMT"


@pytest.mark.parametrize(
    ("headers", "ttl"),
    [
        pytest.param(
            [
                ("cloudflare-cdn-cache-control", "max-age=100"),
                ("cdn-cache-control", "max-age=10"),
                ("cache-control", "s-maxage=5, max-age=5"),
            ],
            100,
            id="cloudflare-cdn-cache-control-first",
        ),
        pytest.param(
            [("cdn-cache-control", "max-age=100"), ("cache-control", "s-maxage=10, max-age=5")],
            100,
            id="cdn-cache-control-over-cache-control",
        ),
        pytest.param(
            [("cache-control", "max-age=10, s-maxage=100")], 100, id="s-maxage-over-max-age"
        ),
        pytest.param(
            [("cache-control", "max-age=100"), ("expires", FUTURE), ("date", DATE)],
            100,
            id="max-age-over-expires",
        ),
        pytest.param([("expires", FUTURE), ("date", DATE)], 30, id="expires-minus-date"),
        pytest.param(
            [("cdn-cache-control", "max-age=100"), ("cache-control", "private, no-store")],
            100,
            id="targeted-header-ignores-cache-control",
        ),
    ],
)
async def test_freshness_comes_from_the_most_specific_header(
    stack: Stack, clock: Clock, headers: list[tuple[str, str]], ttl: int
) -> None:
    origin = Origin(Reply(headers=headers))
    _, client = stack(origin)
    assert status_of(await client.get("/c/app")) == "MISS"
    clock.advance(ttl - 1)
    assert status_of(await client.get("/c/app")) == "HIT"
    clock.advance(2)
    assert status_of(await client.get("/c/app")) == "EXPIRED"
    assert origin.calls == 2


async def test_cloudflare_only_headers_never_leave_the_edge(stack: Stack) -> None:
    origin = Origin(
        Reply(
            headers=[
                ("cloudflare-cdn-cache-control", "max-age=600, stale-if-error=60"),
                ("cdn-cache-control", "max-age=300"),
                ("cache-control", "private, max-age=60"),
                ("cache-tag", "app:demo,all"),
            ]
        )
    )
    _, client = stack(origin)
    statuses = []
    for path in ("/c/app", "/c/app", "/elsewhere"):
        response = await client.get(path)
        statuses.append(status_of(response))
        assert "cloudflare-cdn-cache-control" not in response.headers
        assert "cache-tag" not in response.headers
        assert response.headers["cdn-cache-control"] == "max-age=300"
        assert response.headers["cache-control"] == "private, max-age=60"
    assert statuses == ["MISS", "HIT", "DYNAMIC"]
    assert origin.calls == 2


@pytest.mark.parametrize(
    "policy",
    [
        "s-maxage=10, stale-while-revalidate=30, stale-if-error=60",
        "max-age=10, must-revalidate, stale-while-revalidate=30, stale-if-error=60",
        "max-age=10, proxy-revalidate, stale-while-revalidate=30, stale-if-error=60",
        "max-age=10, stale-if-error=0",
    ],
)
async def test_stale_serving_can_be_forbidden(stack: Stack, clock: Clock, policy: str) -> None:
    outage = Reply(503, [("cache-control", "no-store")], b"down")
    origin = Origin(lambda n, _: Reply(headers=[("cache-control", policy)]) if n < 3 else outage)
    _, client = stack(origin)
    await client.get("/c/app")
    clock.advance(15)
    refetched = await client.get("/c/app")
    assert status_of(refetched) == "EXPIRED"  # never UPDATING
    clock.advance(15)
    failed = await client.get("/c/app")
    assert (failed.status_code, failed.content, status_of(failed)) == (503, b"down", "BYPASS")
    assert origin.calls == 3


async def test_stale_while_revalidate_serves_stale_during_one_refresh(
    stack: Stack, clock: Clock
) -> None:
    policy = [("cache-control", "max-age=10, stale-while-revalidate=30")]
    origin = Origin(lambda n, _: Reply(headers=policy, body=b"v%d" % n))
    _, client = stack(origin)
    await client.get("/c/app")

    clock.advance(15)
    origin.gate = asyncio.Event()
    origin.served.clear()
    stale = await asyncio.gather(*(client.get("/c/app") for _ in range(100)))
    assert {(status_of(r), r.content, r.headers["age"]) for r in stale} == {
        ("UPDATING", b"v1", "15")
    }
    assert origin.calls == 2  # one background refresh, however many stale hits
    origin.gate.set()
    await origin.served.wait()

    fresh = await client.get("/c/app")
    assert (status_of(fresh), fresh.content, fresh.headers["age"]) == ("HIT", b"v2", "0")
    clock.advance(10 + 31)  # past the window: the stale copy may no longer be served
    blocking = await client.get("/c/app")
    assert (status_of(blocking), blocking.content) == ("EXPIRED", b"v3")
    assert "age" not in blocking.headers
    assert origin.calls == 3


async def test_a_failed_background_refresh_keeps_the_stale_entry(
    stack: Stack, clock: Clock
) -> None:
    policy = [("cache-control", "max-age=10, stale-while-revalidate=30")]
    origin = Origin(lambda n, _: Reply(headers=policy) if n == 1 else RuntimeError("db down"))
    _, client = stack(origin)
    await client.get("/c/app")
    clock.advance(15)
    assert status_of(await client.get("/c/app")) == "UPDATING"
    await until(lambda: origin.calls == 2)
    await asyncio.sleep(0)
    again = await client.get("/c/app")
    assert (again.status_code, status_of(again)) == (200, "UPDATING")
    await until(lambda: origin.calls == 3)  # the failed refresh is over: the next one may start


@pytest.mark.parametrize("failure", ["503", "exception"])
async def test_stale_if_error_serves_the_last_good_answer(
    stack: Stack, clock: Clock, failure: str
) -> None:
    good = Reply(headers=[("cache-control", "max-age=10, stale-if-error=60")], body=b"good")
    broken: Reply | Exception = (
        Reply(503, [("cache-control", "no-store")], b"down")
        if failure == "503"
        else ConnectionError("database unreachable")
    )
    origin = Origin(lambda n, _: good if n == 1 else broken)
    _, client = stack(origin)
    await client.get("/c/app")

    clock.advance(15)
    stale = await client.get("/c/app")
    assert (stale.status_code, stale.content, status_of(stale)) == (200, b"good", "STALE")
    assert stale.headers["age"] == "15"
    clock.advance(50)
    assert status_of(await client.get("/c/app")) == "STALE"  # the error was not stored
    assert origin.calls == 3

    clock.advance(10)  # t = 75: past fresh (10) + stale-if-error (60)
    gone = await client.get("/c/app")
    assert gone.status_code == 503
    assert "age" not in gone.headers
    if failure == "503":
        assert (gone.content, status_of(gone)) == (b"down", "BYPASS")
    else:
        assert gone.json()["error"]["code"] == "ORIGIN_UNAVAILABLE"
        assert status_of(gone) == "EXPIRED"
    assert origin.calls == 4


async def test_an_origin_exception_without_an_entry_is_a_503_and_is_not_cached(
    stack: Stack,
) -> None:
    origin = Origin(lambda n, _: RuntimeError("boom") if n == 1 else Reply())
    edge, _ = stack(origin)
    status, headers, body = await raw(edge, "GET", "/c/app")
    names = dict(headers)
    assert status == 503
    assert json.loads(body)["error"]["code"] == "ORIGIN_UNAVAILABLE"
    assert json.loads(body)["error"]["message"]
    assert names[b"content-length"] == str(len(body)).encode()
    assert names[b"content-type"] == b"application/json"
    assert names[b"cache-control"] == b"no-store"
    assert names[b"cf-cache-status"] == b"MISS"
    status, headers, _ = await raw(edge, "GET", "/c/app")
    assert (status, dict(headers)[b"cf-cache-status"]) == (200, b"MISS")
    assert origin.calls == 2


async def test_an_origin_that_never_answers_completely_is_unavailable(stack: Stack) -> None:
    async def truncated(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"par", "more_body": True})

    _, client = stack(truncated)
    response = await client.get("/c/app")
    assert (response.status_code, response.json()["error"]["code"]) == (503, "ORIGIN_UNAVAILABLE")


async def test_an_expired_entry_is_revalidated_with_the_origins_etag(
    stack: Stack, clock: Clock
) -> None:
    def script(n: int, scope: Scope) -> Reply:
        if dict(scope["headers"]).get(b"if-none-match") == b'"r1"':
            return Reply(304, [("cache-control", "max-age=20"), ("etag", '"r1"')], b"")
        return Reply(headers=[("cache-control", "max-age=10"), ("etag", '"r1"')], body=b"one")

    origin = Origin(script)
    _, client = stack(origin)
    first = await client.get("/c/app", headers={"if-none-match": '"zzz"'})
    assert b"if-none-match" not in origin.headers_seen()  # client validators stay at the edge
    assert first.headers["etag"] == '"r1"'

    clock.advance(15)
    revalidated = await client.get("/c/app")
    assert origin.headers_seen()[b"if-none-match"] == b'"r1"'
    assert (revalidated.status_code, revalidated.content) == (200, b"one")
    assert (status_of(revalidated), revalidated.headers["age"]) == ("REVALIDATED", "0")
    clock.advance(19)  # the 304's max-age=20 now applies
    assert status_of(await client.get("/c/app")) == "HIT"
    assert origin.calls == 2


async def test_if_none_match_is_answered_from_the_cache_with_a_304(stack: Stack) -> None:
    origin = Origin(Reply(body=b"manifest"))
    edge, client = stack(origin)
    etag = (await client.get("/c/app")).headers["etag"]
    assert etag[0] == etag[-1] == '"'  # strong, made from the body
    assert len(etag) > 10

    status, headers, body = await raw(edge, "GET", "/c/app", [(b"if-none-match", etag.encode())])
    names = dict(headers)
    assert (status, body) == (304, b"")
    assert names[b"etag"] == etag.encode()
    assert names[b"cache-control"] == CACHED.encode()
    assert (names[b"cf-cache-status"], names[b"age"]) == (b"HIT", b"0")
    assert b"content-length" not in names

    weak = await client.get("/c/app", headers={"if-none-match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    other = await client.get("/c/app", headers={"if-none-match": '"other"'})
    assert (other.status_code, other.content) == (200, b"manifest")
    assert origin.calls == 1


async def test_the_origins_etag_is_kept(stack: Stack) -> None:
    origin = Origin(Reply(headers=[("cache-control", CACHED), ("etag", 'W/"abc"')]))
    _, client = stack(origin)
    assert (await client.get("/c/app")).headers.get_list("etag") == ['W/"abc"']
    assert (await client.get("/c/app", headers={"if-none-match": '"abc"'})).status_code == 304


async def test_a_204_is_cached_and_replayed_without_a_body(stack: Stack) -> None:
    origin = Origin(Reply(204, [("cache-control", CACHED)], b""))
    edge, _ = stack(origin)
    for expected in (b"MISS", b"HIT"):
        status, headers, body = await raw(edge, "GET", "/c/app")
        names = dict(headers)
        assert (status, body, names[b"cf-cache-status"]) == (204, b"", expected)
        assert b"content-length" not in names
        assert b"etag" not in names
    assert origin.calls == 1


async def test_a_404_is_cached_for_at_most_ten_seconds(stack: Stack, clock: Clock) -> None:
    origin = Origin(
        Reply(404, [("cloudflare-cdn-cache-control", "max-age=600, stale-if-error=600")], b"no")
    )
    _, client = stack(origin)
    assert status_of(await client.get("/c/app")) == "MISS"
    clock.advance(9)
    hit = await client.get("/c/app")
    assert (hit.status_code, status_of(hit)) == (404, "HIT")
    clock.advance(2)
    again = await client.get("/c/app")
    assert (again.status_code, status_of(again)) == (404, "EXPIRED")
    assert origin.calls == 2


@pytest.mark.parametrize("status", [500, 502, 503, 401, 403, 429, 301, 410, 206])
async def test_only_200_204_and_404_are_ever_stored(stack: Stack, status: int) -> None:
    origin = Origin(Reply(status, [("cloudflare-cdn-cache-control", "max-age=600")], b"x"))
    _, client = stack(origin)
    for _ in range(2):
        response = await client.get("/c/app", follow_redirects=False)
        assert (response.status_code, status_of(response)) == (status, "MISS")
        assert "age" not in response.headers
    assert origin.calls == 2


@pytest.mark.parametrize(
    "headers",
    [
        [("cache-control", "private, max-age=60")],
        [("cache-control", "no-store, max-age=60")],
        [("cache-control", "no-cache, max-age=60")],
        [("cache-control", "max-age=0")],
        [("cache-control", "max-age=nonsense")],
        [],
        [("cache-control", CACHED), ("set-cookie", "session=1")],
        [("cache-control", CACHED), ("vary", "Accept-Encoding, Cookie")],
        [("cache-control", CACHED), ("vary", "*")],
        [("cloudflare-cdn-cache-control", "private"), ("cache-control", CACHED)],
    ],
)
async def test_bypass_when_the_origin_forbids_storing(
    stack: Stack, headers: list[tuple[str, str]]
) -> None:
    origin = Origin(Reply(headers=headers))
    _, client = stack(origin)
    for _ in range(2):
        response = await client.get("/c/app")
        assert (response.status_code, status_of(response)) == (200, "BYPASS")
    assert origin.calls == 2


async def test_vary_accept_encoding_is_still_stored(stack: Stack) -> None:
    origin = Origin(Reply(headers=[("cache-control", CACHED), ("vary", "accept-encoding")]))
    _, client = stack(origin)
    await client.get("/c/app")
    assert status_of(await client.get("/c/app")) == "HIT"
    assert origin.calls == 1


# --- 8.2 eligibility and safety -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/c/app", {}),
        ("DELETE", "/c/app", {}),
        ("GET", "/c/app", {"authorization": "Bearer secret"}),
        ("HEAD", "/c/app", {"authorization": "Bearer secret"}),
        ("GET", "/graphql", {}),
    ],
)
async def test_ineligible_requests_are_dynamic_and_untouched(
    stack: Stack, method: str, path: str, headers: dict[str, str]
) -> None:
    origin = Origin(Reply(headers=[("cache-control", CACHED), ("cache-tag", "all")]))
    _, client = stack(origin)
    for _ in range(2):
        response = await client.request(method, path, headers=headers)
        assert status_of(response) == "DYNAMIC"
        assert "age" not in response.headers
        assert "cache-tag" not in response.headers
    assert origin.calls == 2
    assert origin.scopes[0]["method"] == method  # the original request, not the rule's scope
    authorization = headers.get("authorization")
    assert origin.headers_seen(0).get(b"authorization") == (
        authorization.encode() if authorization else None
    )


async def test_websocket_and_lifespan_scopes_pass_through(stack: Stack) -> None:
    seen: list[tuple[Scope, Message]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        seen.append((scope, message))
        await send({"type": f"{scope['type']}.sent"})

    edge, _ = stack(app)
    out: list[Message] = []

    async def send(message: Message) -> None:
        out.append(message)

    for kind, incoming in (("websocket", "websocket.connect"), ("lifespan", "lifespan.startup")):
        scope: Scope = {"type": kind}

        async def receive(incoming: str = incoming) -> Message:
            return {"type": incoming}

        await edge(scope, receive, send)
        assert seen[-1] == (scope, {"type": incoming})
        assert seen[-1][0] is scope
    assert out == [{"type": "websocket.sent"}, {"type": "lifespan.sent"}]


async def normalising_rule(scope: Scope) -> tuple[Hashable, Scope] | None:
    """Like the updater route's rule: canonical path, one allowed query parameter, Host only."""
    path = scope["path"].lower()
    if not path.startswith("/c/"):
        return None
    query = dict(part.split(b"=", 1) for part in scope["query_string"].split(b"&") if b"=" in part)
    channel = query.get(b"channel", b"stable")
    host = dict(scope["headers"]).get(b"host", b"")
    origin = {
        **scope,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"channel=" + channel,
        "headers": [(b"host", host)],
    }
    return (host, path, channel), origin


async def test_the_rule_decides_what_reaches_the_key_and_the_origin(stack: Stack) -> None:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "path": request.url.path,
                "query": dict(request.query_params),
                "headers": sorted(request.headers.keys()),
                "body": (await request.body()).decode(),
            },
            headers={"cache-control": CACHED},
        )

    calls: list[str] = []

    async def counted(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["path"])
        await starlette(scope, receive, send)

    starlette = Starlette(routes=[Route("/c/{name}", echo)])
    _, client = stack(counted, rule=normalising_rule)

    first = await client.request(
        "GET",
        "/c/App?utm=1&channel=beta",
        headers={"x-forwarded-host": "evil.example", "forwarded": "host=evil", "x-junk": "1"},
        content=b"a GET body",
    )
    assert first.json() == {
        "path": "/c/app",
        "query": {"channel": "beta"},
        "headers": ["host"],
        "body": "",
    }
    poisoned = await client.request(
        "GET",
        "/c/APP?channel=beta&x=2",
        headers={"x-forwarded-host": "other.example"},
        content=b"a GET body",
    )
    assert (status_of(poisoned), poisoned.content) == ("HIT", first.content)
    other_channel = await client.get("/c/app?channel=stable")
    assert status_of(other_channel) == "MISS"
    other_host = await client.get("http://second.test/c/app?channel=beta")
    assert status_of(other_host) == "MISS"
    assert calls == ["/c/app", "/c/app", "/c/app"]


# --- 8.3 concurrency and races ------------------------------------------------------------


async def test_a_thousand_concurrent_misses_make_one_origin_call(stack: Stack) -> None:
    rule = PathRule()
    origin = Origin(Reply(body=b"shared"))
    origin.gate = asyncio.Event()
    _, client = stack(origin, rule=rule)
    pending = [asyncio.create_task(client.get("/c/app")) for _ in range(1000)]
    await until(lambda: rule.calls == 1000)  # every request is past the lookup and waiting
    await origin.entered.wait()
    assert origin.calls == 1
    origin.gate.set()
    responses = await asyncio.gather(*pending)
    assert {(r.status_code, r.content, status_of(r)) for r in responses} == {
        (200, b"shared", "MISS")
    }
    assert status_of(await client.get("/c/app")) == "HIT"
    assert origin.calls == 1


async def test_a_private_answer_is_not_handed_to_coalesced_requests(stack: Stack) -> None:
    rule = PathRule()
    origin = Origin(
        lambda n, _: Reply(headers=[("cache-control", "private, max-age=60")], body=b"user%d" % n)
    )
    origin.gate = asyncio.Event()
    _, client = stack(origin, rule=rule)
    pending = [asyncio.create_task(client.get("/c/me")) for _ in range(5)]
    await until(lambda: rule.calls == 5)
    await origin.entered.wait()
    assert origin.calls == 1
    origin.gate.set()
    responses = await asyncio.gather(*pending)
    assert sorted(r.content for r in responses) == [b"user%d" % n for n in range(1, 6)]
    assert {status_of(r) for r in responses} == {"BYPASS"}
    assert origin.calls == 5


async def test_a_client_disconnecting_mid_fill_does_not_cancel_the_others(stack: Stack) -> None:
    rule = PathRule()
    origin = Origin(Reply(body=b"filled"))
    origin.gate = asyncio.Event()
    _, client = stack(origin, rule=rule)
    leader = asyncio.create_task(client.get("/c/app"))
    await origin.entered.wait()
    follower = asyncio.create_task(client.get("/c/app"))
    await until(lambda: rule.calls == 2)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    origin.gate.set()
    response = await follower
    assert (response.status_code, response.content, status_of(response)) == (
        200,
        b"filled",
        "MISS",
    )
    assert status_of(await client.get("/c/app")) == "HIT"
    assert origin.calls == 1


async def test_a_fill_whose_only_client_left_is_still_stored(stack: Stack) -> None:
    origin = Origin(Reply(body=b"filled"))
    origin.gate = asyncio.Event()
    _, client = stack(origin)
    alone = asyncio.create_task(client.get("/c/app"))
    await origin.entered.wait()
    alone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await alone
    origin.gate.set()
    await origin.served.wait()
    hit = await client.get("/c/app")
    assert (status_of(hit), hit.content) == ("HIT", b"filled")
    assert origin.calls == 1


@pytest.mark.parametrize("failure", ["exception", "503"])
async def test_an_origin_failure_reaches_every_waiter_and_is_not_cached(
    stack: Stack, failure: str
) -> None:
    rule = PathRule()
    broken: Reply | Exception = (
        RuntimeError("boom")
        if failure == "exception"
        else Reply(503, [("cache-control", "no-store")], b'{"error":"db"}')
    )
    origin = Origin(lambda n, _: broken if n == 1 else Reply(body=b"back"))
    origin.gate = asyncio.Event()
    _, client = stack(origin, rule=rule)
    pending = [asyncio.create_task(client.get("/c/app")) for _ in range(10)]
    await until(lambda: rule.calls == 10)
    origin.gate.set()
    responses = await asyncio.gather(*pending)
    assert {r.status_code for r in responses} == {503}
    if failure == "exception":
        assert {r.json()["error"]["code"] for r in responses} == {"ORIGIN_UNAVAILABLE"}
    else:
        assert {r.content for r in responses} == {b'{"error":"db"}'}
    assert origin.calls == 1  # an outage is shared, not retried by every waiter
    origin.gate = None
    recovered = await client.get("/c/app")
    assert (recovered.status_code, recovered.content, status_of(recovered)) == (
        200,
        b"back",
        "MISS",
    )
    assert origin.calls == 2


def tagged(tags: str, body: bytes = b"x") -> Reply:
    return Reply(headers=[("cache-control", CACHED), ("cache-tag", tags)], body=body)


async def test_purge_by_tag_reaches_only_entries_with_that_tag(stack: Stack) -> None:
    def script(n: int, scope: Scope) -> Reply:
        slug = scope["path"].rsplit("/", 1)[1]
        return tagged(f"app:{slug}, all", b"%s-%d" % (slug.encode(), n))

    origin = Origin(script)
    edge, client = stack(origin)
    await client.get("/c/a")
    await client.get("/c/b")
    assert {status_of(await client.get(p)) for p in ("/c/a", "/c/b")} == {"HIT"}

    edge.purge(" APP:A ")  # tags are case-insensitive, as on Cloudflare
    purged = await client.get("/c/a")
    assert (status_of(purged), purged.content) == ("MISS", b"a-3")
    assert status_of(await client.get("/c/b")) == "HIT"
    assert status_of(await client.get("/c/a")) == "HIT"

    edge.purge("all")
    assert [status_of(await client.get(p)) for p in ("/c/a", "/c/b")] == ["MISS", "MISS"]
    edge.purge_all()
    assert [status_of(await client.get(p)) for p in ("/c/a", "/c/b")] == ["MISS", "MISS"]
    assert [status_of(await client.get(p)) for p in ("/c/a", "/c/b")] == ["HIT", "HIT"]
    assert origin.calls == 7


async def test_an_expired_entry_answers_stale_if_error_but_a_purged_one_never(
    stack: Stack, clock: Clock
) -> None:
    """A purge means the answer changed: as on Cloudflare, it is gone for good, and an
    origin failure afterwards must not bring it back."""
    good = Reply(
        headers=[("cache-control", "max-age=60, stale-if-error=600"), ("cache-tag", "app:a")],
        body=b"old",
    )
    origin = Origin(lambda n, _: good if n == 1 else RuntimeError("db down"))
    edge, client = stack(origin)
    await client.get("/c/a")
    clock.advance(61)
    stale = await client.get("/c/a")
    assert (stale.status_code, stale.content, status_of(stale)) == (200, b"old", "STALE")
    edge.purge("app:a")
    failed = await client.get("/c/a")
    assert failed.status_code >= 500
    assert failed.content != b"old"
    assert origin.calls == 3


async def test_a_fill_that_started_before_a_purge_is_never_stored(stack: Stack) -> None:
    database = {"version": "1.0.0"}
    origin = Origin(lambda n, _: tagged("app:demo", database["version"].encode()))
    held = origin.gate = asyncio.Event()
    rule = PathRule()
    edge, client = stack(origin, rule=rule)

    before = asyncio.create_task(client.get("/c/app"))  # reads 1.0.0, then is held
    await origin.entered.wait()
    joined = asyncio.create_task(client.get("/c/app"))  # queued on the same fill
    await until(lambda: rule.calls == 2)
    database["version"] = "1.1.0"  # a publish commits...
    edge.purge("app:demo")  # ...and purges while the old fill is still in flight
    origin.gate = None  # later origin calls answer at once
    async with asyncio.timeout(5):  # joining the held, doomed fill would wait forever
        after = await client.get("/c/app")
    assert (after.content, status_of(after)) == (b"1.1.0", "MISS")
    assert origin.calls == 2

    held.set()
    released = [await before, await joined]
    assert {(r.content, status_of(r)) for r in released} == {(b"1.0.0", "MISS")}
    for _ in range(3):
        hit = await client.get("/c/app")
        assert (hit.content, status_of(hit)) == (b"1.1.0", "HIT")
    assert origin.calls == 2


async def test_a_doomed_fill_does_not_overwrite_nor_fill_an_empty_key(stack: Stack) -> None:
    database = {"version": "1.0.0"}
    origin = Origin(lambda n, _: tagged("app:demo", database["version"].encode()))
    origin.gate = asyncio.Event()
    edge, client = stack(origin)
    before = asyncio.create_task(client.get("/c/app"))
    await origin.entered.wait()
    database["version"] = "1.1.0"
    edge.purge("app:demo")
    origin.gate.set()
    assert (await before).content == b"1.0.0"
    assert edge.currsize == 0  # not even kept as a stale fallback
    origin.gate = None
    next_check = await client.get("/c/app")
    assert (next_check.content, status_of(next_check)) == (b"1.1.0", "MISS")
    assert origin.calls == 2


async def test_an_older_fill_never_replaces_a_newer_entry(stack: Stack) -> None:
    origin = Origin(lambda n, _: tagged("app:demo", b"fill%d" % n))
    held = origin.gate = asyncio.Event()
    edge, client = stack(origin)
    older = asyncio.create_task(client.get("/c/app"))
    await origin.entered.wait()
    edge.purge("app:other")  # unrelated, but the held fill can no longer be joined
    origin.gate = None
    newer = await client.get("/c/app")
    assert (newer.content, status_of(newer)) == (b"fill2", "MISS")
    held.set()
    assert (await older).content == b"fill1"
    hit = await client.get("/c/app")
    assert (hit.content, status_of(hit)) == (b"fill2", "HIT")
    assert origin.calls == 2


async def test_an_unrelated_purge_does_not_doom_a_fill(stack: Stack) -> None:
    origin = Origin(tagged("app:demo"))
    origin.gate = asyncio.Event()
    edge, client = stack(origin)
    filling = asyncio.create_task(client.get("/c/app"))
    await origin.entered.wait()
    edge.purge("app:other")
    origin.gate.set()
    await filling
    assert status_of(await client.get("/c/app")) == "HIT"
    assert origin.calls == 1


# --- 8.4 bounds, HEAD and lifecycle -------------------------------------------------------


async def test_memory_stays_under_max_bytes_and_evicts_least_recently_used(stack: Stack) -> None:
    origin = Origin(lambda n, scope: Reply(body=scope["path"].encode() * 100))  # ~600 bytes
    edge, client = stack(origin, max_bytes=6000)
    await client.get("/c/k00")
    for n in range(1, 40):
        await client.get(f"/c/k{n:02d}")
        assert status_of(await client.get("/c/k00")) == "HIT"  # kept warm by being read
        assert 0 < edge.currsize <= 6000
    calls = origin.calls
    assert status_of(await client.get("/c/k01")) == "MISS"  # the coldest went first
    assert status_of(await client.get("/c/k39")) == "HIT"
    assert origin.calls == calls + 1


async def test_an_entry_larger_than_the_cache_is_served_but_not_stored(stack: Stack) -> None:
    origin = Origin(Reply(body=b"x" * 10_000))
    edge, client = stack(origin, max_bytes=5000)
    for _ in range(2):
        response = await client.get("/c/big")
        assert (response.status_code, len(response.content), status_of(response)) == (
            200,
            10_000,
            "MISS",
        )
    assert edge.currsize == 0
    assert origin.calls == 2


async def test_head_is_filled_with_a_get_and_answered_without_a_body(stack: Stack) -> None:
    body = b'{"version":"2.0.0"}'
    origin = Origin(Reply(body=body))
    edge, _ = stack(origin)
    status, headers, sent = await raw(edge, "HEAD", "/c/app")
    names = dict(headers)
    assert (status, sent, names[b"cf-cache-status"]) == (200, b"", b"MISS")
    assert names[b"content-length"] == str(len(body)).encode()
    assert origin.scopes[0]["method"] == "GET"

    status, headers, sent = await raw(edge, "GET", "/c/app")
    assert (sent, dict(headers)[b"cf-cache-status"]) == (body, b"HIT")
    status, headers, sent = await raw(edge, "HEAD", "/c/app")
    assert (sent, dict(headers)[b"cf-cache-status"]) == (b"", b"HIT")
    assert dict(headers)[b"content-length"] == str(len(body)).encode()
    assert origin.calls == 1


async def test_shutdown_cancels_a_background_refresh(stack: Stack, clock: Clock) -> None:
    origin = Origin(Reply(headers=[("cache-control", "max-age=10, stale-while-revalidate=30")]))
    shutdown: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
        else:
            await origin(scope, receive, send)

    edge, client = stack(app)
    await client.get("/c/app")
    clock.advance(15)
    origin.gate = asyncio.Event()
    assert status_of(await client.get("/c/app")) == "UPDATING"
    await until(lambda: origin.calls == 2)  # the refresh is held inside the origin

    async def receive() -> Message:
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        shutdown.append(message)

    await edge({"type": "lifespan"}, receive, send)
    assert shutdown == [{"type": "lifespan.shutdown.complete"}]
    assert origin.cancelled == 1  # the held refresh was cancelled, not left pending
