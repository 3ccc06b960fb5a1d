"""The manifest resolver: update answers from per-app indexes kept in memory.

An app's :class:`~ferryman.models.offer.OfferIndex` is built from the database on first
use and dropped when the app's generation changes: at once for writes in this process
(``generation.announce``), promptly for writes by other workers (``generation_watcher``).
The JSON of each answer is rendered once per index (once per link expiry step for a
LICENSED app, whose links are signed and short-lived) by :func:`update_json`, the one
place that spells an offer the way the updater plugin parses it.

The licences checks present are remembered with the index, so they are dropped with it:
a licence change bumps the app's generation.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import datetime

from cachetools import LRUCache

from ferryman.metrics import RESOLVER_REBUILDS
from ferryman.models import App
from ferryman.models import license as licenses
from ferryman.models import offer as offers
from ferryman.models.license import Held
from ferryman.models.offer import Choice, Offer, OfferIndex
from ferryman.rest_compat.links import DownloadLinks

LICENSES_KEPT = 100_000  # per app: each costs a few hundred bytes
VIEWS_KEPT = 1_024  # distinct exclusion sets per app (licence classes x rollout buckets)


# (offer, stored platform key) -> the URL to put in place of the stored one
Link = Callable[[Offer, str], str]


def update_json(choice: Choice, link: Link | None = None) -> bytes:
    """Dynamic format for a platform key, static (``platforms``) for a bare OS.

    ``link`` gives each file's URL in place of the stored one (the short-lived signed
    links of a LICENSED app).
    """
    offer = choice.offer

    def entry(key: str) -> tuple[str, str]:
        stored = offer.served[key]
        url, signature = offer.files[stored]
        return (url if link is None else link(offer, stored)), signature

    fields: dict[str, object] = {"version": str(offer.version)}
    if offer.notes is not None:
        fields["notes"] = offer.notes
    if offer.pub_date is not None:
        # RFC 3339 with Z, as the client's parser requires; never an empty string.
        fields["pub_date"] = offer.pub_date.strftime("%Y-%m-%dT%H:%M:%SZ")
    if choice.key in offer.served:
        fields["url"], fields["signature"] = entry(choice.key)
    else:
        fields["platforms"] = {
            key: dict(zip(("url", "signature"), entry(key), strict=True))
            for key in sorted(offer.served)
            if key.startswith(f"{choice.key}-")
        }
    return json.dumps(fields, separators=(",", ":")).encode()


class Manifests:
    """One app's index, with each answer's JSON rendered at most once."""

    def __init__(self, index: OfferIndex, generation: int, links: DownloadLinks) -> None:
        self.index = index
        self.generation = generation  # the app's, when the index was read
        self._links = links
        self._bodies: dict[tuple[str, str], bytes] = {}
        self._expires = 0
        self._views: LRUCache[frozenset[str], OfferIndex] = LRUCache(VIEWS_KEPT)
        self._held: LRUCache[str, Held] = LRUCache(LICENSES_KEPT)
        # licence id -> (what it does not cover, until when that holds; None: for good)
        self._uncovered: LRUCache[str, tuple[frozenset[str], datetime | None]] = LRUCache(
            LICENSES_KEPT
        )

    def body(self, choice: Choice) -> bytes:
        """The 200 body: the dynamic format for a platform key, static for a bare OS."""
        if self.index.terms.licensed:
            expires = self._links.expiry(time.time())
            if expires != self._expires:
                self._bodies, self._expires = {}, expires
        cache_key = (choice.offer.release_id, choice.key)
        body = self._bodies.get(cache_key)
        if body is None:
            link = self._signed if self.index.terms.licensed else None
            body = self._bodies[cache_key] = update_json(choice, link)
        return body

    def view(self, excluded: frozenset[str]) -> OfferIndex:
        """The index without these releases, built once per distinct set."""
        if not excluded:
            return self.index
        view = self._views.get(excluded)
        if view is None:
            view = self._views[excluded] = self.index.without(excluded)
        return view

    def remembered(self, key_hash: str) -> Held | None:
        """The licence with this key's hash, when it was read before."""
        return self._held.get(key_hash)

    async def license(self, key_hash: str) -> Held | None:
        """The app's licence with this key's hash (None: not one of this app's)."""
        held = self._held.get(key_hash)
        if held is None:
            held = await licenses.find(self.index.app_id, key_hash)
            if held is not None:
                self._held[key_hash] = held
        return held

    def uncovered(self, held: Held, now: datetime) -> frozenset[str]:
        """The releases this licence does not cover now, worked out once per licence
        (and again once it lapses)."""
        known = self._uncovered.get(held.license_id)
        if known is not None and (known[1] is None or now <= known[1]):
            return known[0]
        coverage = self.index.terms.coverage(held)
        uncovered = self.index.uncovered(coverage, now)
        self._uncovered[held.license_id] = (uncovered, coverage.changes_at(now))
        return uncovered

    def _signed(self, offer: Offer, platform: str) -> str:
        return self._links.url(self.index.app_id, str(offer.version), platform, self._expires)


class Resolver:
    """Builds app indexes on first use, once per app however many checks arrive together."""

    def __init__(self, links: DownloadLinks) -> None:
        self.links = links
        self._apps: dict[str, Manifests] = {}
        self._building: dict[str, asyncio.Future[Manifests | None]] = {}
        self._epochs: dict[str, int] = {}
        self._needed: dict[str, int] = {}  # the least generation an index may be stored at
        # Apps whose last index gave every install the same answers; kept after forget(),
        # so an outage can still be answered from stale cache entries for them.
        self._shared: dict[str, bool] = {}

    def was_shared(self, slug: str) -> bool:
        """Did the app's last index give every install the same answers?"""
        return self._shared.get(slug, False)

    def loaded(self, slug: str) -> Manifests | None:
        """The app's manifests when they are in memory (no waiting)."""
        return self._apps.get(slug)

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
        if generation is None:  # perhaps another app's slug now: its count starts afresh
            self._epochs[slug] = self._epochs.get(slug, 0) + 1
            self._needed.pop(slug, None)
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
            if app is None:
                manifests = None
            else:
                manifests = Manifests(await offers.load(app), app.generation, self.links)
        finally:
            self._building.pop(slug, None)
        if manifests is not None:
            self._shared[slug] = manifests.index.shared
            RESOLVER_REBUILDS.labels(slug).inc()
            current = self._epochs.get(slug, 0) == epoch
            if current and manifests.generation >= self._needed.get(slug, 0):
                self._apps[slug] = manifests
        return manifests
