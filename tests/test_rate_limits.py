"""Rate limits on the real app: one token bucket per door and holder, answered with 429.

Apps are built with small budgets and spoken to from chosen peer addresses (httpx's
ASGITransport ``client=``). Refilling is tested on :class:`TokenBuckets` with explicit
clock values, so nothing here waits for a minute to pass. Releases are rows written directly
(:mod:`tests.support.rows`): shipping them would spend the budgets under test.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from ferryman.models import App, DownloadCount
from ferryman.models import app as apps
from ferryman.models.actor import Actor, KeyScope
from ferryman.rate_limits import TokenBuckets
from ferryman.settings import Settings
from tests.conftest import make_key, peer, serving
from tests.support import rows
from tests.support.database import snapshot
from tests.support.documents import APP_CREATE, APPS

HOME = "203.0.113.10"  # the address most tests speak from
AWAY = "198.51.100.20"  # somebody else
UNKNOWN_KEY = "uk_live_" + "Z" * 40


async def download() -> str:
    """The download link of my-app's 1.1.0 for Linux (links name the app by its id)."""
    app = await App.get(slug="my-app")
    return f"/dl/{app.id}/1.1.0/linux-x86_64"


async def graphql(
    client: httpx.AsyncClient,
    query: str = APPS,
    variables: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    authorization: str | None = None,
) -> httpx.Response:
    headers = {}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if authorization is not None:
        headers["Authorization"] = authorization
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


async def submit(
    client: httpx.AsyncClient, key: str | None, version: str = "1.0.0", slug: str = "my-app"
) -> httpx.Response:
    """The seed's CI submission: a draft release with no artifacts yet."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await client.post(
        f"/ci/apps/{slug}/releases",
        json={"version": version, "notes": None, "artifacts": [], "auto_publish": False},
        headers=headers,
    )


async def check(client: httpx.AsyncClient, current: str = "1.0.0") -> httpx.Response:
    return await client.get(f"/my-app/update/linux/x86_64/{current}")


def limited(door: str, budget: str) -> float:
    """``ferryman_rate_limited_total{door, budget}`` in this process so far."""
    value = REGISTRY.get_sample_value(
        "ferryman_rate_limited_total", {"door": door, "budget": budget}
    )
    return value or 0.0


def refusal(response: httpx.Response, door: str) -> tuple[str, int]:
    """Check a 429 as documented; returns its message and Retry-After."""
    assert response.status_code == 429, response.text
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    seconds = int(retry_after)
    assert 1 <= seconds <= 60
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    assert len(response.headers["x-request-id"]) >= 8
    body = response.json()
    if door == "graphql":
        assert set(body) == {"data", "errors"}, body
        assert body["data"] is None
        assert len(body["errors"]) == 1, body
        error = body["errors"][0]
        assert error["extensions"] == {"code": "RATE_LIMITED"}, error
    else:
        assert set(body) == {"error"}, body
        error = body["error"]
        assert set(error) == {"code", "message"}, error
        assert error["code"] == "RATE_LIMITED"
    message: str = error["message"]
    assert message.endswith(f"try again in {seconds} s"), message
    return message, seconds


def over_budget(response: httpx.Response, door: str, per_minute: int, holder: str) -> None:
    """A 429 for the ``door`` budget of ``per_minute`` requests per ``holder``."""
    message, seconds = refusal(response, door)
    assert message.startswith(f"rate limit for {door} exceeded: "), message
    assert f"at most {per_minute} requests a minute per {holder};" in message
    # Spent within a second or so: the next token is close to 60/per_minute seconds away.
    assert seconds <= math.ceil(60 / per_minute)


def locked_out(response: httpx.Response, door: str) -> None:
    """A 429 for too many failed authentications from the client's address."""
    message, _ = refusal(response, door)
    assert message.startswith("too many failed authentications from this address;"), message


# --- each door's budget ------------------------------------------------------------------


async def test_graphql_without_a_key_gets_n_requests_per_address(settings: Settings) -> None:
    async with (
        serving(settings, rate_limit_graphql=3) as application,
        peer(application, HOME) as client,
    ):
        before = limited("graphql", "ip")
        answers = [await graphql(client, "{ __typename }") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        over_budget(await graphql(client, "{ __typename }"), "graphql", 3, "address")
        over_budget(await graphql(client, "{ __typename }"), "graphql", 3, "address")
        assert limited("graphql", "ip") == before + 2


async def test_graphql_with_a_key_gets_n_requests_per_key(settings: Settings) -> None:
    async with (
        serving(settings, rate_limit_graphql=3) as application,
        peer(application, HOME) as client,
    ):
        key = await make_key(KeyScope.ADMIN)
        before = limited("graphql", "key")
        for _ in range(3):
            answer = await graphql(client, key=key)
            assert answer.status_code == 200
            assert answer.json() == {"data": {"apps": {"totalCount": 0}}}
        over_budget(await graphql(client, key=key), "graphql", 3, "API key")
        assert limited("graphql", "key") == before + 1


async def test_ci_submissions_get_n_requests_per_key(settings: Settings) -> None:
    async with serving(settings, rate_limit_ci=2) as application, peer(application, HOME) as client:
        created = await apps.create(Actor.console(), apps.AppChanges(slug="my-app", name="App"))
        key = await make_key(KeyScope.CI, created.id)
        before = limited("ci", "key")
        assert (await submit(client, key)).status_code == 201
        assert (await submit(client, key)).status_code == 200  # the same again: unchanged
        over_budget(await submit(client, key), "ci", 2, "API key")
        assert limited("ci", "key") == before + 1


async def test_downloads_get_n_requests_per_address(settings: Settings) -> None:
    async with (
        serving(settings, rate_limit_downloads=3) as application,
        peer(application, HOME) as client,
    ):
        await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        before = limited("downloads", "ip")
        answers = [await client.get(await download()) for _ in range(3)]
        assert [a.status_code for a in answers] == [302, 302, 302]
        over_budget(await client.get(await download()), "downloads", 3, "address")
        assert limited("downloads", "ip") == before + 1
        await application.state.recorder.flush()
        counted = await DownloadCount.all().values_list("downloads", flat=True)
        assert counted == [3]  # the refused one is not counted


async def test_update_checks_are_charged_only_for_edge_cache_misses(settings: Settings) -> None:
    async with (
        serving(settings, rate_limit_updates=2) as application,
        peer(application, HOME) as client,
    ):
        await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        before = limited("updates", "ip")
        first = await check(client, "1.0.0")
        assert (first.status_code, first.headers["cf-cache-status"]) == (200, "MISS")
        for _ in range(10):  # HITs never reach the rate limits
            hit = await check(client, "1.0.0")
            assert (hit.status_code, hit.headers["cf-cache-status"]) == (200, "HIT")
        second = await check(client, "0.9.0")
        assert (second.status_code, second.headers["cf-cache-status"]) == (200, "MISS")
        over_budget(await check(client, "0.8.0"), "updates", 2, "address")
        # Over budget, what the edge already holds is still served.
        hit = await check(client, "0.9.0")
        assert (hit.status_code, hit.headers["cf-cache-status"]) == (200, "HIT")
        assert limited("updates", "ip") == before + 1


async def test_without_the_edge_cache_every_update_check_is_charged(settings: Settings) -> None:
    async with (
        serving(settings, rate_limit_updates=2, edge_cache_bytes=0) as application,
        peer(application, HOME) as client,
    ):
        await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        assert (await check(client)).status_code == 200
        assert (await check(client)).status_code == 200
        over_budget(await check(client), "updates", 2, "address")


# --- who shares a budget ---------------------------------------------------------------


async def test_each_door_has_its_own_budget(settings: Settings) -> None:
    limits = {
        "rate_limit_graphql": 1,
        "rate_limit_ci": 1,
        "rate_limit_downloads": 1,
        "rate_limit_updates": 1,
    }
    async with serving(settings, **limits) as application, peer(application, HOME) as client:
        await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        # One request through every door: none is charged for another's.
        assert (await graphql(client, "{ __typename }")).status_code == 200
        assert (await submit(client, None)).status_code == 401
        assert (await client.get(await download())).status_code == 302
        assert (await check(client, "1.0.0")).status_code == 200
        # The second through each is refused, by that door's budget.
        over_budget(await graphql(client, "{ __typename }"), "graphql", 1, "address")
        over_budget(await submit(client, None), "ci", 1, "address")
        over_budget(await client.get(await download()), "downloads", 1, "address")
        over_budget(await check(client, "0.9.0"), "updates", 1, "address")


async def test_probes_are_never_limited(settings: Settings) -> None:
    limits = {f"rate_limit_{door}": 1 for door in ("graphql", "ci", "downloads", "updates")}
    async with serving(settings, **limits) as application, peer(application, HOME) as client:
        answers = [await client.get("/healthz") for _ in range(20)]
        assert {a.status_code for a in answers} == {200}


async def test_each_client_address_has_its_own_budget(settings: Settings) -> None:
    async with (
        serving(settings, rate_limit_downloads=2) as application,
        peer(application, HOME, 50000) as home,
        peer(application, HOME, 50001) as home_again,
        peer(application, AWAY) as away,
    ):
        await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        assert (await home.get(await download())).status_code == 302
        assert (
            await home_again.get(await download())
        ).status_code == 302  # another port: same budget
        over_budget(await home.get(await download()), "downloads", 2, "address")
        over_budget(await home_again.get(await download()), "downloads", 2, "address")
        assert (await away.get(await download())).status_code == 302
        assert (await away.get(await download())).status_code == 302
        over_budget(await away.get(await download()), "downloads", 2, "address")


async def test_each_api_key_has_its_own_budget_apart_from_its_address(
    settings: Settings,
) -> None:
    async with (
        serving(settings, rate_limit_graphql=2) as application,
        peer(application, HOME) as home,
        peer(application, AWAY) as away,
    ):
        first = await make_key(KeyScope.ADMIN, name="first")
        second = await make_key(KeyScope.ADMIN, name="second")
        for _ in range(2):
            assert (await graphql(home, key=first)).status_code == 200
        over_budget(await graphql(home, key=first), "graphql", 2, "API key")
        # The key's budget follows the key, wherever it is used from ...
        over_budget(await graphql(away, key=first), "graphql", 2, "API key")
        # ... and another key, or no key, from the same address starts afresh.
        for _ in range(2):
            assert (await graphql(home, key=second)).status_code == 200
        for _ in range(2):
            assert (await graphql(home, "{ __typename }")).status_code == 200
        over_budget(await graphql(home, "{ __typename }"), "graphql", 2, "address")
        # Keyless requests spent the address's budget, not the keys'.
        over_budget(await graphql(home, key=second), "graphql", 2, "API key")


async def test_spelling_the_authorization_header_differently_buys_no_budget(
    settings: Settings,
) -> None:
    """One key is one budget however its header is written. ``bearer_token`` accepts the
    scheme in any case and any spaces before the key, so each spelling authenticates as
    the same key; charging the raw header would give one key any number of budgets."""
    async with (
        serving(settings, rate_limit_graphql=2) as application,
        peer(application, HOME) as client,
    ):
        key = await make_key(KeyScope.ADMIN)
        spellings = [f"Bearer {key}", f"bearer {key}", f"BEARER {key}", f"Bearer  {key}"]
        answers = [await graphql(client, authorization=header) for header in spellings]
        assert [a.status_code for a in answers[:2]] == [200, 200]
        assert answers[0].json() == answers[1].json() == {"data": {"apps": {"totalCount": 0}}}
        for answer in answers[2:]:
            over_budget(answer, "graphql", 2, "API key")


@pytest.mark.parametrize("door", ["downloads", "updates"])
async def test_an_authorization_header_buys_no_budget_on_the_public_doors(
    settings: Settings, door: str
) -> None:
    """Downloads and update checks are limited per address (deploy/env.example). They take
    no key, so a made-up Authorization header must not open a fresh budget."""
    limits = {"rate_limit_downloads": 2, "rate_limit_updates": 2, "edge_cache_bytes": 0}
    async with serving(settings, **limits) as application, peer(application, HOME) as client:
        await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        path = await download() if door == "downloads" else "/my-app/update/linux/x86_64/1.0.0"
        assert (await client.get(path)).status_code in (200, 302)
        assert (await client.get(path)).status_code in (200, 302)
        over_budget(await client.get(path), door, 2, "address")
        for n in range(3):
            made_up = {"Authorization": f"Bearer anything-{n}"}
            over_budget(await client.get(path, headers=made_up), door, 2, "address")


async def test_ipv6_clients_share_a_budget_per_64(settings: Settings) -> None:
    async with (
        serving(settings, rate_limit_graphql=2) as application,
        peer(application, "2001:db8:1:2::1") as one,
        peer(application, "2001:db8:1:2:ffff:eeee:dddd:cccc") as same_64,
        peer(application, "2001:db8:1:3::1") as next_64,
    ):
        assert (await graphql(one, "{ __typename }")).status_code == 200
        assert (await graphql(same_64, "{ __typename }")).status_code == 200
        over_budget(await graphql(one, "{ __typename }"), "graphql", 2, "address")
        over_budget(await graphql(same_64, "{ __typename }"), "graphql", 2, "address")
        assert (await graphql(next_64, "{ __typename }")).status_code == 200
        assert (await graphql(next_64, "{ __typename }")).status_code == 200
        over_budget(await graphql(next_64, "{ __typename }"), "graphql", 2, "address")


async def test_ipv4_clients_of_a_dual_stack_listener_do_not_share_a_budget(
    settings: Settings,
) -> None:
    """A server listening on ``::`` sees IPv4 clients as IPv4-mapped IPv6 addresses
    (``::ffff:a.b.c.d``); each is still one IPv4 client, not a member of ``::/64``."""
    async with (
        serving(settings, rate_limit_graphql=1) as application,
        peer(application, "::ffff:203.0.113.10") as one,
        peer(application, "::ffff:198.51.100.20") as other,
    ):
        assert (await graphql(one, "{ __typename }")).status_code == 200
        over_budget(await graphql(one, "{ __typename }"), "graphql", 1, "address")
        assert (await graphql(other, "{ __typename }")).status_code == 200


async def test_zero_turns_a_limit_off(settings: Settings) -> None:
    async with (
        serving(settings, rate_limit_graphql=0, rate_limit_downloads=1) as application,
        peer(application, HOME) as client,
    ):
        await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        answers = await asyncio.gather(*(graphql(client, "{ __typename }") for _ in range(50)))
        assert {a.status_code for a in answers} == {200}
        # The other limits of the same app still apply.
        assert (await client.get(await download())).status_code == 302
        over_budget(await client.get(await download()), "downloads", 1, "address")


async def test_every_limit_off(settings: Settings) -> None:
    limits = {
        f"rate_limit_{name}": 0
        for name in ("graphql", "ci", "downloads", "updates", "auth_failures")
    }
    async with serving(settings, **limits) as application, peer(application, HOME) as client:
        await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        key = await make_key(KeyScope.ADMIN)
        for n in range(30):
            assert (await graphql(client, key=UNKNOWN_KEY)).status_code == 200
            assert (await submit(client, UNKNOWN_KEY)).status_code == 401
            assert (await client.get(await download())).status_code == 302
            miss = await check(client, f"0.{n}.0")
            assert (miss.status_code, miss.headers["cf-cache-status"]) == (200, "MISS")
        assert (await graphql(client, key=key)).json() == {"data": {"apps": {"totalCount": 1}}}


# --- failed authentications ------------------------------------------------------------


async def test_failed_authentications_lock_the_address_out_of_graphql_and_ci(
    settings: Settings,
) -> None:
    async with (
        serving(settings, rate_limit_auth_failures=3) as application,
        peer(application, HOME) as home,
        peer(application, AWAY) as away,
    ):
        created = await apps.create(Actor.console(), apps.AppChanges(slug="my-app", name="App"))
        admin = await make_key(KeyScope.ADMIN)
        ci = await make_key(KeyScope.CI, created.id)
        await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        graphql_before = limited("graphql", "auth_failures")
        ci_before = limited("ci", "auth_failures")

        # Failures count on both doors, with an unknown key or a malformed header.
        refused = await graphql(home, key=UNKNOWN_KEY)
        assert refused.status_code == 200
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await submit(home, UNKNOWN_KEY)).status_code == 401
        assert (await graphql(home, authorization="Bearer nope")).status_code == 200

        # Now even a valid key is refused from that address, on either door ...
        locked_out(await graphql(home, key=admin), "graphql")
        locked_out(await submit(home, ci), "ci")
        locked_out(await graphql(home, "{ __typename }"), "graphql")
        assert limited("graphql", "auth_failures") == graphql_before + 2
        assert limited("ci", "auth_failures") == ci_before + 1
        # ... while the updater's doors stay open to it,
        assert (await home.get(await download())).status_code == 302
        assert (await check(home, "1.0.0")).status_code == 200
        # and another address with a valid key is served.
        assert (await graphql(away, key=admin)).json() == {"data": {"apps": {"totalCount": 1}}}
        assert (await submit(away, ci)).status_code == 201


async def test_requests_without_credentials_are_not_failed_authentications(
    settings: Settings,
) -> None:
    async with (
        serving(settings, rate_limit_auth_failures=2) as application,
        peer(application, HOME) as client,
    ):
        await apps.create(Actor.console(), apps.AppChanges(slug="my-app", name="App"))
        admin = await make_key(KeyScope.ADMIN)
        for _ in range(5):
            refused = await graphql(client)  # needs a key, sends none
            assert refused.status_code == 200
            assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert (await submit(client, None)).status_code == 401
        for _ in range(5):  # successful ones do not count either
            assert (await graphql(client, key=admin)).status_code == 200
        assert (await graphql(client, key=admin)).json() == {"data": {"apps": {"totalCount": 1}}}
        # Two failures are within the budget; the third request after them is refused.
        assert (await graphql(client, key=UNKNOWN_KEY)).status_code == 200
        assert (await graphql(client, key=UNKNOWN_KEY)).status_code == 200
        locked_out(await graphql(client, key=admin), "graphql")


# --- what a 429 does and does not do ---------------------------------------------------


async def test_a_refused_request_changes_nothing(settings: Settings) -> None:
    async with (
        serving(settings, rate_limit_graphql=1, rate_limit_ci=1) as application,
        peer(application, HOME) as client,
    ):
        admin = await make_key(KeyScope.ADMIN)
        created = await graphql(
            client, APP_CREATE, {"input": {"slug": "my-app", "name": "My App"}}, key=admin
        )
        assert created.json()["data"]["appCreate"]["app"]["id"].startswith("app_")
        ci = await make_key(KeyScope.CI, (await App.get(slug="my-app")).id)
        assert (await submit(client, ci, "1.0.0")).status_code == 201
        before = await snapshot()

        over_budget(
            await graphql(
                client, APP_CREATE, {"input": {"slug": "other-app", "name": "Other"}}, key=admin
            ),
            "graphql",
            1,
            "API key",
        )
        over_budget(await submit(client, ci, "2.0.0"), "ci", 1, "API key")

        assert await snapshot() == before


async def test_a_refused_update_check_is_never_cached(settings: Settings) -> None:
    async with (
        serving(settings, rate_limit_updates=1) as application,
        peer(application, HOME) as home,
        peer(application, AWAY) as away,
    ):
        await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        assert (await check(home, "0.1.0")).status_code == 200
        refused = await check(home, "1.0.0")
        over_budget(refused, "updates", 1, "address")
        assert refused.headers.get("cf-cache-status") != "HIT"
        # The next client asking the same thing gets the answer, not the 429.
        served = await check(away, "1.0.0")
        assert (served.status_code, served.headers["cf-cache-status"]) == (200, "MISS")
        assert served.json()["version"] == "1.1.0"
        # Which is cached now, for everyone: the refused client included.
        hit = await check(home, "1.0.0")
        assert (hit.status_code, hit.headers["cf-cache-status"]) == (200, "HIT")


async def test_a_429_is_not_handed_to_a_client_sharing_the_origin_call(
    settings: Settings,
) -> None:
    async with (
        serving(settings, rate_limit_updates=1) as application,
        peer(application, HOME) as home,
        peer(application, AWAY) as away,
    ):
        await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        assert (await check(home, "0.1.0")).status_code == 200
        # Asked at once, the two share one origin call (the edge coalesces misses); the
        # home client's 429 is not shareable, so the other gets an answer of its own.
        refused, served = await asyncio.gather(check(home, "1.0.0"), check(away, "1.0.0"))
        over_budget(refused, "updates", 1, "address")
        assert served.status_code == 200
        assert served.json()["version"] == "1.1.0"
        hit = await check(home, "1.0.0")
        assert (hit.status_code, hit.headers["cf-cache-status"]) == (200, "HIT")


async def test_a_429_to_a_browser_carries_cors_headers(settings: Settings) -> None:
    origin = "https://admin.example.com"
    async with (
        serving(settings, rate_limit_graphql=1, cors_origins=(origin,)) as application,
        peer(application, HOME) as client,
    ):
        query = {"query": "{ __typename }"}
        first = await client.post("/graphql", json=query, headers={"Origin": origin})
        assert first.status_code == 200
        refused = await client.post("/graphql", json=query, headers={"Origin": origin})
        over_budget(refused, "graphql", 1, "address")
        assert refused.headers["access-control-allow-origin"] == origin
        exposed = refused.headers["access-control-expose-headers"].lower()
        assert "retry-after" in exposed.replace(" ", "").split(",")


# --- the buckets themselves ------------------------------------------------------------


def test_a_bucket_holds_a_minute_of_requests_and_says_how_long_to_wait() -> None:
    buckets = TokenBuckets(per_minute=3)
    assert [buckets.take("a", now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", now=100.0) == pytest.approx(20.0)
    assert buckets.take("a", now=105.0) == pytest.approx(15.0)  # refusals spend nothing
    assert buckets.wait("a", now=110.0) == pytest.approx(10.0)
    assert buckets.take("a", now=119.0) == pytest.approx(1.0)
    assert buckets.take("a", now=120.0) == 0.0  # refilled after the wait it was told
    assert buckets.take("a", now=120.0) == pytest.approx(20.0)
    assert buckets.take("b", now=120.0) == 0.0  # another holder, another bucket


def test_waiting_spends_nothing() -> None:
    buckets = TokenBuckets(per_minute=2)
    assert buckets.wait("a", now=0.0) == 0.0  # an unknown holder may go ahead
    for _ in range(10):
        assert buckets.wait("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) == 0.0
    assert buckets.wait("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) == 0.0
    for _ in range(10):
        assert buckets.wait("a", now=0.0) == pytest.approx(30.0)
    assert buckets.wait("a", now=29.0) == pytest.approx(1.0)
    assert buckets.take("a", now=30.0) == 0.0


def test_a_bucket_never_holds_more_than_a_minute_of_requests() -> None:
    buckets = TokenBuckets(per_minute=4)
    assert buckets.take("a", now=0.0) == 0.0
    # A long idle spell refills it to four, not to hours' worth.
    taken = [buckets.take("a", now=3600.0) for _ in range(5)]
    assert taken[:4] == [0.0] * 4
    assert taken[4] == pytest.approx(15.0)
    assert buckets.wait("a", now=3600.0 + 10_000) == 0.0
    assert [buckets.take("a", now=3600.0 + 10_000) for _ in range(5)][4] == pytest.approx(15.0)


def test_refill_is_continuous() -> None:
    buckets = TokenBuckets(per_minute=60)  # one a second
    for _ in range(60):
        assert buckets.take("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) == pytest.approx(1.0)
    assert buckets.take("a", now=0.5) == pytest.approx(0.5)
    assert buckets.take("a", now=1.0) == 0.0
    assert buckets.take("a", now=1.0) == pytest.approx(1.0)
    for second in range(2, 12):
        assert buckets.take("a", now=float(second)) == 0.0
