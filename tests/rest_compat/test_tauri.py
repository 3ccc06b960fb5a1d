"""The updater's check, answered as the Tauri client parses it (reference §2)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from tortoise.transactions import in_transaction

from ferryman.app import create_app
from ferryman.generation_watcher import GenerationWatcher
from ferryman.models import Artifact, Release
from ferryman.models import app as apps
from ferryman.models import release as releases
from ferryman.models.actor import Actor
from ferryman.models.ids import new_id
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from ferryman.rest_compat.links import DownloadLinks
from ferryman.rest_compat.manifest import Resolver
from ferryman.settings import Settings
from tests.conftest import QueryCounter

SIGNATURE = (Path(__file__).parents[1] / "data" / "tauri" / "MyApp.app.tar.gz.sig").read_text()
RFC3339_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


async def publish(
    slug: str,
    version: str,
    platforms: list[str],
    notes: str | None = "Notes",
    status: ReleaseStatus = ReleaseStatus.PUBLISHED,
    channel: str | None = None,
) -> str:
    """A release with READY artifacts, published through the domain rules."""
    console = Actor.console()
    app = await apps.App.get_or_none(slug=slug) or await apps.create(
        console, apps.AppChanges(slug=slug, name=slug)
    )
    release = await releases.create(
        console, app.id, releases.ReleaseChanges(version=version, notes=notes, channel=channel)
    )
    for platform in platforms:
        await Artifact.create(
            id=new_id("art"),
            release_id=release.id,
            platform=platform,
            signature=SIGNATURE,
            object_key=f"{slug}/releases/{version}/{platform}.bin",
            status=ArtifactStatus.READY,
            download_url=f"https://dl.example.com/{slug}/{version}/{platform}",
        )
    if status is not ReleaseStatus.DRAFT:
        await releases.publish(console, release.id)
    if status is ReleaseStatus.ARCHIVED:
        await releases.archive(console, release.id)
    return release.id


def client_parse(response: httpx.Response) -> dict[str, Any] | None:
    """What the Tauri client accepts (tauri-updater-protocol.md §2.1-2.4)."""
    if response.status_code == 204:
        assert response.content == b""
        return None
    assert response.status_code == 200, response.text
    body: dict[str, Any] = json.loads(response.content)
    assert isinstance(body["version"], str)
    if "pub_date" in body and body["pub_date"] is not None:
        assert RFC3339_Z.fullmatch(body["pub_date"]), body["pub_date"]
        datetime.fromisoformat(body["pub_date"])
    entries = body["platforms"].values() if "platforms" in body else [body]
    for entry in entries:
        assert entry["url"].startswith("https://")
        assert entry["signature"] == SIGNATURE
        assert "\n" not in entry["signature"]
    return body


@pytest.mark.usefixtures("app")
async def test_newer_release_is_offered_in_the_dynamic_format(client: httpx.AsyncClient) -> None:
    await publish("my-app", "1.1.0", ["darwin-aarch64", "linux-x86_64"])
    response = await client.get("/my-app/update/darwin/aarch64/1.0.0")
    body = client_parse(response)
    assert body is not None
    assert body["version"] == "1.1.0"
    assert body["notes"] == "Notes"
    assert body["url"] == "https://dl.example.com/my-app/1.1.0/darwin-aarch64"
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
        await publish("my-app", "1.1.0", ["linux-x86_64"])
        transport = httpx.ASGITransport(app=origin)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
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


@pytest.mark.usefixtures("app")
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
async def test_no_update_is_an_empty_204(client: httpx.AsyncClient, path: str) -> None:
    await publish("my-app", "1.1.0", ["darwin-aarch64"])
    assert client_parse(await client.get(path)) is None


@pytest.mark.usefixtures("app")
async def test_build_metadata_counts_as_the_client_counts_it(client: httpx.AsyncClient) -> None:
    await publish("my-app", "1.0.0+2", ["linux-x86_64"])
    offered = client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0%2B1"))
    assert offered is not None
    assert offered["version"] == "1.0.0+2"
    assert client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0+2")) is None
    assert client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0%2B10")) is None
    plain = client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0"))
    assert plain is not None


@pytest.mark.usefixtures("app")
async def test_pre_releases_sort_below_their_release(client: httpx.AsyncClient) -> None:
    await publish("my-app", "2.0.0-beta.11", ["linux-x86_64"])
    beta = client_parse(await client.get("/my-app/update/linux/x86_64/2.0.0-beta.2"))
    assert beta is not None
    assert beta["version"] == "2.0.0-beta.11"
    assert client_parse(await client.get("/my-app/update/linux/x86_64/2.0.0")) is None


@pytest.mark.usefixtures("app")
async def test_drafts_and_archived_releases_are_never_offered(client: httpx.AsyncClient) -> None:
    await publish("my-app", "1.0.0", ["linux-x86_64"])
    await publish("my-app", "3.0.0", ["linux-x86_64"], status=ReleaseStatus.DRAFT)
    await publish("my-app", "2.0.0", ["linux-x86_64"], status=ReleaseStatus.ARCHIVED)
    body = client_parse(await client.get("/my-app/update/linux/x86_64/0.9.0"))
    assert body is not None
    assert body["version"] == "1.0.0"


@pytest.mark.usefixtures("app")
async def test_installer_specific_keys_win_and_never_fall_back(client: httpx.AsyncClient) -> None:
    await publish("my-app", "1.0.0", ["linux-x86_64-deb", "linux-x86_64"])
    await publish("my-app", "1.1.0", ["linux-x86_64"])  # an AppImage only
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


@pytest.mark.usefixtures("app")
async def test_bare_os_gets_the_static_format_with_every_platform(
    client: httpx.AsyncClient,
) -> None:
    await publish(
        "my-app", "1.2.0", ["darwin-aarch64", "darwin-x86_64", "linux-x86_64"], notes=None
    )
    body = client_parse(await client.get("/my-app/update/darwin/1.0.0"))
    assert body is not None
    assert body["version"] == "1.2.0"
    assert "notes" not in body
    assert sorted(body["platforms"]) == ["darwin-aarch64", "darwin-x86_64"]
    full_key = client_parse(await client.get("/my-app/update/darwin-x86_64/1.0.0"))
    assert full_key is not None
    assert full_key["url"].endswith("/darwin-x86_64")


@pytest.mark.usefixtures("app")
async def test_two_apps_with_the_same_versions_never_mix(client: httpx.AsyncClient) -> None:
    await publish("first", "1.0.0", ["linux-x86_64"])
    await publish("second", "1.0.0", ["linux-x86_64"])
    first = client_parse(await client.get("/first/update/linux/x86_64/0.1.0"))
    second = client_parse(await client.get("/second/update/linux/x86_64/0.1.0"))
    assert first is not None
    assert second is not None
    assert first["url"].startswith("https://dl.example.com/first/")
    assert second["url"].startswith("https://dl.example.com/second/")


@pytest.mark.usefixtures("app")
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
    client: httpx.AsyncClient, path: str, status: int, message: str
) -> None:
    await publish("my-app", "1.1.0", ["linux-x86_64"])
    response = await client.get(path)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]


async def test_publishing_is_seen_by_the_very_next_check(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await publish("my-app", "1.0.0", ["linux-x86_64"])
    assert client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0")) is None
    release_id = await publish("my-app", "1.1.0", ["linux-x86_64"])
    offered = client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0"))
    assert offered is not None
    assert offered["version"] == "1.1.0"
    await releases.archive(Actor.console(), release_id)
    assert client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0")) is None


async def test_another_workers_change_is_noticed_by_the_watcher(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await publish("my-app", "1.0.0", ["linux-x86_64"])
    assert client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0")) is None
    watcher = GenerationWatcher(app.state.settings.database_url)
    await watcher.poll()
    # Another process publishes: rows change, but nothing is announced here.
    release_id = await publish("my-app", "1.1.0", ["linux-x86_64"], status=ReleaseStatus.DRAFT)
    await Release.filter(id=release_id).update(status=ReleaseStatus.PUBLISHED)
    app_row = await apps.App.get(slug="my-app")
    async with in_transaction():
        await apps.bump_generation(app_row.id)
    assert client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0")) is None
    await watcher.poll()
    offered = client_parse(await client.get("/my-app/update/linux/x86_64/1.0.0"))
    assert offered is not None
    assert offered["version"] == "1.1.0"


async def test_the_watcher_keeps_answers_built_after_this_process_own_write(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    watcher = GenerationWatcher(app.state.settings.database_url)
    await watcher.poll()
    await publish("my-app", "1.0.0", ["linux-x86_64"])  # announced here at once
    check = "/my-app/update/linux/x86_64/0.9.0"
    assert (await client.get(check)).headers["cf-cache-status"] == "MISS"

    await watcher.poll()  # sees the same write through the database

    again = await client.get(check)
    assert again.headers["cf-cache-status"] == "HIT"
    assert client_parse(again) == client_parse(await client.get(check))


@pytest.mark.parametrize(("ahead", "kept"), [(0, True), (1, False)], ids=["same", "newer"])
async def test_an_announce_during_a_build_keeps_it_only_when_it_read_that_generation(
    app: Starlette, ahead: int, kept: bool
) -> None:
    await publish("my-app", "1.0.0", ["linux-x86_64"])
    generation = (await apps.App.get(slug="my-app")).generation
    resolver = Resolver(DownloadLinks("secret", "http://testserver"))
    building = asyncio.ensure_future(resolver.manifests("my-app"))
    await asyncio.sleep(0)  # the build has started reading

    assert resolver.forget("my-app", generation + ahead)
    built = await building

    assert built is not None
    assert built.generation == generation
    assert (await resolver.manifests("my-app") is built) is kept


async def test_a_thousand_cold_checks_cost_one_index_build(
    client: httpx.AsyncClient, app: Starlette, sql_log: QueryCounter
) -> None:
    await publish("my-app", "1.1.0", ["linux-x86_64"])
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
    release_id = await publish("big", "0.0.1", ["linux-x86_64"])
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
                signature=SIGNATURE,
                object_key=f"big/{r.version}",
                download_url=f"https://dl.example.com/big/{r.version}",
                status=ArtifactStatus.READY,
            )
            for r in many
        ],
        batch_size=1000,
    )
    await publish("big", "2.0.0", ["linux-x86_64"])  # through the rules: bumps the generation
    newest = client_parse(await client.get("/big/update/linux/x86_64/1.5000.0"))
    assert newest is not None
    assert newest["version"] == "2.0.0"
    assert client_parse(await client.get("/big/update/linux/x86_64/2.0.0")) is None
    await publish("small", "1.0.0", ["linux-x86_64"])
    small = client_parse(await client.get("/small/update/linux/x86_64/0.1.0"))
    assert small is not None
    assert small["url"].startswith("https://dl.example.com/small/")
