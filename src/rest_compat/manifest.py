"""The manifest resolver: update answers from per-app indexes kept in memory.

An app's :class:`~ferryman.models.offer.OfferIndex` is built from the database on first
use and dropped when the app's generation changes: at once for writes in this process
(``generation.announce``), within a second for writes by other workers
(:class:`GenerationWatcher`). The JSON of each answer is rendered once per index.
"""

from __future__ import annotations

import asyncio
import logging

from ferryman.background import BackgroundLoop
from ferryman.metrics import RESOLVER_REBUILDS
from ferryman.models import App
from ferryman.models import generation as generations
from ferryman.models import offer as offers
from ferryman.models.offer import Choice, OfferIndex

log = logging.getLogger("ferryman.manifest")

POLL_SECONDS = 0.5  # a write by another worker is seen within a second


class Manifests:
    """One app's index, with each answer's JSON rendered at most once."""

    def __init__(self, index: OfferIndex, generation: int) -> None:
        self.index = index
        self.generation = generation  # the app's, when the index was read
        self._bodies: dict[tuple[str, str], bytes] = {}

    def body(self, choice: Choice) -> bytes:
        """The 200 body: the dynamic format for a platform key, static for a bare OS."""
        cache_key = (choice.offer.release_id, choice.key)
        body = self._bodies.get(cache_key)
        if body is None:
            body = self._bodies[cache_key] = choice.manifest()
        return body


class Resolver:
    """Builds app indexes on first use, once per app however many checks arrive together."""

    def __init__(self) -> None:
        self._apps: dict[str, Manifests] = {}
        self._building: dict[str, asyncio.Future[Manifests | None]] = {}
        self._epochs: dict[str, int] = {}
        self._needed: dict[str, int] = {}  # the least generation an index may be stored at

    async def manifests(self, slug: str) -> Manifests | None:
        """The app's manifests, or None when no app has this slug."""
        manifests = self._apps.get(slug)
        if manifests is not None:
            return manifests
        pending = self._building.get(slug)
        if pending is None:
            pending = asyncio.ensure_future(self._build(slug))
            self._building[slug] = pending
        return await asyncio.shield(pending)

    def forget(self, slug: str, generation: int | None = None) -> bool:
        """Drop the app's index, unless it was read at ``generation`` or later (False then).

        A build already under way is not stored either, unless it read that generation or
        a later one; without a generation (a write in this process), it never is.
        """
        kept = self._apps.get(slug)
        if generation is None:
            self._epochs[slug] = self._epochs.get(slug, 0) + 1
        elif kept is not None and kept.generation >= generation:
            return False
        else:
            self._needed[slug] = max(self._needed.get(slug, 0), generation)
        self._apps.pop(slug, None)
        return True

    async def _build(self, slug: str) -> Manifests | None:
        epoch = self._epochs.get(slug, 0)
        try:
            app = await App.get_or_none(slug=slug)
            manifests = None if app is None else Manifests(await offers.load(app), app.generation)
        finally:
            self._building.pop(slug, None)
        if manifests is not None:
            RESOLVER_REBUILDS.labels(slug).inc()
            current = self._epochs.get(slug, 0) == epoch
            if current and manifests.generation >= self._needed.get(slug, 0):
                self._apps[slug] = manifests
        return manifests


class GenerationWatcher(BackgroundLoop):
    """Notices changes written by other processes: one cheap query every half second.

    When the database-wide counter moved, it compares every app's generation with what
    it saw last and announces the slugs that changed, were renamed or were removed.
    """

    def __init__(self, interval: float = POLL_SECONDS) -> None:
        self.interval = interval
        self._counter = -1
        self._seen: dict[str, tuple[str, int]] = {}

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
                    if before is not None and (after is None or before[0] != after[0]):
                        generations.announce(before[0])  # renamed or removed
                    if after is not None:
                        generations.announce(after[0], after[1])
        self._counter, self._seen = counter, seen

    async def run(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:  # an outage must not end the watch; it retries next tick
                log.warning("could not poll cache generations", exc_info=True)
            await asyncio.sleep(self.interval)
