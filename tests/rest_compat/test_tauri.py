"""The updater's check, answered as the Tauri client parses it (reference §2)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette
from tortoise.expressions import F

from ferryman.app import create_app
from ferryman.generation_watcher import GenerationWatcher
from ferryman.models import Artifact, Release
from ferryman.models import app as apps
from ferryman.models.actor import KeyScope
from ferryman.models.ids import new_id
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from ferryman.rest_compat.links import DownloadLinks
from ferryman.rest_compat.manifest import Resolver
from ferryman.settings import Settings
from tests import tauri_client
from tests.conftest import GraphQL, QueryCounter, make_key
from tests.support import rows
from tests.support.shipping import Shipyard, client_parse

LINUX = ["linux-x86_64"]


async def test_newer_release_is_offered_in_the_dynamic_format(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("1.1.0", ["darwin-aarch64", "linux-x86_64"], notes="Notes")
    response = await client.get("/my-app/update/darwin/aarch64/1.0.0")
    body = client_parse(response)
    assert body is not None
    assert body["version"] == "1.1.0"
    assert body["notes"] == "Notes"
    assert body["url"].endswith(f"/dl/{yard.app_id}/1.1.0/darwin-aarch64")
    assert "platforms" not in body
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "private, max-age=60"
    # The edge keeps the CDN-only headers to itself.
    assert response.headers["cf-cache-status"] == "MISS"
    assert "cache-tag" not in response.headers
    assert "cloudflare-cdn-cache-control" not in response.headers
    again = await client.get("/my-app/update/darwin/aarch64/1.0.0")
    assert again.headers["cf-cache-status"] == "HIT"
    assert again.content == response.content


async def test_without_the_edge_the_cdn_gets_its_headers(settings: Settings) -> None:
    origin = create_app(dataclasses.replace(settings, edge_cache_bytes=0))
    async with origin.router.lifespan_context(origin):
        transport = httpx.ASGITransport(app=origin)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            key = await make_key(KeyScope.ADMIN)
            yard = await Shipyard.open(client, GraphQL(client), key)
            await yard.release("1.1.0", LINUX)
            answer = await client.get("/my-app/update/linux/x86_64/1.0.0")
            none = await client.get("/my-app/update/linux/x86_64/1.1.0")
            missing = await client.get("/nope/update/linux/x86_64/1.1.0")
    for response in (answer, none):
        assert response.headers["cache-tag"] == "app:my-app"
        assert response.headers["cloudflare-cdn-cache-control"] == (
            "max-age=300, stale-while-revalidate=60, stale-if-error=86400"
        )
        assert "cf-cache-status" not in response.headers
    assert missing.status_code == 404
    assert missing.headers["cloudflare-cdn-cache-control"].startswith("max-age=60,")


@pytest.mark.parametrize(
    "path",
    [
        "/my-app/update/darwin/aarch64/1.1.0",
        "/my-app/update/darwin/aarch64/v1.1.0",
        "/my-app/update/darwin/aarch64/2.0.0",
        "/my-app/update/windows/x86_64/1.0.0",
        "/my-app/update/darwin-x86_64/1.0.0",
    ],
)
async def test_no_update_is_an_empty_204(
    client: httpx.AsyncClient, yard: Shipyard, path: str
) -> None:
    await yard.release("1.1.0", ["darwin-aarch64"])
    assert client_parse(await client.get(path)) is None


async def test_build_metadata_counts_as_the_client_counts_it(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("1.0.0+2", LINUX)
    offered = client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0%2B1"))
    assert offered is not None
    assert offered["version"] == "1.0.0+2"
    assert client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0+2")) is None
    assert client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0%2B10")) is None
    plain = client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0"))
    assert plain is not None


async def test_pre_releases_sort_below_their_release(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("2.0.0-beta.11", LINUX)
    beta = client_parse(await client.get("/my-app/update/linux/x86_64/2.0.0-beta.2"))
    assert beta is not None
    assert beta["version"] == "2.0.0-beta.11"
    assert client_parse(await client.get("/my-app/update/linux/x86_64/2.0.0")) is None


async def test_drafts_and_archived_releases_are_never_offered(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("1.0.0", LINUX)
    await yard.release("3.0.0", LINUX, publish=False)
    await yard.archive(await yard.release("2.0.0", LINUX))
    body = client_parse(await client.get("/my-app/update/linux/x86_64/0.9.0"))
    assert body is not None
    assert body["version"] == "1.0.0"


async def test_installer_specific_keys_win_and_never_fall_back(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("1.0.0", ["linux-x86_64-deb", "linux-x86_64"])
    await yard.release("1.1.0", LINUX)  # an AppImage only
    deb = client_parse(await client.get("/my-app/update/linux/x86_64/0.1.0?bundle_type=deb"))
    assert deb is not None
    assert (deb["version"], deb["url"].rsplit("/", 1)[1]) == ("1.0.0", "linux-x86_64-deb")
    appimage = client_parse(
        await client.get("/my-app/update/linux/x86_64/0.1.0?bundle_type=appimage")
    )
    assert appimage is not None
    assert (appimage["version"], appimage["url"].rsplit("/", 1)[1]) == ("1.1.0", "linux-x86_64")
    unknown = client_parse(
        await client.get("/my-app/update/linux/x86_64/0.1.0?bundle_type=unknown")
    )
    assert unknown is not None
    assert unknown["version"] == "1.1.0"


async def test_bare_os_gets_the_static_format_with_every_platform(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("1.2.0", ["darwin-aarch64", "darwin-x86_64", "linux-x86_64"])
    body = client_parse(await client.get("/my-app/update/darwin/1.0.0"))
    assert body is not None
    assert body["version"] == "1.2.0"
    assert "notes" not in body
    assert sorted(body["platforms"]) == ["darwin-aarch64", "darwin-x86_64"]
    full_key = client_parse(await client.get("/my-app/update/darwin-x86_64/1.0.0"))
    assert full_key is not None
    assert full_key["url"].endswith("/darwin-x86_64")


async def test_two_apps_with_the_same_versions_never_mix(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str
) -> None:
    yards = [await Shipyard.open(client, gql, admin_key, slug) for slug in ("first", "second")]
    for yard in yards:
        await yard.release("1.0.0", LINUX)
    for yard in yards:
        offered = client_parse(await client.get(f"/{yard.slug}/update/linux/x86_64/0.1.0"))
        assert offered is not None
        assert f"/dl/{yard.app_id}/" in offered["url"]
        assert tauri_client.decode_signature(offered["signature"]).key_id == yard.signer.key_id


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/nope/update/linux/x86_64/1.0.0", 404, "no app has the slug"),
        ("/my-app/update/linux/x86_64/1.2", 400, "not a version"),
        ("/my-app/update/linux/x86_64/01.0.0", 400, "not a version"),
        ("/my-app/update/linux/x86_64/latest", 400, "not a version"),
        ("/my-app/update/macos/x86_64/1.0.0", 400, "OS one of linux, darwin, windows"),
        ("/my-app/update/linux/x64/1.0.0", 400, "arch one of"),
        ("/my-app/update/darwin-universal/1.0.0", 400, "arch one of"),
        ("/my-app/update/linux/x86_64/1.0.0?bundle_type=snap", 400, "bundle_type 'snap'"),
        ("/my-app/update/windows/x86_64/1.0.0?bundle_type=deb", 400, "not an installer"),
    ],
)
async def test_bad_checks_get_a_json_error(
    client: httpx.AsyncClient, yard: Shipyard, path: str, status: int, message: str
) -> None:
    await yard.release("1.1.0", LINUX)
    response = await client.get(path)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]


async def test_publishing_is_seen_by_the_very_next_check(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    await yard.release("1.0.0", LINUX)
    assert client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0")) is None
    release_id = await yard.release("1.1.0", LINUX)
    offered = client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0"))
    assert offered is not None
    assert offered["version"] == "1.1.0"
    await yard.archive(release_id)
    assert client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0")) is None


async def test_another_workers_change_is_noticed_by_the_watcher(
    client: httpx.AsyncClient, app: Starlette, yard: Shipyard
) -> None:
    await yard.release("1.0.0", LINUX)
    assert client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0")) is None
    watcher = GenerationWatcher(app.state.settings.database_url)
    await watcher.poll()
    # Another process publishes: rows change, but nothing is announced here.
    release_id = await yard.release("1.1.0", LINUX, publish=False)
    await Release.filter(id=release_id).update(
        status=ReleaseStatus.PUBLISHED, pub_date=datetime.now(UTC)
    )
    # A write whose notification was lost (a dropped LISTEN connection): only the poll sees it.
    await apps.App.filter(id=yard.app_id).update(generation=F("generation") + 1)
    assert client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0")) is None
    await watcher.poll()
    offered = client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0"))
    assert offered is not None
    assert offered["version"] == "1.1.0"


async def test_the_watcher_keeps_answers_built_after_this_process_own_write(
    client: httpx.AsyncClient, app: Starlette, yard: Shipyard
) -> None:
    watcher = GenerationWatcher(app.state.settings.database_url)
    await watcher.poll()
    await yard.release("1.0.0", LINUX)  # announced here at once
    check = "/my-app/update/linux/x86_64/0.9.0"
    assert (await client.get(check)).headers["cf-cache-status"] == "MISS"

    await watcher.poll()  # sees the same write through the database

    again = await client.get(check)
    assert again.headers["cf-cache-status"] == "HIT"
    assert client_parse(again) == client_parse(await client.get(check))


@pytest.mark.parametrize(("ahead", "kept"), [(0, True), (1, False)], ids=["same", "newer"])
async def test_an_announce_during_a_build_keeps_it_only_when_it_read_that_generation(
    yard: Shipyard, ahead: int, kept: bool
) -> None:
    await yard.release("1.0.0", LINUX)
    generation = (await apps.App.get(id=yard.app_id)).generation
    resolver = Resolver(DownloadLinks("secret", "http://testserver"))
    building = asyncio.ensure_future(resolver.manifests("my-app"))
    await asyncio.sleep(0)  # the build has started reading

    assert resolver.forget("my-app", generation + ahead)
    built = await building

    assert built is not None
    assert built.generation == generation
    assert (await resolver.manifests("my-app") is built) is kept


async def test_a_thousand_cold_checks_cost_one_index_build(
    client: httpx.AsyncClient, yard: Shipyard, sql_log: QueryCounter
) -> None:
    await yard.release("1.1.0", LINUX)
    for version in ("0.1.0", "0.2.0", "0.3.0"):  # three keys, so the edge cannot hide it all
        sql_log.statements.clear()
        answers = await asyncio.gather(
            *(client.get(f"/my-app/update/linux/x86_64/{version}") for _ in range(333))
        )
        assert {a.status_code for a in answers} == {200}
        assert len({a.content for a in answers}) == 1
        reads = [
            s
            for s in sql_log.statements
            if s.lstrip().upper().startswith("SELECT") and " WHERE " in s
        ]
        # The first key builds the index (app, releases, artifacts); the others reuse it.
        assert len(reads) == (3 if version == "0.1.0" else 0), reads


async def test_ten_thousand_releases(client: httpx.AsyncClient, app: Starlette) -> None:
    """The rows are written directly (as many as this, shipped, would take minutes)."""
    release_id = await rows.publish("big", "0.0.1", LINUX)
    app_id = (await Release.get(id=release_id)).app_id
    many = [
        Release(
            id=new_id("rel"),
            app_id=app_id,
            version=f"1.{n}.0",
            status=ReleaseStatus.PUBLISHED,
            pub_date=datetime.now(UTC),
        )
        for n in range(10_000)
    ]
    await Release.bulk_create(many, batch_size=1000)
    await Artifact.bulk_create(
        [
            Artifact(
                id=new_id("art"),
                release_id=r.id,
                platform="linux-x86_64",
                signature=rows.SIGNATURE,
                object_key=f"big/{r.version}",
                download_url=f"https://dl.example.com/big/{r.version}",
                status=ArtifactStatus.READY,
            )
            for r in many
        ],
        batch_size=1000,
    )
    await rows.publish("big", "2.0.0", LINUX)  # through the rules: bumps the generation
    newest = client_parse(await client.get("/big/update/linux/x86_64/1.5000.0"))
    assert newest is not None
    assert newest["version"] == "2.0.0"
    assert client_parse(await client.get("/big/update/linux/x86_64/2.0.0")) is None
    await rows.publish("small", "1.0.0", LINUX)
    small = client_parse(await client.get("/small/update/linux/x86_64/0.1.0"))
    assert small is not None
    assert small["url"].startswith("https://dl.example.com/small/")
