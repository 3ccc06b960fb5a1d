"""Who asked, and under which id: the client address behind trusted proxies, and request ids.

``RequestContext.enter`` is checked against a table of client addresses; the same rules are
then shown end to end, on the address the real app logs and on the rate limits that budget
by it.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterator, Sequence

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from ferryman import logs
from ferryman.front import Front
from ferryman.request_context import RequestContext
from ferryman.settings import Network, Settings
from tests.conftest import peer, serving

PROXIES: tuple[Network, ...] = (
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("2001:db8:ffff::/48"),
)
PROXY = "10.0.0.2"
GENERATED = re.compile(r"[0-9a-f]{26}")
XFF = b"x-forwarded-for"
CF_IP = b"cf-connecting-ip"


# --- the address, rule by rule ---------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "peer", "headers", "expected"),
    [
        pytest.param(
            (),
            ("10.0.0.2", 4711),
            {XFF: b"198.51.100.7", CF_IP: b"198.51.100.8"},
            "10.0.0.2",
            id="no-trusted-proxies-headers-ignored",
        ),
        pytest.param(
            PROXIES,
            ("203.0.113.5", 4711),
            {XFF: b"198.51.100.7", CF_IP: b"198.51.100.8"},
            "203.0.113.5",
            id="untrusted-peer-headers-ignored",
        ),
        pytest.param(PROXIES, ("10.0.0.2", 4711), {}, "10.0.0.2", id="trusted-peer-no-headers"),
        pytest.param(
            PROXIES,
            ("10.0.0.2", 4711),
            {CF_IP: b"198.51.100.8", XFF: b"198.51.100.7"},
            "198.51.100.8",
            id="cf-connecting-ip-wins",
        ),
        pytest.param(
            PROXIES,
            ("10.0.0.2", 4711),
            {CF_IP: b" 2001:DB8:0:0:0:0:0:1 "},
            "2001:db8::1",
            id="cf-connecting-ip-canonical",
        ),
        pytest.param(
            PROXIES,
            ("10.0.0.2", 4711),
            {CF_IP: b"not an address", XFF: b"198.51.100.7"},
            "198.51.100.7",
            id="malformed-cf-connecting-ip-falls-back-to-xff",
        ),
        pytest.param(
            PROXIES,
            ("10.0.0.2", 4711),
            {XFF: b"198.51.100.7"},
            "198.51.100.7",
            id="xff-one-hop",
        ),
        pytest.param(
            PROXIES,
            ("10.0.0.2", 4711),
            {XFF: b"192.0.2.66, 198.51.100.7, 10.0.0.9, 10.1.1.1"},
            "198.51.100.7",
            id="xff-nearest-untrusted-hop-from-the-right",
        ),
        pytest.param(
            PROXIES,
            ("10.0.0.2", 4711),
            {XFF: b" 198.51.100.7 ,10.0.0.9 "},
            "198.51.100.7",
            id="xff-spaces-around-hops",
        ),
        pytest.param(
            PROXIES,
            ("10.0.0.2", 4711),
            {XFF: b"10.0.0.7, 10.0.0.8"},
            "10.0.0.7",
            id="xff-all-trusted-takes-the-farthest",
        ),
        pytest.param(
            PROXIES,
            ("10.0.0.2", 4711),
            {XFF: b"198.51.100.7, garbage, 10.0.0.8"},
            "10.0.0.8",
            id="xff-malformed-hop-stops-the-walk",
        ),
        pytest.param(
            PROXIES,
            ("10.0.0.2", 4711),
            {XFF: b"198.51.100.7, unknown"},
            "10.0.0.2",
            id="xff-malformed-last-hop-keeps-the-peer",
        ),
        pytest.param(
            PROXIES,
            ("10.0.0.2", 4711),
            {XFF: b"198.51.100.7:5555"},
            "10.0.0.2",
            id="xff-hop-with-a-port-is-malformed",
        ),
        pytest.param(
            PROXIES,
            ("10.0.0.2", 4711),
            {XFF: b"198.51.100.7,"},
            "10.0.0.2",
            id="xff-empty-last-hop-is-malformed",
        ),
        pytest.param(PROXIES, ("10.0.0.2", 4711), {XFF: b""}, "10.0.0.2", id="xff-empty"),
        pytest.param(
            PROXIES,
            ("2001:db8:ffff::1", 4711),
            {XFF: b"2001:DB8:1::5, 2001:db8:ffff:1::2"},
            "2001:db8:1::5",
            id="ipv6-proxies-and-hops",
        ),
        pytest.param(
            (ipaddress.ip_network("192.0.2.1/32"),),
            ("192.0.2.1", 4711),
            {CF_IP: b"198.51.100.8"},
            "198.51.100.8",
            id="a-single-trusted-address",
        ),
        pytest.param(
            (ipaddress.ip_network("192.0.2.1/32"),),
            ("192.0.2.2", 4711),
            {CF_IP: b"198.51.100.8"},
            "192.0.2.2",
            id="its-neighbour-is-not-trusted",
        ),
        pytest.param(PROXIES, None, {XFF: b"198.51.100.7"}, "unknown", id="no-peer"),
        pytest.param(
            PROXIES,
            ("::ffff:10.0.0.2", 4711),
            {CF_IP: b"198.51.100.8"},
            "198.51.100.8",
            id="ipv4-mapped-peer-of-a-dual-stack-listener",
        ),
    ],
)
async def test_client_ip(
    trusted: Sequence[Network],
    peer: tuple[str, int] | None,
    headers: dict[bytes, bytes],
    expected: str,
) -> None:
    scope: Scope = {"type": "http", "client": peer, "headers": list(headers.items())}
    RequestContext(trusted).enter(scope)
    assert scope["state"]["client_ip"] == expected


async def _no_receive() -> Message:
    raise AssertionError("not called")


async def _no_send(message: Message) -> None:
    raise AssertionError("not called")


# --- the address, end to end -----------------------------------------------------------


@pytest.fixture
def access_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Captures the access log, each record stamped with the request id of the log context
    at the moment it was made (what the handler ``logs.configure`` installs writes out)."""

    def stamp(record: logging.LogRecord) -> bool:
        record.seen_request_id = logs.request_id.get()
        return True

    caplog.set_level(logging.INFO, logger="ferryman.access")
    caplog.handler.addFilter(stamp)
    try:
        yield caplog
    finally:
        caplog.handler.removeFilter(stamp)


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ferryman.access"]


def logged_client(caplog: pytest.LogCaptureFixture) -> str:
    """The ``client`` of the one access-log line so far, then forget it."""
    lines = access_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    client: str = lines[0].__dict__["client"]
    caplog.clear()
    return client


async def test_without_trusted_proxies_the_app_sees_the_peer(
    settings: Settings, access_log: pytest.LogCaptureFixture
) -> None:
    async with serving(settings) as application, peer(application, PROXY) as client:
        forged = {"X-Forwarded-For": "198.51.100.7", "CF-Connecting-IP": "198.51.100.8"}
        assert (await client.get("/healthz", headers=forged)).status_code == 200
        assert logged_client(access_log) == PROXY


async def test_behind_a_trusted_proxy_the_app_sees_the_client(
    settings: Settings, access_log: pytest.LogCaptureFixture
) -> None:
    async with (
        serving(settings, trusted_proxies=PROXIES) as application,
        peer(application, PROXY) as proxy,
        peer(application, "203.0.113.5") as stranger,
    ):
        await proxy.get("/healthz", headers={"CF-Connecting-IP": "198.51.100.8"})
        assert logged_client(access_log) == "198.51.100.8"
        await proxy.get("/healthz", headers={"X-Forwarded-For": "192.0.2.1, 198.51.100.7"})
        assert logged_client(access_log) == "198.51.100.7"
        await proxy.get("/healthz", headers={"X-Forwarded-For": "198.51.100.7, 10.9.9.9"})
        assert logged_client(access_log) == "198.51.100.7"
        await stranger.get("/healthz", headers={"X-Forwarded-For": "198.51.100.7"})
        assert logged_client(access_log) == "203.0.113.5"
        await stranger.get("/healthz", headers={"CF-Connecting-IP": "198.51.100.8"})
        assert logged_client(access_log) == "203.0.113.5"


async def test_x_forwarded_for_over_several_header_lines_is_one_list(
    settings: Settings, access_log: pytest.LogCaptureFixture
) -> None:
    """HTTP allows a list header to arrive as several lines; they mean the lines joined
    with commas (RFC 9110 §5.3), so the nearest untrusted hop may be on an earlier line."""
    async with (
        serving(settings, trusted_proxies=PROXIES) as application,
        peer(application, PROXY) as proxy,
    ):
        lines = [("X-Forwarded-For", "198.51.100.7"), ("X-Forwarded-For", "10.0.0.3")]
        await proxy.get("/healthz", headers=lines)
        assert logged_client(access_log) == "198.51.100.7"


async def test_clients_behind_one_trusted_proxy_have_their_own_budgets(
    settings: Settings,
) -> None:
    async with (
        serving(settings, trusted_proxies=PROXIES, rate_limit_graphql=2) as application,
        peer(application, PROXY) as proxy,
    ):

        async def ask(headers: dict[str, str]) -> int:
            answer = await proxy.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
            return answer.status_code

        one = {"X-Forwarded-For": "198.51.100.7"}
        two = {"X-Forwarded-For": "198.51.100.8, 10.0.0.5"}
        three = {"CF-Connecting-IP": "198.51.100.9"}
        assert [await ask(one) for _ in range(3)] == [200, 200, 429]
        assert [await ask(two) for _ in range(3)] == [200, 200, 429]
        assert [await ask(three) for _ in range(3)] == [200, 200, 429]
        # The same client through the other header is the same client.
        assert await ask({"CF-Connecting-IP": "198.51.100.7"}) == 429


async def test_forged_headers_from_an_untrusted_peer_buy_no_budget(settings: Settings) -> None:
    async with (
        serving(settings, trusted_proxies=PROXIES, rate_limit_graphql=2) as application,
        peer(application, "203.0.113.5") as stranger,
    ):
        statuses = []
        for n in range(5):
            forged = {"X-Forwarded-For": f"198.51.100.{n}", "CF-Connecting-IP": f"192.0.2.{n}"}
            answer = await stranger.post(
                "/graphql", json={"query": "{ __typename }"}, headers=forged
            )
            statuses.append(answer.status_code)
        assert statuses == [200, 200, 429, 429, 429]


async def test_without_trusted_proxies_everyone_behind_a_proxy_shares_its_budget(
    settings: Settings,
) -> None:
    async with (
        serving(settings, rate_limit_graphql=2) as application,
        peer(application, PROXY) as proxy,
    ):
        statuses = []
        for n in range(3):
            answer = await proxy.post(
                "/graphql",
                json={"query": "{ __typename }"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
            statuses.append(answer.status_code)
        assert statuses == [200, 200, 429]


# --- request ids -----------------------------------------------------------------------


async def echo(request: Request) -> JSONResponse:
    """What a route sees: the scope's state and the log context."""
    logging.getLogger("ferryman.test_route").info("inside the route")
    return JSONResponse(
        {
            "request_id": request.state.request_id,
            "client_ip": request.state.client_ip,
            "log_context": logs.request_id.get(),
        }
    )


def echoing(trusted: Sequence[Network] = ()) -> Front:
    return Front(Starlette(routes=[Route("/", echo)]), RequestContext(trusted), None)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"X-Request-ID": "deploy-4711"}, "deploy-4711", id="x-request-id"),
        pytest.param({"X-Request-ID": "a" * 8}, "a" * 8, id="x-request-id-shortest"),
        pytest.param({"X-Request-ID": "A1._:-z" * 9 + "x"}, "A1._:-z" * 9 + "x", id="longest"),
        pytest.param({"CF-Ray": "8a1b2c3d4e5f6789-AMS"}, "8a1b2c3d4e5f6789-AMS", id="cf-ray-alone"),
        pytest.param(
            {"X-Request-ID": "proxy-id-1", "CF-Ray": "8a1b2c3d4e5f6789-AMS"},
            "proxy-id-1",
            id="x-request-id-before-cf-ray",
        ),
        pytest.param(
            {"X-Request-ID": "short", "CF-Ray": "8a1b2c3d4e5f6789-AMS"},
            "8a1b2c3d4e5f6789-AMS",
            id="cf-ray-when-x-request-id-is-malformed",
        ),
        pytest.param(
            {"X-Request-ID": "<script>alert(1)</script>", "CF-Ray": "8a1b2c3d4e5f6789-AMS"},
            "8a1b2c3d4e5f6789-AMS",
            id="cf-ray-when-x-request-id-has-bad-characters",
        ),
        pytest.param({"X-Request-ID": "a" * 7}, None, id="too-short"),
        pytest.param({"X-Request-ID": "a" * 65}, None, id="too-long"),
        pytest.param({"X-Request-ID": "two words here"}, None, id="spaces"),
        pytest.param({"X-Request-ID": ""}, None, id="empty"),
        pytest.param({"X-Request-ID": "short", "CF-Ray": "ray"}, None, id="both-malformed"),
        pytest.param({}, None, id="none-given"),
    ],
)
async def test_request_id(headers: dict[str, str], expected: str | None) -> None:
    async with peer(echoing(PROXIES), PROXY) as client:
        response = await client.get("/", headers=headers)
    seen = response.json()
    if expected is None:
        assert GENERATED.fullmatch(seen["request_id"]), seen
    else:
        assert seen["request_id"] == expected
    # One id everywhere: the scope's state, the log context, the response header.
    assert seen["log_context"] == seen["request_id"]
    assert response.headers["x-request-id"] == seen["request_id"]
    assert response.headers.get_list("x-request-id") == [seen["request_id"]]


async def test_generated_request_ids_differ() -> None:
    async with peer(echoing()) as client:
        ids = {(await client.get("/")).json()["request_id"] for _ in range(20)}
    assert len(ids) == 20
    assert all(GENERATED.fullmatch(i) for i in ids)


async def test_the_log_context_holds_the_id_only_during_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def stamp(record: logging.LogRecord) -> bool:
        record.seen_request_id = logs.request_id.get()
        return True

    caplog.set_level(logging.INFO, logger="ferryman.test_route")
    caplog.handler.addFilter(stamp)
    try:
        async with peer(echoing(PROXIES), PROXY) as client:
            await client.get("/", headers={"X-Request-ID": "first-request"})
            await client.get("/", headers={"CF-Ray": "8a1b2c3d4e5f6789-AMS"})
    finally:
        caplog.handler.removeFilter(stamp)
    inside = [r for r in caplog.records if r.name == "ferryman.test_route"]
    assert [r.__dict__["seen_request_id"] for r in inside] == [
        "first-request",
        "8a1b2c3d4e5f6789-AMS",
    ]
    assert logs.request_id.get() is None  # reset once the request is done


async def test_the_route_sees_the_client_address_in_the_state() -> None:
    async with peer(echoing(PROXIES), PROXY, 4711) as client:
        seen = (await client.get("/", headers={"X-Forwarded-For": "198.51.100.7"})).json()
    assert seen["client_ip"] == "198.51.100.7"


async def test_access_log_lines_carry_the_request_id(
    settings: Settings, access_log: pytest.LogCaptureFixture
) -> None:
    proxy = (ipaddress.ip_network("203.0.113.5/32"),)
    async with (
        serving(settings, trusted_proxies=proxy) as application,
        peer(application, "203.0.113.5") as client,
    ):
        kept = await client.get("/healthz", headers={"X-Request-ID": "deploy-4711-abc"})
        generated = await client.get("/nope")
        ray = await client.get("/healthz", headers={"CF-Ray": "8a1b2c3d4e5f6789-AMS"})
    lines = access_lines(access_log)
    assert [r.__dict__["seen_request_id"] for r in lines] == [
        "deploy-4711-abc",
        generated.headers["x-request-id"],
        "8a1b2c3d4e5f6789-AMS",
    ]
    assert kept.headers["x-request-id"] == "deploy-4711-abc"
    assert ray.headers["x-request-id"] == "8a1b2c3d4e5f6789-AMS"
    assert GENERATED.fullmatch(generated.headers["x-request-id"])
    assert [r.__dict__["client"] for r in lines] == ["203.0.113.5"] * 3


async def test_other_scopes_pass_through_untouched() -> None:
    seen: list[Scope] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await Front(inner, RequestContext(PROXIES), None)(scope, _no_receive, _no_send)
    assert seen == [{"type": "lifespan", "asgi": {"version": "3.0"}}]  # no state, no id
