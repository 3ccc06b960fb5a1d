"""What a list of apps shows about each: its newest published version on each channel,
how many releases it has, and its downloads of the last days. A few grouped queries for
the whole list, whatever its length.

Finding the newest version means reading and ordering every published one (semantic
versions do not sort in SQL), so each app's answer is remembered with the generation it
was read at: every change to what is live moves an app's generation on, in the database
that every worker shares, and an answer of another generation is read again.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from cachetools import LRUCache
from tortoise.functions import Count, Sum

from ferryman.models.app import App
from ferryman.models.release import Release
from ferryman.models.status import ReleaseStatus
from ferryman.models.usage import DownloadCount
from ferryman.versions import Version, parse_stored

RECENT = timedelta(days=7)
# (app id, generation) -> newest version per channel; a few hundred bytes an app.
_NEWEST: LRUCache[tuple[str, int], dict[str, Version]] = LRUCache(maxsize=10_000)


@dataclasses.dataclass(frozen=True, slots=True)
class AppSummary:
    newest: dict[str, Version]  # channel -> newest published version
    releases: int
    recent_downloads: int

    @property
    def latest(self) -> Version | None:
        """The newest published version on any channel."""
        return _latest(self.newest)


async def newest_by_channel(app_ids: list[str]) -> dict[str, dict[str, Version]]:
    """Each app's newest published version on each of its channels, in the client's order."""
    generations = dict(await App.filter(id__in=app_ids).values_list("id", "generation"))
    known = {app_id: _NEWEST.get((app_id, generations.get(app_id, -1))) for app_id in app_ids}
    stale = [app_id for app_id, newest in known.items() if newest is None]
    read: dict[str, dict[str, Version]] = {app_id: {} for app_id in stale}
    rows = await Release.filter(app_id__in=stale, status=ReleaseStatus.PUBLISHED).values_list(
        "app_id", "channel", "version"
    )
    for app_id, channel, text in rows:
        version = parse_stored(str(text))
        seen = read[str(app_id)]
        if version is not None and (str(channel) not in seen or seen[str(channel)] < version):
            seen[str(channel)] = version
    for app_id, newest in read.items():
        if app_id in generations:
            _NEWEST[(app_id, int(generations[app_id]))] = newest
    return {app_id: read[app_id] if app_id in read else known[app_id] or {} for app_id in app_ids}


async def latest_versions(app_ids: list[str]) -> dict[str, Version | None]:
    """Each app's newest published version on any channel: a list's "latest version"."""
    newest = await newest_by_channel(app_ids)
    return {app_id: _latest(newest[app_id]) for app_id in app_ids}


def _latest(newest: dict[str, Version]) -> Version | None:
    return max(newest.values(), default=None)


async def release_counts(app_ids: list[str]) -> dict[str, int]:
    rows = (
        await Release.filter(app_id__in=app_ids)
        .annotate(count=Count("id"))
        .group_by("app_id")
        .values_list("app_id", "count")
    )
    return {str(app_id): int(count) for app_id, count in rows}


async def summaries(app_ids: list[str], now: datetime | None = None) -> dict[str, AppSummary]:
    since = ((now or datetime.now(UTC)) - RECENT).date()
    newest = await newest_by_channel(app_ids)
    releases = await release_counts(app_ids)
    rows = (
        await DownloadCount.filter(app_id__in=app_ids, day__gt=since)
        .annotate(count=Sum("downloads"))
        .group_by("app_id")
        .values_list("app_id", "count")
    )
    downloads = {str(app_id): int(count) for app_id, count in rows}
    return {
        app_id: AppSummary(newest[app_id], releases.get(app_id, 0), downloads.get(app_id, 0))
        for app_id in app_ids
    }
