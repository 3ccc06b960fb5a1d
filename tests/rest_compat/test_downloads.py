"""GET /dl/{app id}/{version}/{platform}: a counted 302 to the real file in S3."""

import dataclasses
from ipaddress import ip_network
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from ferryman.app import create_app
from ferryman.local_s3 import LocalS3
from ferryman.models import Artifact, DownloadCount, Release
from ferryman.models import app as apps
from ferryman.models import release as releases
from ferryman.models.actor import Actor
from ferryman.models.ids import new_id
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from ferryman.settings import Settings

BODY = b"update bytes\x00\x01" * 1000


async def published(
    s3: LocalS3,
    bucket: str,
    status: ReleaseStatus = ReleaseStatus.PUBLISHED,
    artifact_status: ArtifactStatus = ArtifactStatus.READY,
) -> Release:
    console = Actor.console()
    app = await apps.create(console, apps.AppChanges(slug="my-app", name="My App"))
    release = await releases.create(console, app.id, releases.ReleaseChanges(version="1.2.3+4"))
    key = "my-app/releases/1.2.3+4/MyApp.app.tar.gz"
    s3.client.put_object(Bucket=bucket, Key=key, Body=BODY)
    await Artifact.create(
        id=new_id("art"),
        release_id=release.id,
        platform="darwin-aarch64",
        signature="s",
        object_key=key,
        status=artifact_status,
        file_size=len(BODY),
    )
    await Release.filter(id=release.id).update(status=status)
    return release


async def test_redirects_to_a_presigned_get_and_counts_the_download(
    client: httpx.AsyncClient, app: Starlette, s3: LocalS3, bucket: str
) -> None:
    release = await published(s3, bucket)
    response = await client.get(
        f"/dl/{release.app_id}/1.2.3%2B4/darwin-aarch64", headers={"CF-IPCountry": "nl"}
    )
    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    target = response.headers["location"]
    assert target.startswith(s3.endpoint + f"/{bucket}/my-app/releases/1.2.3%2B4/")
    assert "X-Amz-Signature=" in target
    async with httpx.AsyncClient() as outside:
        fetched = await outside.get(target)
    assert fetched.status_code == 200
    assert fetched.content == BODY

    assert await DownloadCount.all().count() == 0  # written in batches, not per request
    await app.state.recorder.flush()
    counted = await DownloadCount.get()
    assert (counted.app_id, counted.platform, counted.version, counted.channel) == (
        release.app_id,
        "darwin-aarch64",
        "1.2.3+4",
        "stable",
    )
    # CF-IPCountry is believed only from a trusted proxy
    assert (counted.country, counted.downloads) == ("XX", 1)


async def test_the_country_comes_from_a_trusted_proxy_only(
    settings: Settings, s3: LocalS3, bucket: str
) -> None:
    behind = dataclasses.replace(settings, trusted_proxies=(ip_network("127.0.0.0/8"),))
    application = create_app(behind)
    async with application.router.lifespan_context(application):
        release = await published(s3, bucket)
        link = f"/dl/{release.app_id}/1.2.3+4/darwin-aarch64"
        proxy = httpx.ASGITransport(app=application, client=("127.0.0.1", 4000))
        stranger = httpx.ASGITransport(app=application, client=("198.51.100.9", 4000))
        for transport, country in ((proxy, "nl"), (proxy, "T1"), (proxy, "XX"), (stranger, "de")):
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                answer = await client.get(link, headers={"CF-IPCountry": country})
                assert answer.status_code == 302
        await application.state.recorder.flush()
        counted = dict(await DownloadCount.all().values_list("country", "downloads"))
    assert counted == {"NL": 1, "T1": 1, "XX": 2}


async def test_public_base_url_redirects_there(
    settings: Settings, s3: LocalS3, bucket: str
) -> None:
    public = dataclasses.replace(settings, download_base_url="https://dl.example.com/")
    application = create_app(public)
    async with application.router.lifespan_context(application):
        release = await published(s3, bucket)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get(f"/dl/{release.app_id}/1.2.3+4/darwin-aarch64")
        assert response.status_code == 302
        assert response.headers["location"] == (
            "https://dl.example.com/my-app/releases/1.2.3%2B4/MyApp.app.tar.gz"
        )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/dl/app_01ARZ3NDEKTSV4RRFFQ69G5FAV/1.2.3+4/darwin-aarch64", 404),  # no such app
        ("/dl/{app}/1.2.3/darwin-aarch64", 404),
        ("/dl/{app}/1.2.3+4/linux-x86_64", 404),
        ("/dl/my-app/1.2.3+4/darwin-aarch64", 404),  # by slug: only links made before 0009
        ("/dl/My%20App/1.2.3+4/darwin-aarch64", 404),
        ("/dl/{app}/latest/darwin-aarch64", 400),
        ("/dl/{app}/1.2.3+4/darwin-universal", 400),
    ],
)
async def test_anything_else_is_a_json_error(
    client: httpx.AsyncClient, app: Starlette, s3: LocalS3, bucket: str, path: str, status: int
) -> None:
    release = await published(s3, bucket)
    response = await client.get(path.replace("{app}", release.app_id))
    assert response.status_code == status
    body: dict[str, Any] = response.json()
    assert body["error"]["code"] == ("NOT_FOUND" if status == 404 else "INVALID_INPUT")
    assert body["error"]["message"]


@pytest.mark.parametrize(
    ("release_status", "artifact_status"),
    [
        (ReleaseStatus.DRAFT, ArtifactStatus.READY),
        (ReleaseStatus.ARCHIVED, ArtifactStatus.READY),
        (ReleaseStatus.PUBLISHED, ArtifactStatus.FAILED),
        (ReleaseStatus.PUBLISHED, ArtifactStatus.PENDING),
    ],
)
async def test_only_published_ready_artifacts_are_served(
    client: httpx.AsyncClient,
    app: Starlette,
    s3: LocalS3,
    bucket: str,
    release_status: ReleaseStatus,
    artifact_status: ArtifactStatus,
) -> None:
    release = await published(s3, bucket, release_status, artifact_status)
    response = await client.get(f"/dl/{release.app_id}/1.2.3+4/darwin-aarch64")
    assert response.status_code == 404
    await app.state.recorder.flush()
    assert await DownloadCount.all().count() == 0


async def test_a_link_made_before_0009_leads_to_the_artifact_it_was_made_for_alone(
    client: httpx.AsyncClient, app: Starlette, s3: LocalS3, bucket: str
) -> None:
    # 0009 kept the slug form of every link it found as the artifact's legacy_link.
    release = await published(s3, bucket)
    legacy = "my-app/1.2.3+4/darwin-aarch64"
    await Artifact.filter(release_id=release.id).update(legacy_link=legacy)

    kept = await client.get("/dl/my-app/1.2.3%2B4/darwin-aarch64")
    assert kept.status_code == 302
    async with httpx.AsyncClient() as outside:
        assert (await outside.get(kept.headers["location"])).content == BODY

    # The app is renamed and another app takes "my-app": its files are no link's of old.
    await apps.update(Actor.console(), release.app_id, apps.AppChanges(slug="renamed"))
    other = await apps.create(Actor.console(), apps.AppChanges(slug="my-app", name="Other"))
    theirs = await releases.create(
        Actor.console(), other.id, releases.ReleaseChanges(version="1.2.3+4")
    )
    s3.client.put_object(Bucket=bucket, Key="other/file", Body=b"not theirs to have")
    await Artifact.create(
        id=new_id("art"),
        release_id=theirs.id,
        platform="darwin-aarch64",
        signature="s",
        object_key="other/file",
        status=ArtifactStatus.READY,
    )
    await Release.filter(id=theirs.id).update(status=ReleaseStatus.PUBLISHED)
    still = await client.get("/dl/my-app/1.2.3%2B4/darwin-aarch64")
    assert still.status_code == 302
    async with httpx.AsyncClient() as outside:
        assert (await outside.get(still.headers["location"])).content == BODY

    # Were a second artifact ever to carry the same old link, it would name neither.
    await Artifact.filter(release_id=theirs.id).update(legacy_link=legacy)
    assert (await client.get("/dl/my-app/1.2.3%2B4/darwin-aarch64")).status_code == 404
