"""What the console shows of an app's signing keys: the settings page's table of keys
(with the bridges that ship each, and how many installs still trust it) and a release's
bridge control. The rules and the counts are the domain's (:mod:`ferryman.models.rotation`,
:func:`ferryman.models.rotation.installs_trusting`); this only gathers them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from ferryman.models import release as releases
from ferryman.models import rotation
from ferryman.models import signing_key as signing_keys
from ferryman.models.actor import Actor, permits
from ferryman.models.app import App
from ferryman.models.release import Release
from ferryman.models.signing_key import KeyState, SigningKey
from ferryman.models.status import ReleaseStatus


@dataclasses.dataclass(frozen=True, slots=True)
class KeyRow:
    key: SigningKey
    bridges: list[Release]  # the releases that ship it, oldest first
    installs: rotation.Trusting  # yesterday's active installs that trust it
    signs: bool  # the key new releases are signed with

    @property
    def retirable(self) -> bool:
        """Whether :func:`ferryman.models.rotation.retire` would take it: it refuses the
        key new releases are signed with."""
        return self.key.state is not KeyState.RETIRED and not self.signs


async def key_rows(app: App) -> list[KeyRow]:
    """The app's keys, oldest first; none before it adds a second key."""
    held = await signing_keys.rows(app.id)
    if not held:
        return []
    chain = await signing_keys.chain(app.id)
    newest = chain.newest if chain else held[0].key_id
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    return [
        KeyRow(
            key=key,
            bridges=await Release.filter(bridge_to_id=key.id).order_by("id"),
            installs=await rotation.installs_trusting(app.id, key.key_id, yesterday),
            signs=key.key_id == newest,
        )
        for key in held
    ]


@dataclasses.dataclass(frozen=True, slots=True)
class Bridge:
    """A release's place between keys, for its page."""

    target: SigningKey | None  # the key it ships, when it is a bridge
    choices: list[SigningKey]  # the keys it may be marked as the bridge to
    signed_with: list[str]  # the key ids its files are signed with
    may_change: bool  # the visitor may mark it, and its status lets it change


async def bridge_of(actor: Actor, app: App, release: Release) -> Bridge | None:
    """None for a release that cannot be a bridge (archived) or an app with one key."""
    if release.status is ReleaseStatus.ARCHIVED:
        return None
    held = await signing_keys.rows(app.id)
    if not held:
        return None
    target = next((key for key in held if key.id == release.bridge_to_id), None)
    choices = [key for key in held if key.state is not KeyState.RETIRED]
    key_ids = await release.artifacts.all().values_list("key_id", flat=True)
    published_bridge = release.status is ReleaseStatus.PUBLISHED and target is not None
    return Bridge(
        target=target,
        choices=choices,
        signed_with=sorted({str(key_id) for key_id in key_ids if key_id}),
        may_change=not published_bridge
        and permits(lambda a: releases.require_publisher(a, app), actor),
    )
