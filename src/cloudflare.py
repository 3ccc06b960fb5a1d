"""Purging Cloudflare's cache by tag when an app's update answers change.

The updater route tags every answer ``app:{slug}``. After a change, this asks the
Cloudflare API to purge that tag, and again a little later for fills that were in
flight. What is owed comes from the apps' generations (``models.edge_purge``), compared
with what was purged every tick, so a failed call is retried with backoff until it
succeeds, a restart loses nothing, and every process's writes are seen.

Every worker runs a purger over the same rows, on either database, with no lock between
them: a purge is idempotent, so two workers that find the same change owed at the same
moment both purge it, which costs one call more. A worker that records an older round after
another recorded a newer one only makes the change owed once more. The record is one
transaction, which takes SQLite's write lock as it begins (``models.sqlite``).
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
from tortoise.transactions import in_transaction

from ferryman.background import BackgroundLoop
from ferryman.models import App, EdgePurge
from ferryman.settings import Settings

log = logging.getLogger("ferryman.cloudflare")

POLL_SECONDS = 1.0
SECOND_PURGE_SECONDS = 15.0
TAGS_PER_CALL = 100
MAX_BACKOFF = 300.0


class PurgeFailed(Exception):
    """Cloudflare did not confirm the purge; it stays owed."""


class CloudflarePurger(BackgroundLoop):
    """Keeps Cloudflare's cache in step with the apps' generations."""

    def __init__(
        self,
        settings: Settings,
        *,
        interval: float = POLL_SECONDS,
        second_purge: float = SECOND_PURGE_SECONDS,
    ) -> None:
        assert settings.cloudflare_zone_id
        assert settings.cloudflare_api_token
        self._url = (
            f"{settings.cloudflare_api_url.rstrip('/')}/zones/"
            f"{settings.cloudflare_zone_id}/purge_cache"
        )
        self._headers = {"Authorization": f"Bearer {settings.cloudflare_api_token}"}
        self.interval = interval
        self.second_purge = second_purge
        self._client = httpx.AsyncClient(timeout=10.0)
        self._failures = 0
        self._retry_at = 0.0
        self._later: list[tuple[float, set[str]]] = []

    async def stop(self) -> None:
        await super().stop()
        await self._client.aclose()

    async def sync(self) -> None:
        """Purge what changed since the last successful round (raises PurgeFailed)."""
        await self._second_purges()
        apps = {
            str(app_id): (str(slug), int(gen))
            for app_id, slug, gen in await App.all().values_list("id", "slug", "generation")
        }
        purged = {row.app_id: (row.slug, int(row.generation)) for row in await EdgePurge.all()}
        tags: set[str] = set()
        for app_id in apps.keys() | purged.keys():
            now, before = apps.get(app_id), purged.get(app_id)
            if now != before:
                tags.update(f"app:{entry[0]}" for entry in (now, before) if entry is not None)
        if tags:
            await self.purge(tags)
            self._later.append((time.monotonic() + self.second_purge, tags))
            async with in_transaction():
                await EdgePurge.filter(app_id__not_in=list(apps)).delete()
                for app_id, (slug, gen) in apps.items():
                    if purged.get(app_id) != (slug, gen):
                        await EdgePurge.update_or_create(
                            {"slug": slug, "generation": gen}, app_id=app_id
                        )

    async def purge(self, tags: set[str]) -> None:
        ordered = sorted(tags)
        for start in range(0, len(ordered), TAGS_PER_CALL):
            batch = ordered[start : start + TAGS_PER_CALL]
            try:
                response = await self._client.post(
                    self._url, json={"tags": batch}, headers=self._headers
                )
                body = response.json()
            except (httpx.HTTPError, ValueError) as error:
                raise PurgeFailed(f"purge of {batch} failed: {error}") from error
            if response.status_code != 200 or not body.get("success"):
                raise PurgeFailed(
                    f"purge of {batch} refused with {response.status_code}: {body.get('errors')}"
                )
            log.info("purged %s from Cloudflare", ", ".join(batch))

    async def _second_purges(self) -> None:
        now = time.monotonic()
        due = [tags for at, tags in self._later if at <= now]
        if due:
            await self.purge(set().union(*due))
            self._later = [(at, tags) for at, tags in self._later if at > now]

    async def run(self) -> None:
        while True:
            if time.monotonic() >= self._retry_at:
                try:
                    await self.sync()
                    self._failures = 0
                except Exception as error:  # retried with backoff; never ends the loop
                    self._failures += 1
                    delay = min(MAX_BACKOFF, self.interval * 2**self._failures)
                    self._retry_at = time.monotonic() + delay
                    log.warning("Cloudflare purge failed (retrying in %.0f s): %s", delay, error)
            await asyncio.sleep(self.interval)
