"""A download link leads to its own app's file, whatever the app is called later (security
review, issue 12, finding 6).

Links used to be frozen with the app's slug when the file was confirmed: after a rename,
the renamed app's manifests pointed at /dl/<old slug>/... (a 404), and once another app
took the old slug, those links led to that app's files. A link now names the app by its
id, which no other app can ever have, and a public bucket URL names an object key that
only that artifact's verified copy has.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

import httpx
from tortoise import Tortoise, connections
from tortoise.migrations import api as migrations_api

from ferryman.local_s3 import LocalS3
from ferryman.models import Artifact
from ferryman.models.actor import KeyScope
from ferryman.models.ids import new_id
from ferryman.models.registry import migrate, tortoise_config
from ferryman.settings import Settings
from tests import tauri_client
from tests.conftest import Databases, GraphQL, make_key, peer, serving
from tests.signing import Signer
from tests.support.api import payload_of
from tests.support.documents import (
    APP_UPDATE,
    ARTIFACT_UPLOAD_CONFIRM,
    LICENSE_CREATE,
    operation,
)
from tests.support.shipping import Shipyard

LINUX = "linux-x86_64"


@dataclasses.dataclass
class Yard(Shipyard):
    """A Shipyard whose files also name their app, so one app's file is never another's."""

    brand: str = ""

    def body(self, version: str, platform: str) -> bytes:  # type: ignore[override]
        return f"{self.brand}: {platform} build of {version}\n".encode()


async def open_yard(
    client: httpx.AsyncClient, gql: GraphQL, key: str, slug: str, brand: str, **app: Any
) -> Yard:
    opened = await Yard.open(client, gql, key, slug, **app)
    assert isinstance(opened, Yard)
    opened.brand = brand
    return opened


async def rename(yard: Shipyard, slug: str) -> None:
    renamed = payload_of(
        await yard.gql(APP_UPDATE, {"id": yard.app_id, "input": {"slug": slug}}, key=yard.key),
        "appUpdate",
    )
    assert renamed["userErrors"] == [], renamed
    yard.slug = slug


async def follow(client: httpx.AsyncClient, url: str) -> bytes | None:
    """The bytes behind a manifest URL (through /dl and its redirect), or None when the
    link is refused."""
    parts = urlsplit(url)
    response = await client.get(f"{parts.path}?{parts.query}".rstrip("?"))
    if response.status_code in (403, 404):
        return None
    assert response.status_code == 302, response.text
    async with httpx.AsyncClient() as outside:
        fetched = await outside.get(response.headers["location"])
    assert fetched.status_code == 200
    return fetched.content


async def installs_get_their_own_file(yard: Yard, version: str = "1.0.0") -> None:
    install = yard.install("linux", "x86_64", "0.9.0")
    assert await install.update(require_signed_version=True) == version
    update = await install.check()  # now up to date
    assert update is None


async def test_a_renamed_app_keeps_its_downloads_and_the_next_owner_of_its_slug_gets_none(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str
) -> None:
    bravo = await open_yard(client, gql, admin_key, "bravo", "bravo")
    await bravo.release("1.0.0", [LINUX])
    before_rename = await bravo.install("linux", "x86_64", "0.9.0").check()
    assert before_rename is not None

    await rename(bravo, "bravo-renamed")

    await installs_get_their_own_file(bravo)
    after_rename = await bravo.install("linux", "x86_64", "0.9.0").check()
    assert after_rename is not None
    expected = bravo.body("1.0.0", LINUX)
    assert await follow(client, before_rename.url) in (expected, None)

    # Another app takes the old slug and ships the same versions and platforms.
    usurper = await open_yard(client, gql, admin_key, "bravo", "usurper")
    await usurper.release("1.0.0", [LINUX])
    await usurper.release("2.0.0", [LINUX])

    await installs_get_their_own_file(bravo)
    await installs_get_their_own_file(usurper, "2.0.0")
    # Links handed out before the rename, and after it, still lead to bravo's file or
    # nowhere: never to the usurper's.
    for url in (before_rename.url, after_rename.url):
        got = await follow(client, url)
        assert got in (expected, None), got
    assert await follow(client, after_rename.url) == expected
    tauri_client.download_and_verify(after_rename, expected, bravo.signer.public_key, True)


async def test_a_licensed_apps_signed_links_stay_with_it_across_a_rename(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str
) -> None:
    bravo = await open_yard(client, gql, admin_key, "bravo", "bravo", distribution="LICENSED")
    await bravo.release("1.0.0", [LINUX])
    licence = payload_of(
        await gql(LICENSE_CREATE, {"input": {"appId": bravo.app_id}}, key=admin_key),
        "licenseCreate",
    )
    headers = {"Authorization": f"Bearer {licence['key']}"}

    async def signed_link() -> tauri_client.Update:
        answer = await client.get(f"/{bravo.slug}/update/linux/x86_64/0.9.0", headers=headers)
        update = tauri_client.check(
            answer.status_code, answer.content, "0.9.0", "linux", "x86_64", None
        )
        assert update is not None
        return update

    before = await signed_link()
    await rename(bravo, "bravo-renamed")
    after = await signed_link()
    usurper = await open_yard(client, gql, admin_key, "bravo", "usurper")
    await usurper.release("1.0.0", [LINUX])

    expected = bravo.body("1.0.0", LINUX)
    assert await follow(client, after.url) == expected
    assert await follow(client, before.url) in (expected, None)
    tauri_client.download_and_verify(after, expected, bravo.signer.public_key, True)


async def test_public_bucket_urls_name_an_object_no_other_app_writes(
    settings: Settings, s3: LocalS3, bucket: str
) -> None:
    public = f"https://downloads.example.com/{bucket}"
    async with (
        serving(settings, download_base_url=public) as application,
        peer(application) as client,
    ):
        key = await make_key(KeyScope.ADMIN)
        gql = GraphQL(client)
        bravo = await open_yard(client, gql, key, "bravo", "bravo")
        await bravo.release("1.0.0", [LINUX])
        before = await bravo.install("linux", "x86_64", "0.9.0").check()
        assert before is not None
        await rename(bravo, "bravo-renamed")
        after = await bravo.install("linux", "x86_64", "0.9.0").check()
        usurper = await open_yard(client, gql, key, "bravo", "usurper")
        await usurper.release("1.0.0", [LINUX])
        theirs = await usurper.install("linux", "x86_64", "0.9.0").check()

    assert after is not None
    assert theirs is not None
    expected = bravo.body("1.0.0", LINUX)
    for update in (before, after):
        assert update.url.startswith(public + "/")
        object_key = httpx.URL(update.url).path.removeprefix(f"/{bucket}/")
        stored = s3.client.get_object(Bucket=bucket, Key=object_key)["Body"].read()
        assert stored == expected
    assert theirs.url not in (before.url, after.url)


async def test_links_made_before_the_upgrade_lead_only_to_the_files_they_were_made_for(
    databases: Databases, settings: Settings, s3: LocalS3, bucket: str
) -> None:
    """Versions before 0009 froze links with the slug: bravo's installs may still hold
    /dl/bravo/1.0.0/... from a manifest fetched just before the upgrade. 0009 names the
    app by id in every stored link and keeps the old one for its own artifact alone."""
    url = databases.empty()
    await migrations_api.migrate(config=tortoise_config(url), target="models.0008_signed_versions")
    bravo, usurper, release, draft = new_id("app"), new_id("app"), new_id("rel"), new_id("rel")
    draft_file, signer = new_id("art"), Signer()
    draft_body = b"bravo's 2.0.0, uploaded and confirmed before the upgrade"
    old_link = f"{settings.base_url}/dl/bravo/1.0.0/{LINUX}"
    now = "CURRENT_TIMESTAMP"

    def marks(count: int) -> str:
        if databases.engine == "sqlite":
            return ", ".join("?" * count)
        return ", ".join(f"${n}" for n in range(1, count + 1))

    await Tortoise.init(config=tortoise_config(url))
    try:
        sql = connections.get("default")
        # bravo shipped 1.0.0 as "bravo", then was renamed, and another app took "bravo".
        for app_id, slug, public_key in (
            (bravo, "bravo-renamed", signer.public_key),
            (usurper, "bravo", None),
        ):
            await sql.execute_query(
                "INSERT INTO apps (id, slug, name, public_key, channels, created_at, updated_at) "
                f"VALUES ({marks(4)}, 'stable', {now}, {now})",
                [app_id, slug, slug, public_key],
            )
        await sql.execute_query(
            "INSERT INTO releases (id, app_id, version, status, channel, pub_date, created_at, "
            f"updated_at) VALUES ({marks(3)}, 'published', 'stable', {now}, {now}, {now})",
            [release, bravo, "1.0.0"],
        )
        await sql.execute_query(
            "INSERT INTO artifacts (id, release_id, platform, signature, object_key, "
            f"download_url, status, created_at, updated_at) VALUES ({marks(6)}, 'READY', "
            f"{now}, {now})",
            [new_id("art"), release, LINUX, "s", "bravo/releases/1.0.0/f.bin", old_link],
        )
        # A draft whose file was READY before the upgrade, at a key upload URLs wrote.
        await sql.execute_query(
            "INSERT INTO releases (id, app_id, version, status, channel, created_at, "
            f"updated_at) VALUES ({marks(3)}, 'draft', 'stable', {now}, {now})",
            [draft, bravo, "2.0.0"],
        )
        await sql.execute_query(
            "INSERT INTO artifacts (id, release_id, platform, filename, signature, object_key, "
            f"download_url, status, created_at, updated_at) VALUES ({marks(7)}, 'READY', "
            f"{now}, {now})",
            [
                draft_file,
                draft,
                LINUX,
                "f.bin",
                signer.sign(draft_body, "f.bin", "2.0.0"),
                "bravo/releases/2.0.0/f.bin",
                f"{settings.base_url}/dl/bravo/2.0.0/{LINUX}",
            ],
        )
    finally:
        await connections.close_all()
    s3.client.put_object(Bucket=bucket, Key="bravo/releases/1.0.0/f.bin", Body=b"bravo's 1.0.0")
    s3.client.put_object(Bucket=bucket, Key="bravo/releases/2.0.0/f.bin", Body=draft_body)

    await migrate(url)

    upgraded = dataclasses.replace(settings, database_url=url)
    async with serving(upgraded) as application, peer(application) as http:
        key = await make_key(KeyScope.ADMIN)
        artifact = await Artifact.get(release_id=release)
        assert artifact.download_url == f"{settings.base_url}/dl/{bravo}/1.0.0/{LINUX}"
        assert artifact.legacy_link == f"bravo/1.0.0/{LINUX}"
        assert artifact.upload_key == artifact.object_key  # confirming again would copy it
        # The app that took the slug ships a 1.0.0 of its own after the upgrade.
        theirs = Yard(http, GraphQL(http), key, "bravo", usurper, Signer(), brand="usurper")
        keyed = await http.post(
            "/graphql",
            json={
                "query": APP_UPDATE,
                "variables": {"id": usurper, "input": {"publicKey": theirs.signer.public_key}},
            },
            headers={"Authorization": f"Bearer {key}"},
        )
        assert keyed.json()["data"]["appUpdate"]["userErrors"] == []
        await theirs.release("1.0.0", [LINUX])

        old = await follow(http, old_link)
        new = await follow(http, artifact.download_url)
        answer = await http.get("/bravo-renamed/update/linux/x86_64/0.9.0")
        assert answer.status_code == 200, (answer.status_code, answer.text)
        offered = answer.json()
        await installs_get_their_own_file(theirs)

        # The draft's file must be confirmed again: it is copied and checked like any upload.
        pending = await Artifact.get(id=draft_file)
        assert (pending.status.value, pending.download_url) == ("PENDING", None)
        refused = await http.post(
            "/graphql",
            json={"query": operation("ReleasePublish"), "variables": {"id": draft}},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert "(PENDING)" in refused.json()["data"]["releasePublish"]["userErrors"][0]["message"]
        confirmed = await http.post(
            "/graphql",
            json={"query": ARTIFACT_UPLOAD_CONFIRM, "variables": {"id": draft_file}},
            headers={"Authorization": f"Bearer {key}"},
        )
        ready = confirmed.json()["data"]["artifactUploadConfirm"]["artifact"]
        assert ready["status"] == "READY", confirmed.json()
        assert ready["objectKey"].startswith(f"bravo-renamed/files/2.0.0/{LINUX}/{draft_file}/")

    assert old == new == b"bravo's 1.0.0"
    assert offered["url"] == artifact.download_url
