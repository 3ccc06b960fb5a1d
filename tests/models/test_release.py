"""What a door shows before anyone presses Publish: publish's own refusal, asked ahead."""

from __future__ import annotations

import pytest

from ferryman.models import Artifact
from ferryman.models import app as apps
from ferryman.models import release as releases
from ferryman.models.actor import Actor
from ferryman.models.errors import InvalidState
from ferryman.models.status import ArtifactStatus
from tests.support.rows import add_artifact

pytestmark = pytest.mark.usefixtures("orm_url")
CONSOLE = Actor.console()


async def test_the_publish_blocker_is_what_publish_would_say() -> None:
    app = await apps.create(CONSOLE, apps.AppChanges(slug="notes", name="Notes"))
    release = await releases.create(CONSOLE, app.id, releases.ReleaseChanges(version="1.0.0"))

    async def refusal() -> str:
        with pytest.raises(InvalidState) as refused:
            await releases.publish(CONSOLE, release.id)
        return refused.value.message

    assert await releases.publish_blocker(release) == await refusal()
    assert "has no READY artifact" in await refusal()
    await add_artifact(release.id, "linux-x86_64", ArtifactStatus.FAILED)
    await add_artifact(release.id, "darwin-aarch64")
    assert await releases.publish_blocker(release) == await refusal()
    assert "not READY: linux-x86_64 (FAILED)" in await refusal()

    await Artifact.filter(release_id=release.id, platform="linux-x86_64").delete()
    assert await releases.publish_blocker(release) is None
    published = await releases.publish(CONSOLE, release.id)
    assert await releases.publish_blocker(published) == (
        "release 1.0.0 is already published; only drafts can be published"
    )
