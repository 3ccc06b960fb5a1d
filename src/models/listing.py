"""An app's releases as people look through them: which ones pass a filter (newest first,
read in :mod:`.keyset` pages), the state of each one's platforms, and the release a draft
is compared with (the one before it)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from typing import Self

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from ferryman.models import channel as channels
from ferryman.models.artifact import Artifact
from ferryman.models.errors import InvalidInput
from ferryman.models.release import Release
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from ferryman.models.text import reject_nul, reject_unencodable
from ferryman.versions import parse_stored

SEARCH_MAX = 200


@dataclasses.dataclass(frozen=True, slots=True)
class ReleaseFilter:
    """Which releases to list; None (or "") lets every release through. The dates are
    UTC days, inclusive, of the date a release is shown with: when it was published, or
    created while it is a draft."""

    status: ReleaseStatus | None = None
    channel: str | None = None
    since: date | None = None
    until: date | None = None
    search: str | None = None  # part of the version or of the notes, in any case

    def checked(self, order: tuple[str, ...]) -> Self:
        """This filter, when it can match releases of an app with channels ``order``."""
        if self.channel:
            channels.rank(order, self.channel, ("channel",))
        if self.since and self.until and self.since > self.until:
            raise InvalidInput(
                f"the range starts on {self.since} but ends earlier, on {self.until}", ("until",)
            )
        reject_nul(self.search, ("search",))
        reject_unencodable(self.search, ("search",))
        if self.search and len(self.search) > SEARCH_MAX:
            raise InvalidInput(f"search for at most {SEARCH_MAX} characters", ("search",))
        return self


def listed(app_id: str, filters: ReleaseFilter | None = None) -> QuerySet[Release]:
    """The app's releases that pass ``filters`` (checked), in no order: page them with
    :func:`ferryman.models.keyset.page`, which reads the ``(app_id, id)`` index."""
    rows = Release.filter(app_id=app_id)
    if filters is None:
        return rows
    if filters.status is not None:
        rows = rows.filter(status=filters.status)
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    if filters.since is not None:
        start = datetime.combine(filters.since, time(), UTC)
        rows = rows.filter(Q(pub_date__gte=start) | Q(pub_date__isnull=True, created_at__gte=start))
    if filters.until is not None:
        end = datetime.combine(filters.until + timedelta(days=1), time(), UTC)
        rows = rows.filter(Q(pub_date__lt=end) | Q(pub_date__isnull=True, created_at__lt=end))
    if filters.search:
        rows = rows.filter(
            Q(version__icontains=filters.search) | Q(notes__icontains=filters.search)
        )
    return rows


async def artifact_states(release_ids: list[str]) -> dict[str, dict[str, ArtifactStatus]]:
    """Each release's platforms and the state of its artifact on each, in one query."""
    states: dict[str, dict[str, ArtifactStatus]] = {release_id: {} for release_id in release_ids}
    rows = (
        await Artifact.filter(release_id__in=release_ids)
        .order_by("platform")
        .values_list("release_id", "platform", "status")
    )
    for release_id, platform, status in rows:
        states[str(release_id)][str(platform)] = ArtifactStatus(status)
    return states


async def previous_published(release: Release) -> Release | None:
    """The app's published release with the highest version below this one's, in the
    updater's order: the platforms it served are the ones this release should serve too."""
    mine = parse_stored(release.version)
    if mine is None:
        return None
    rows = await Release.filter(app_id=release.app_id, status=ReleaseStatus.PUBLISHED).values_list(
        "id", "version"
    )
    below = [
        (version, str(release_id))
        for release_id, text in rows
        if (version := parse_stored(str(text))) is not None and version < mine
    ]
    if not below:
        return None
    return await Release.get(id=max(below)[1])
