"""What publishing a draft would change, said before anyone does it.

For each platform of the draft, :func:`~ferryman.models.preview.preview` (the rules behind
GraphQL's ``updatePreview``, which are the updater route's) says what installs on the
draft's channel are offered now; the draft is offered instead when it is newer.
"""

from __future__ import annotations

import dataclasses

from ferryman.models import app as apps
from ferryman.models.actor import Actor
from ferryman.models.preview import Install, preview
from ferryman.models.release import get_visible, require_publisher
from ferryman.versions import Version

# Lower than every version: an install that any published release is newer than.
_OLDEST = "0.0.0-0"


@dataclasses.dataclass(frozen=True, slots=True)
class Outlook:
    platform: str
    summary: str


async def publish_outlook(actor: Actor, release_id: str) -> list[Outlook]:
    """For each platform of the release, who would be offered what once it is published."""
    release = await get_visible(actor, release_id)
    app = await apps.App.get(id=release.app_id)
    require_publisher(actor, app)
    version = Version.parse(release.version)
    share = "" if release.rollout_percent == 100 else f" ({release.rollout_percent}% of them)"
    where = f"({release.channel} channel)"
    outlooks = []
    platforms = (
        await release.artifacts.all().order_by("platform").values_list("platform", flat=True)
    )
    for platform in map(str, platforms):
        os, arch, *bundle = platform.split("-")
        install = Install(os, arch, bundle[0] if bundle else None, _OLDEST, release.channel)
        answer = await preview(actor, app.id, install)
        now = answer.choice.offer.version if answer.choice else None
        if answer.status not in (200, 204):
            summary = (
                f"Installs on {platform} {where} need a licence; each is offered {version} "
                "when its licence covers it"
            )
        elif now is not None and now >= version:
            summary = (
                f"Installs on {platform} {where} will still be offered {now}, which is newer "
                f"than {version}"
            )
        elif now is None:
            summary = (
                f"Installs on {platform} {where}, offered nothing now, will be offered "
                f"{version}{share}"
            )
        else:
            summary = f"Installs of {now} on {platform} {where} will be offered {version}{share}"
        outlooks.append(Outlook(platform, summary))
    return outlooks
