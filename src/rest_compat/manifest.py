"""The manifest resolver: what an installed app is offered, from an index kept in memory.

Per app, the index holds the published releases with their READY artifacts, and for
every platform key the newest release that has it, so answering a check costs a few
dictionary lookups however many releases or apps there are. An index is built from the
database on first use and dropped when the app's generation changes: at once for writes
in this process (``generation.announce``), within a second for writes by other workers
(:class:`GenerationWatcher`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from datetime import datetime

from ferryman.models import App, Artifact, Release
from ferryman.models import generation as generations
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from ferryman.versions import Version

log = logging.getLogger("ferryman.manifest")

POLL_SECONDS = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class Offer:
    """A published release as the updater sees it: its platforms' files and signatures."""

    version: Version
    release_id: str
    notes: str | None
    pub_date: datetime | None
    files: dict[str, tuple[str, str]]  # platform key -> (url, signature)

    def header(self) -> dict[str, object]:
        fields: dict[str, object] = {"version": str(self.version)}
        if self.notes is not None:
            fields["notes"] = self.notes
        if self.pub_date is not None:
            # RFC 3339 with Z, as the client's parser requires; never an empty string.
            fields["pub_date"] = self.pub_date.strftime("%Y-%m-%dT%H:%M:%SZ")
        return fields


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """A 200 answer: the JSON body, and the release it offers (for cache tags)."""

    body: bytes
    release_id: str


class AppIndex:
    """One app's published releases, arranged for constant-time answers."""

    def __init__(self, app_id: str, slug: str, offers: list[Offer]) -> None:
        self.app_id = app_id
        self.slug = slug
        self.newest: dict[str, Offer] = {}  # platform key -> newest offer having it
        self.newest_for_os: dict[str, Offer] = {}  # os -> newest offer with any key of it
        for offer in sorted(offers, key=lambda o: o.version):
            for key in offer.files:
                self.newest[key] = offer
                self.newest_for_os[key.split("-", 1)[0]] = offer
        self._answers: dict[tuple[str, str], Answer] = {}

    def for_platform(
        self, os: str, arch: str, bundle: str | None, current: Version
    ) -> Answer | None:
        """The dynamic answer for one install, or None for "no update" (204).

        An installer-specific key (``linux-x86_64-deb``) wins over the plain one whenever
        the app publishes it at all: a deb install must never be handed an AppImage.
        """
        plain = f"{os}-{arch}"
        key = f"{plain}-{bundle}" if bundle and f"{plain}-{bundle}" in self.newest else plain
        offer = self.newest.get(key)
        if offer is None or not offer.version > current:
            return None
        return self._answer(offer, key)

    def for_os(self, os: str, current: Version) -> Answer | None:
        """The static answer (every platform of the OS) for a route without an arch."""
        offer = self.newest_for_os.get(os)
        if offer is None or not offer.version > current:
            return None
        return self._answer(offer, os)

    def _answer(self, offer: Offer, key: str) -> Answer:
        cached = self._answers.get((offer.release_id, key))
        if cached is not None:
            return cached
        fields = offer.header()
        if key in offer.files:
            fields["url"], fields["signature"] = offer.files[key]
        else:
            fields["platforms"] = {
                platform: {"url": url, "signature": signature}
                for platform, (url, signature) in sorted(offer.files.items())
                if platform.startswith(f"{key}-")
            }
        answer = Answer(json.dumps(fields, separators=(",", ":")).encode(), offer.release_id)
        self._answers[(offer.release_id, key)] = answer
        return answer


class Resolver:
    """Builds app indexes on first use, once per app however many checks arrive together."""

    def __init__(self) -> None:
        self._indexes: dict[str, AppIndex] = {}
        self._building: dict[str, asyncio.Future[AppIndex | None]] = {}
        self._epochs: dict[str, int] = {}

    async def index(self, slug: str) -> AppIndex | None:
        """The app's index, or None when no app has this slug."""
        index = self._indexes.get(slug)
        if index is not None:
            return index
        pending = self._building.get(slug)
        if pending is None:
            pending = asyncio.ensure_future(self._build(slug))
            self._building[slug] = pending
        return await asyncio.shield(pending)

    def forget(self, slug: str) -> None:
        """Drop the app's index; a build already under way is not stored either."""
        self._indexes.pop(slug, None)
        self._epochs[slug] = self._epochs.get(slug, 0) + 1

    async def _build(self, slug: str) -> AppIndex | None:
        epoch = self._epochs.get(slug, 0)
        try:
            index = await load_index(slug)
        finally:
            self._building.pop(slug, None)
        if index is not None and self._epochs.get(slug, 0) == epoch:
            self._indexes[slug] = index
        return index


async def load_index(slug: str) -> AppIndex | None:
    """Read one app's published releases and READY artifacts: two queries."""
    app = await App.get_or_none(slug=slug)
    if app is None:
        return None
    releases = await Release.filter(app_id=app.id, status=ReleaseStatus.PUBLISHED).values(
        "id", "version", "notes", "pub_date"
    )
    files: dict[str, dict[str, tuple[str, str]]] = {r["id"]: {} for r in releases}
    artifacts = await Artifact.filter(
        release__app_id=app.id,
        release__status=ReleaseStatus.PUBLISHED,
        status=ArtifactStatus.READY,
    ).values("release_id", "platform", "download_url", "signature")
    for artifact in artifacts:
        if artifact["download_url"]:
            files[artifact["release_id"]][artifact["platform"]] = (
                artifact["download_url"],
                artifact["signature"],
            )
    offers = [
        Offer(
            version=Version.parse(r["version"]),
            release_id=r["id"],
            notes=r["notes"],
            pub_date=r["pub_date"],
            files=files[r["id"]],
        )
        for r in releases
        if files[r["id"]]
    ]
    return AppIndex(app.id, app.slug, offers)


class GenerationWatcher:
    """Notices changes written by other processes: one cheap query a second.

    When the database-wide counter moved, it compares every app's generation with what
    it saw last and announces the slugs that changed, were renamed or were removed.
    """

    def __init__(self, interval: float = POLL_SECONDS) -> None:
        self.interval = interval
        self._counter = -1
        self._seen: dict[str, tuple[str, int]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def poll(self) -> None:
        counter = await generations.current()
        if counter == self._counter:
            return
        rows = await App.all().values_list("id", "slug", "generation")
        seen = {str(app_id): (str(slug), int(gen)) for app_id, slug, gen in rows}
        if self._counter >= 0:
            for app_id in self._seen.keys() | seen.keys():
                before, after = self._seen.get(app_id), seen.get(app_id)
                if before != after:
                    for entry in (before, after):
                        if entry is not None:
                            generations.announce(entry[0])
        self._counter, self._seen = counter, seen

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:  # an outage must not end the watch; it retries next tick
                log.warning("could not poll cache generations", exc_info=True)
            await asyncio.sleep(self.interval)
