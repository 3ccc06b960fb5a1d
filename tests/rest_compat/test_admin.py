"""The seed's admin REST API as a whole: its own examples replayed, a release shipped through
it to a real update check, and what every endpoint shares (keys, routing, the door's budget
and metrics). The nouns' own rules are in test_admin_apps, _releases and _artifacts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from ferryman.doors import Door, door_of
from ferryman.metrics import TALLY
from ferryman.models import App
from ferryman.models.actor import KeyScope
from ferryman.models.ids import new_id
from ferryman.settings import Settings
from tests import tauri_client
from tests.conftest import GraphQL, make_key, peer, serving
from tests.signing import Signer
from tests.support.admin import (
    SEED_APP,
    SEED_APP_ENTRY,
    SEED_CREATED_RELEASE,
    SEED_PRESIGN,
    SEED_PRESIGNED,
    SEED_PUBLISHED,
    SEED_RELEASE,
    SEED_RELEASE_ARTIFACT,
    SEED_RELEASE_ENTRY,
    SEED_RELEASE_UPDATE,
    Bench,
    call,
    ok,
    put,
    refusal,
    seed_shaped,
)
from tests.support.database import snapshot
from tests.support.shipping import Shipyard

MAC = "darwin-aarch64"
LINUX = "linux-x86_64"
ID = "app_01JDX3K5Z8Q2W7N4M6R9T1V0YB"
REL = "rel_01JDX3K5Z8Q2W7N4M6R9T1V0YB"
ART = "art_01JDX3K5Z8Q2W7N4M6R9T1V0YB"
# Every endpoint, with a body it could take.
ENDPOINTS = [
    ("GET", "/admin/apps", None),
    ("POST", "/admin/apps", {"slug": "x", "name": "X"}),
    ("PATCH", f"/admin/apps/{ID}", {"name": "X"}),
    ("DELETE", f"/admin/apps/{ID}", None),
    ("GET", f"/admin/apps/{ID}/releases", None),
    ("POST", f"/admin/apps/{ID}/releases", {"version": "1.0.0"}),
    ("PATCH", f"/admin/apps/{ID}/releases/{REL}", {"notes": "x"}),
    ("DELETE", f"/admin/apps/{ID}/releases/{REL}", None),
    ("POST", f"/admin/apps/{ID}/releases/{REL}/publish", None),
    ("POST", f"/admin/apps/{ID}/releases/{REL}/archive", None),
    ("POST", f"/admin/apps/{ID}/releases/{REL}/artifacts", None),
    ("POST", f"/admin/apps/{ID}/releases/{REL}/artifacts/presign", {"platform": MAC}),
    ("POST", f"/admin/apps/{ID}/releases/{REL}/artifacts/{ART}/confirm", None),
    ("DELETE", f"/admin/apps/{ID}/releases/{REL}/artifacts/{ART}", None),
]


async def test_the_seeds_examples_get_the_seeds_answers(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    signer = Signer()
    # Create App: the seed's body, with a real public key for its placeholder.
    placeholder = await call(client, "POST", "/admin/apps", admin_key, SEED_APP)
    assert "public_key: " in refusal(placeholder, 400, "INVALID_INPUT")
    body = {**SEED_APP, "public_key": signer.public_key}
    app = ok(await call(client, "POST", "/admin/apps", admin_key, body), 201)
    assert {k: app[k] for k in ("slug", "name", "description")} == {
        "slug": "my-new-app",
        "name": "My New App",
        "description": "Another cool app",
    }
    releases = f"/admin/apps/{app['id']}/releases"

    # Create Release: 201 Created, a draft.
    created = ok(await call(client, "POST", releases, admin_key, SEED_RELEASE), 201)
    seed_shaped(created, SEED_CREATED_RELEASE)
    assert (created["app_id"], created["version"], created["status"]) == (
        app["id"],
        "1.2.0",
        "draft",
    )
    assert created["notes"] == SEED_RELEASE["notes"]
    release = f"{releases}/{created['id']}"

    # Update Release: notes changed, still a draft.
    updated = ok(await call(client, "PATCH", release, admin_key, SEED_RELEASE_UPDATE))
    assert (updated["notes"], updated["status"]) == ("Updated release notes...", "draft")

    # Presign: Ferryman needs the file's size (the URL is signed for it) and a real .sig.
    presign = f"{release}/artifacts/presign"
    refused = await call(client, "POST", presign, admin_key, SEED_PRESIGN)
    assert "file_size is required" in refusal(refused, 400, "INVALID_INPUT")
    content = b"darwin build of 1.2.0\n"
    signature = signer.sign(content, SEED_PRESIGN["filename"], "1.2.0")
    sized = {**SEED_PRESIGN, "signature": signature, "file_size": len(content)}
    presigned = ok(await call(client, "POST", presign, admin_key, sized))
    seed_shaped(presigned, SEED_PRESIGNED)
    assert presigned["expires_in"] == 3600
    await put(presigned, content)
    confirm = f"{release}/artifacts/{presigned['artifact_id']}/confirm"
    confirmed = ok(await call(client, "POST", confirm, admin_key))
    assert (confirmed["id"], confirmed["status"]) == (presigned["artifact_id"], "READY")

    # Publish: the seed's keys, published with a date.
    published = ok(await call(client, "POST", f"{release}/publish", admin_key))
    seed_shaped(published, SEED_PUBLISHED)
    assert published["status"] == "published"

    # List Releases and List Apps: the seed's shapes, with the figures filled in.
    listed = ok(
        await call(client, "GET", f"{releases}?status=published&limit=20&offset=0", admin_key)
    )
    assert set(listed) == {"releases", "total"}
    assert listed["total"] == 1
    (entry,) = listed["releases"]
    seed_shaped(entry, SEED_RELEASE_ENTRY)
    (artifact,) = entry["artifacts"]
    seed_shaped(artifact, SEED_RELEASE_ARTIFACT)
    assert (artifact["platform"], artifact["file_size"]) == (MAC, len(content))
    apps = ok(await call(client, "GET", "/admin/apps", admin_key))
    assert set(apps) == {"apps"}
    (listed_app,) = apps["apps"]
    seed_shaped(listed_app, SEED_APP_ENTRY)
    assert (listed_app["release_count"], listed_app["latest_version"]) == (1, "1.2.0")

    # Archive: off the update path.
    archived = ok(await call(client, "POST", f"{release}/archive", admin_key))
    assert archived["status"] == "archived"


async def test_a_release_shipped_through_the_api_reaches_installs_until_archived(
    client: httpx.AsyncClient, admin_key: str, gql: GraphQL
) -> None:
    bench = await Bench.open(client, admin_key)
    draft = await bench.draft("1.2.0", notes="Faster")
    release = bench.release(draft["id"])

    # The Mac file through the presigned URL, the Linux file uploaded directly.
    name, content, signature = bench.file("1.2.0", MAC)
    presign = {"platform": MAC, "filename": name, "signature": signature, "file_size": len(content)}
    presigned = ok(await call(client, "POST", f"{release}/artifacts/presign", admin_key, presign))
    await put(presigned, content)
    confirm = f"{release}/artifacts/{presigned['artifact_id']}/confirm"
    assert ok(await call(client, "POST", confirm, admin_key))["status"] == "READY"
    direct = ok(await bench.upload(draft["id"], "1.2.0", LINUX), 201)
    assert direct["status"] == "READY"
    assert len(direct["checksum"]) == 64

    ok(await call(client, "POST", f"{release}/publish", admin_key))

    # A real update check offers it, and the files download and verify as the client does.
    yard = Shipyard(client, gql, admin_key, bench.slug, bench.app_id, bench.signer)
    for os, arch in (("darwin", "aarch64"), ("linux", "x86_64")):
        install = yard.install(os, arch, "1.0.0")
        assert await install.update() == "1.2.0"

    ok(await call(client, "POST", f"{release}/archive", admin_key))
    assert await yard.install("darwin", "aarch64", "1.0.0").check() is None
    answer = await client.get(f"/{bench.slug}/update/linux/x86_64/1.0.0")
    assert answer.status_code == 204
    assert tauri_client.check(204, b"", "1.0.0", "linux", "x86_64") is None


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_every_endpoint_needs_a_key(
    client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    before = await snapshot()
    missing = await call(client, method, path, None, body)
    assert "missing Authorization header" in refusal(missing, 401, "UNAUTHENTICATED")
    unknown = await call(client, method, path, "uk_live_" + "Z" * 40, body)
    assert refusal(unknown, 401, "UNAUTHENTICATED") == "unknown API key"
    assert await snapshot() == before


async def test_the_admin_api_is_its_own_door() -> None:
    assert door_of("/admin/apps") is Door.ADMIN
    assert door_of(f"/admin/apps/{ID}/releases/{REL}/artifacts") is Door.ADMIN
    # An app whose slug is admin is checked for updates like any other.
    assert door_of("/admin/update/linux/x86_64/1.0.0") is Door.UPDATES
    assert door_of("/admin/update/linux-x86_64/1.0.0") is Door.UPDATES
    assert door_of("/admin/appsx") is Door.OTHER


async def test_an_app_made_admin_before_the_api_keeps_its_update_path(
    client: httpx.AsyncClient, admin_key: str, gql: GraphQL
) -> None:
    signer = Signer()
    old = await App.create(
        id=new_id("app"), slug="admin", name="Admin", public_key=signer.public_key
    )
    bench = Bench(client, admin_key, old.id, "admin", signer)
    await bench.published("1.2.0", (LINUX,))
    yard = Shipyard(client, gql, admin_key, "admin", old.id, signer)
    assert await yard.install("linux", "x86_64", "1.0.0").update() == "1.2.0"
    assert (await client.get("/admin/update/linux-x86_64/1.0.0")).status_code == 200
    # Its settings still save with its slug; no other app may take it.
    kept = await call(client, "PATCH", f"/admin/apps/{old.id}", admin_key, {"slug": "admin"})
    assert ok(kept)["slug"] == "admin"
    taken = await call(client, "POST", "/admin/apps", admin_key, {"slug": "admin", "name": "A"})
    assert "reserved" in refusal(taken, 400, "INVALID_INPUT")
    # The admin API itself is unaffected.
    assert [a["slug"] for a in ok(await call(client, "GET", "/admin/apps", admin_key))["apps"]] == [
        "admin"
    ]


def sample(name: str, **labels: str) -> float:
    TALLY.flush()
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_requests_are_counted_and_limited_as_the_admin_door(settings: Settings) -> None:
    async with serving(settings, rate_limit_admin=2, rate_limit_graphql=2) as application:
        async with peer(application) as client:
            key = await make_key(KeyScope.ADMIN)
            before = sample(
                "ferryman_http_requests_total", door="admin", method="GET", status="200"
            )
            for _ in range(2):
                ok(await call(client, "GET", "/admin/apps", key))
            limited = await call(client, "GET", "/admin/apps", key)
            message = refusal(limited, 429, "RATE_LIMITED")
            assert message.startswith("rate limit for admin exceeded: at most 2 requests")
            assert "per API key" in message
            # Another door's budget is its own.
            graphql = await client.post(
                "/graphql",
                json={"query": "{ apps { totalCount } }"},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert graphql.json() == {"data": {"apps": {"totalCount": 0}}}
        assert (
            sample("ferryman_http_requests_total", door="admin", method="GET", status="200")
            == before + 2
        )


async def test_a_wrong_method_is_refused_with_the_paths_methods(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    refused = await call(client, "PUT", f"/admin/apps/{ID}", admin_key, {"name": "x"})
    assert refused.status_code == 405
    assert set(refused.headers["allow"].split(", ")) == {"PATCH", "DELETE"}
    assert refused.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    # presign is no artifact's id: the path beside the artifacts takes POST alone.
    presign = f"/admin/apps/{ID}/releases/{REL}/artifacts/presign"
    beside = await call(client, "DELETE", presign, admin_key)
    assert (beside.status_code, beside.headers["allow"]) == (405, "POST")


async def test_a_body_over_the_limit_is_refused_unread(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    before = await snapshot()
    huge = b'{"slug": "x", "name": "' + b"x" * (1024 * 1024) + b'"}'
    refused = await call(client, "POST", "/admin/apps", admin_key, huge)
    assert "over this route's limit of 1048576 bytes" in refusal(refused, 413, "TOO_LARGE")
    assert await snapshot() == before
