"""Licences on the update path: who gets what, refusals, the edge's classes, signed links."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ferryman import auth
from ferryman.edge_cache import EdgeCache
from ferryman.models import Artifact, Release
from ferryman.models import generation as generations
from ferryman.models import license as licenses
from ferryman.models import preview as previews
from ferryman.models import rollout as rollouts
from ferryman.models.actor import KeyScope
from ferryman.models.preview import SkipReason
from ferryman.models.status import ExpiredPolicy
from ferryman.rest_compat.entitlement import VERDICT
from ferryman.rest_compat.tauri import CheckRule
from ferryman.settings import Settings
from tests.conftest import GraphQL, make_key, peer, serving
from tests.support.licences import CONSOLE, DAY, licensed_app, new_license
from tests.support.shipping import Shipyard

SLUG = "paid-app"
LINUX = ["linux-x86_64"]
CHECK = f"/{SLUG}/update/linux/x86_64"

# Each release's effective date, in days before the test's start. P1, a licence's first
# period, runs from 500 to 135 days ago; 1.2.0 is dated exactly at its end.
RELEASE_AGES = {
    "1.0.0": 600,  # before the licence began
    "1.1.0": 300,  # inside P1
    "1.2.0": 135,  # at P1's end (inclusive)
    "1.3.0": 120,  # after P1: in the gap of a lapsed or renewed-later licence
    "1.4.0": 50,  # inside a renewal that started 100 days ago
    "1.5.0": 1,  # recent
}
ALL = set(RELEASE_AGES)
P1_ONLY = {"1.0.0", "1.1.0", "1.2.0"}


@dataclasses.dataclass(frozen=True)
class State:
    """A licence's periods (start and end, in days before now; negative: in the future),
    its status, and the app's grace days."""

    periods: tuple[tuple[int, int], ...]
    grace_days: int = 10
    suspended: bool = False
    revoked: bool = False


STATES = {
    "current": State(((500, 135), (135, -230))),
    "in-grace": State(((500, 135),), grace_days=200),
    "lapsed": State(((500, 135),)),
    "renewed-after-gap": State(((500, 135), (100, -265))),
    "suspended": State(((500, 135), (135, -230)), suspended=True),
    "revoked": State(((500, 135), (135, -230)), revoked=True),
}

# policy x state -> the releases covered, or the refusal status
EXPECTED: dict[tuple[ExpiredPolicy, str], set[str] | int] = {
    (ExpiredPolicy.REVOKE, "current"): ALL,
    (ExpiredPolicy.MAINTAIN, "current"): ALL,
    (ExpiredPolicy.ALLOW, "current"): ALL,
    (ExpiredPolicy.REVOKE, "in-grace"): P1_ONLY,
    (ExpiredPolicy.MAINTAIN, "in-grace"): P1_ONLY,
    (ExpiredPolicy.ALLOW, "in-grace"): ALL,
    (ExpiredPolicy.REVOKE, "lapsed"): set(),
    (ExpiredPolicy.MAINTAIN, "lapsed"): P1_ONLY,
    (ExpiredPolicy.ALLOW, "lapsed"): ALL,
    (ExpiredPolicy.REVOKE, "renewed-after-gap"): ALL - {"1.3.0"},
    (ExpiredPolicy.MAINTAIN, "renewed-after-gap"): ALL - {"1.3.0"},
    (ExpiredPolicy.ALLOW, "renewed-after-gap"): ALL,
    **{(policy, "suspended"): 403 for policy in ExpiredPolicy},
    **{(policy, "revoked"): 403 for policy in ExpiredPolicy},
}


@pytest.fixture
async def yard(client: httpx.AsyncClient, gql: GraphQL, admin_key: str) -> Shipyard:
    """paid-app, shipping through the real upload path (the tests make it LICENSED)."""
    return await Shipyard.open(client, gql, admin_key, SLUG)


async def dated_releases(yard: Shipyard, now: datetime, ages: dict[str, int]) -> None:
    """Publish releases, then date each as if it had been published ``age`` days ago."""
    for version, age in ages.items():
        release_id = await yard.release(version, LINUX)
        await Release.filter(id=release_id).update(pub_date=now - age * DAY)
    generations.announce(yard.slug)  # the rows changed under the resolver


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def offered(client: httpx.AsyncClient, current: str, headers: dict[str, str]) -> Any:
    response = await client.get(f"{CHECK}/{current}", headers=headers)
    if response.status_code == 204:
        return None
    if response.status_code != 200:
        return response.status_code
    return response.json()["version"]


@pytest.mark.parametrize(
    ("policy", "state"), list(EXPECTED), ids=lambda v: str(getattr(v, "value", v))
)
async def test_every_policy_licence_state_and_release_date(
    client: httpx.AsyncClient, yard: Shipyard, policy: ExpiredPolicy, state: str
) -> None:
    now = datetime.now(UTC)
    shape = STATES[state]
    paid = await licensed_app(SLUG, policy, shape.grace_days)
    await dated_releases(yard, now, RELEASE_AGES)
    key, license = await new_license(paid, now, shape.periods)
    if shape.suspended:
        await licenses.suspend(CONSOLE, license.id, "unpaid invoice")
    if shape.revoked:
        await licenses.revoke(CONSOLE, license.id, "chargeback")
    expected = EXPECTED[(policy, state)]

    # The update route, as the installed app sees it.
    answer = await offered(client, "0.0.1", bearer(key))
    # updatePreview's explanation of every release, judged by the same rule.
    install = previews.Install("linux", "x86_64", None, "0.0.1", license_hash=auth.hash_key(key))
    preview = await previews.preview(CONSOLE, paid.id, install)

    if isinstance(expected, int):
        assert answer == expected
        assert preview.status == expected
        assert {s.reason for s in preview.skipped} == {SkipReason.LICENSE}
        return
    newest = max(expected, key=lambda v: tuple(map(int, v.split(".")))) if expected else None
    assert answer == newest
    covered = {s.release.version for s in preview.skipped if s.reason is SkipReason.SUPERSEDED}
    if preview.choice is not None:
        covered.add(str(preview.choice.offer.version))
    assert covered == expected
    uncovered = {s.release.version for s in preview.skipped if s.reason is SkipReason.LICENSE}
    assert uncovered == ALL - expected


async def test_a_lapsed_yearly_licence_is_moved_up_to_its_last_covered_release_then_204(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    now = datetime.now(UTC)
    paid = await licensed_app(SLUG, ExpiredPolicy.MAINTAIN)
    await dated_releases(yard, now, {"1.0.0": 400, "1.1.0": 200, "1.2.0": 100, "1.3.0": 10})
    key, _ = await new_license(paid, now, [(400, 35)])  # a year that ended 35 days ago

    assert await offered(client, "1.0.0", bearer(key)) == "1.2.0"
    assert await offered(client, "1.2.0", bearer(key)) is None

    # A security fix published today but dated back by an admin reaches them.
    fix = await yard.release("1.2.1", LINUX)
    await rollouts.set_coverage_date(CONSOLE, fix, now - 50 * DAY, "CVE fix for lapsed users")
    assert await offered(client, "1.2.0", bearer(key)) == "1.2.1"


@pytest.mark.parametrize(
    ("headers", "status", "says"),
    [
        ({}, 401, "need a licence"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "malformed Authorization"),
        ({"X-License-Key": "lk_short"}, 401, "malformed licence key"),
        ({"X-License-Key": "lk_" + "Z" * 40}, 401, "not a licence of paid-app"),
    ],
    ids=["none", "basic-auth", "malformed", "unknown"],
)
async def test_a_check_without_a_usable_licence_is_401_and_never_cached(
    client: httpx.AsyncClient, yard: Shipyard, headers: dict[str, str], status: int, says: str
) -> None:
    await licensed_app(SLUG)
    await yard.release("1.0.0", LINUX)

    for _ in range(2):
        response = await client.get(f"{CHECK}/0.9.0", headers=headers)

        assert response.status_code == status
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"
        assert says in response.json()["error"]["message"]
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["cf-cache-status"] == "DYNAMIC"


async def test_a_licence_of_another_app_is_refused(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    now = datetime.now(UTC)
    await licensed_app(SLUG)
    other = await licensed_app("other-app")
    await yard.release("1.0.0", LINUX)
    key, _ = await new_license(other, now)

    response = await client.get(f"{CHECK}/0.9.0", headers=bearer(key))

    assert response.status_code == 401
    assert "not a licence of paid-app" in response.json()["error"]["message"]


async def test_suspension_is_403_at_once_and_reactivation_lifts_it(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    now = datetime.now(UTC)
    paid = await licensed_app(SLUG)
    await yard.release("1.0.0", LINUX)
    key, license = await new_license(paid, now)
    headers = {"X-License-Key": key}
    assert await offered(client, "0.9.0", headers) == "1.0.0"

    await licenses.suspend(CONSOLE, license.id, "unpaid")
    response = await client.get(f"{CHECK}/0.9.0", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == f"licence {license.prefix}… is suspended"
    assert response.headers["cache-control"] == "no-store"

    await licenses.reactivate(CONSOLE, license.id)
    assert await offered(client, "0.9.0", headers) == "1.0.0"

    await licenses.revoke(CONSOLE, license.id, "refunded")
    assert await offered(client, "0.9.0", headers) == 403


async def test_licences_of_one_class_share_one_cache_entry(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    now = datetime.now(UTC)
    paid = await licensed_app(SLUG)
    await dated_releases(yard, now, {"1.0.0": 300, "1.1.0": 10})
    current = [await new_license(paid, now) for _ in range(5)]
    lapsed, _ = await new_license(paid, now, [(400, 35)])

    answers = [await client.get(f"{CHECK}/0.9.0", headers=bearer(key)) for key, _ in current]

    assert [a.headers["cf-cache-status"] for a in answers] == ["MISS"] + ["HIT"] * 4
    assert {a.json()["version"] for a in answers} == {"1.1.0"}
    other = await client.get(f"{CHECK}/0.9.0", headers=bearer(lapsed))
    assert other.headers["cf-cache-status"] == "MISS"  # another class, another entry
    assert other.json()["version"] == "1.0.0"


async def test_the_origin_sees_the_class_never_the_licence(app: Starlette, yard: Shipyard) -> None:
    now = datetime.now(UTC)
    paid = await licensed_app(SLUG)
    await yard.release("1.0.0", LINUX)
    keys = [(await new_license(paid, now))[0] for _ in range(3)]
    seen: list[Scope] = []

    async def origin(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        answer = Response(b"{}", headers={"Cloudflare-CDN-Cache-Control": "max-age=60"})
        await answer(scope, receive, send)

    edge = EdgeCache(
        origin, rule=CheckRule(app.state.resolver, app.state.cache_policy), credentials=True
    )
    transport = httpx.ASGITransport(app=edge)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for index, key in enumerate(keys):
            sent = bearer(key) if index % 2 else {"X-License-Key": key}
            response = await client.get(f"{CHECK}/0.9.0", headers=sent)
            assert response.status_code == 200

    assert len(seen) == 1  # one class, one origin call
    names = {name for name, _ in seen[0]["headers"]}
    assert names == {b"host"}
    assert seen[0]["state"][VERDICT] == frozenset()
    assert all(key.encode() not in repr(seen[0]).encode() for key in keys)


async def test_an_open_app_ignores_licence_headers_and_still_caches(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str
) -> None:
    free = await Shipyard.open(client, gql, admin_key, "free-app")
    await free.release("1.0.0", LINUX)
    path = "/free-app/update/linux/x86_64/0.9.0"

    first = await client.get(path, headers=bearer("lk_" + "a" * 40))
    second = await client.get(path, headers={"Authorization": "Bearer anything"})

    assert first.status_code == second.status_code == 200
    assert second.headers["cf-cache-status"] == "HIT"


async def test_licensed_downloads_need_a_fresh_signed_link(
    client: httpx.AsyncClient, app: Starlette, yard: Shipyard
) -> None:
    now = datetime.now(UTC)
    paid = await licensed_app(SLUG)
    await yard.release("1.0.0", LINUX)
    key, _ = await new_license(paid, now)

    manifest = (await client.get(f"{CHECK}/0.9.0", headers=bearer(key))).json()
    link = httpx.URL(manifest["url"])
    assert link.path == f"/dl/{paid.id}/1.0.0/linux-x86_64"  # the app by its id: see renames
    assert set(link.params) == {"expires", "token"}
    assert int(link.params["expires"]) >= now.timestamp() + 3600

    followed = await client.get(link.raw_path.decode())  # no licence header needed
    assert followed.status_code == 302
    assert "X-Amz-Signature=" in followed.headers["location"]  # presigned, not public

    bare = await client.get(link.path)
    tampered = await client.get(
        link.copy_set_param("token", "A" + link.params["token"][1:]).raw_path.decode()
    )
    expired_at = int(now.timestamp()) - 60
    links = app.state.resolver.links
    expired = await client.get(
        httpx.URL(links.url(paid.id, "1.0.0", "linux-x86_64", expired_at)).raw_path.decode()
    )
    for refused, says in (
        (bare, "need a signed link"),
        (tampered, "does not match"),
        (expired, "has expired"),
    ):
        assert refused.status_code == 403
        assert says in refused.json()["error"]["message"]


async def test_an_open_apps_manifest_keeps_its_stored_urls(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    release_id = await yard.release("1.0.0", LINUX)

    manifest = (await client.get(f"{CHECK}/0.9.0")).json()

    stored = await Artifact.get(release_id=release_id)
    assert manifest["url"] == stored.download_url
    assert "token=" not in manifest["url"]


async def test_without_the_built_in_edge_a_cdn_is_told_not_to_keep_licensed_answers(
    settings: Settings,
) -> None:
    async with serving(settings, edge_cache_bytes=0) as application, peer(application) as client:
        now = datetime.now(UTC)
        gql, admin = GraphQL(client), await make_key(KeyScope.ADMIN)
        for slug in (SLUG, "free-app"):
            await (await Shipyard.open(client, gql, admin, slug)).release("1.0.0", LINUX)
        paid = await licensed_app(SLUG)
        key, _ = await new_license(paid, now)

        licensed = await client.get(f"{CHECK}/0.9.0", headers=bearer(key))
        free = await client.get("/free-app/update/linux/x86_64/0.9.0")

    assert licensed.status_code == free.status_code == 200
    # A URL-keyed CDN would hand this customer's answer to every other one.
    assert licensed.headers["cloudflare-cdn-cache-control"] == "no-store"
    assert free.headers["cloudflare-cdn-cache-control"].startswith("max-age=")
