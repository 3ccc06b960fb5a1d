"""Releases and artifacts written directly with the models, skipping the upload.

For tests about something else (logs, metrics, rate limits, purges, outages, the index's
own bookkeeping) that need a release on the update path, or many of them quickly; what
an updater is offered is tested with releases shipped through the real upload-and-verify
path (:mod:`tests.support.shipping`). A module that uses these says so in its docstring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferryman.models import Artifact
from ferryman.models import app as apps
from ferryman.models import release as releases
from ferryman.models.actor import Actor
from ferryman.models.ids import new_id
from ferryman.models.signing_key import key_id_of
from ferryman.models.status import ArtifactStatus
from tests.support import api
from tests.support.tauri_files import TARBALL, text

if TYPE_CHECKING:
    from tests.conftest import GraphQL
    from tests.signing import Signer

SIGNATURE = text(f"{TARBALL}.sig")
PLATFORM = "linux-x86_64"


async def add_artifact(
    release_id: str,
    platform: str = "darwin-aarch64",
    status: ArtifactStatus = ArtifactStatus.READY,
) -> str:
    """Attach an artifact row to a release, with no file behind it; returns its id."""
    artifact = await Artifact.create(
        id=new_id("art"),
        release_id=release_id,
        platform=platform,
        signature="sig",
        object_key="k",
        status=status,
    )
    return artifact.id


async def published_release(gql: GraphQL, key: str, app_id: str, version: str) -> str:
    """A release of ``app_id`` that is live: created and published through the API, its
    READY artifact a row without a file."""
    release_id = await api.create_release(gql, key, app_id, version)
    await add_artifact(release_id)
    await api.publish(gql, key, release_id)
    return release_id


async def publish(slug: str, version: str, platforms: list[str]) -> str:
    """A published release of the app ``slug`` (created when missing) with READY artifact
    rows that carry a committed signature and an outside download URL, published through
    the domain rules (so the app's generation moves on); returns its id."""
    console = Actor.console()
    app = await apps.App.get_or_none(slug=slug) or await apps.create(
        console, apps.AppChanges(slug=slug, name=slug)
    )
    release = await releases.create(
        console, app.id, releases.ReleaseChanges(version=version, notes="Notes")
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
    await releases.publish(console, release.id)
    return release.id


async def signed_draft(app_id: str, version: str, signer: Signer, platform: str = PLATFORM) -> str:
    """A draft of ``app_id`` with a READY artifact row that ``signer`` signed for
    ``version``, its key id recorded as the upload's check records it; returns its id."""
    release = await releases.create(
        Actor.console(), app_id, releases.ReleaseChanges(version=version, notes="Notes")
    )
    filename = f"app-{version}.tar.gz"
    await Artifact.create(
        id=new_id("art"),
        release_id=release.id,
        platform=platform,
        filename=filename,
        signature=signer.sign(f"{version} {platform}".encode(), filename, version),
        signed_version=version,
        key_id=key_id_of(signer.public_key),
        object_key=f"{app_id}/releases/{version}/{platform}.bin",
        status=ArtifactStatus.READY,
        download_url=f"https://dl.example.com/{app_id}/{version}/{platform}",
    )
    return release.id
