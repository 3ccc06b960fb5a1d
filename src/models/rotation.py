"""Rotating an app's updater key: adding the next key, marking the bridge release that
ships it, and retiring a key no install needs (see :mod:`.signing_key` for the rules
installs are offered by)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from tortoise.transactions import in_transaction

from ferryman.analytics import series
from ferryman.analytics.series import Source
from ferryman.models import app as apps
from ferryman.models import audit_event, ids
from ferryman.models import release as releases
from ferryman.models import signing_key as signing_keys
from ferryman.models.actor import Actor
from ferryman.models.errors import InvalidInput, InvalidState, NotFound, Taken
from ferryman.models.ids import new_id
from ferryman.models.release import Release
from ferryman.models.signing_key import KeyState, SigningKey
from ferryman.models.status import ReleaseStatus
from ferryman.signatures import PublicKey
from ferryman.versions import parse_stored

MAX_KEYS = 20


@dataclasses.dataclass(frozen=True, slots=True)
class Trusting:
    """A day's active installs whose version trusts one key."""

    day: date
    installs: int
    source: Source  # exact (last-check days the app sends) or estimated (sketches)


async def installs_trusting(app_id: str, key_id: str, day: date) -> Trusting:
    """The day's active installs, from analytics, on versions whose installs trust
    ``key_id``: once none do, the key can be retired."""
    chain = await signing_keys.chain(app_id)
    held = await signing_keys.rows(app_id)
    root = held[0].key_id if held else None
    adoption = await series.adoption(app_id, day, day)
    count = 0
    for point in adoption.points:
        version = parse_stored(point.version)
        if version is not None and (chain.trusted(version) if chain else root) == key_id:
            count += point.installs
    return Trusting(day, count, adoption.source)


async def get_visible(actor: Actor, key_id: str, field: tuple[str, ...] = ("id",)) -> SigningKey:
    key = await SigningKey.get_or_none(id=ids.require(key_id, "sgk", field))
    if key is None or not actor.sees(key.app_id):
        raise NotFound(f"signing key {key_id} not found", field)
    return key


async def add(actor: Actor, app_id: str, public_key: str) -> SigningKey:
    """Add the key the app will move to (NEXT): releases signed with it are published
    once a bridge to it is. The app's own key becomes its first row."""
    apps.require_editor(actor)
    app = await apps.get_visible(actor, app_id, ("appId",))
    if len(public_key) > apps.PUBLIC_KEY_MAX:
        raise InvalidInput(
            f"publicKey is longer than {apps.PUBLIC_KEY_MAX} characters; paste the content of "
            "the .pub file that `tauri signer generate` wrote",
            ("publicKey",),
        )
    key_id = PublicKey.parse(public_key, ("publicKey",)).key_id_hex
    if not app.public_key:
        raise InvalidState(
            f"app {app.slug} has no publicKey yet: set its first key with appUpdate; keys "
            "added here are the ones it moves to later",
            ("appId",),
        )
    async with in_transaction():
        await apps.App.select_for_update().get(id=app.id)
        held = await signing_keys.rows(app.id)
        if not held:
            first = signing_keys.bare(app)
            first.id = new_id("sgk")
            await first.save()
            held = [first]
        if any(key.key_id == key_id for key in held):
            raise Taken(f"app {app.slug} already holds key {key_id}", ("publicKey",))
        if len(held) >= MAX_KEYS:
            raise InvalidState(
                f"app {app.slug} holds {len(held)} keys, the most it may; retired keys stay, "
                "as their files are still offered",
                ("appId",),
            )
        key = await SigningKey.create(
            id=new_id("sgk"),
            app_id=app.id,
            position=held[-1].position + 1,
            key_id=key_id,
            public_key=public_key.strip(),
            state=KeyState.NEXT,
        )
        await audit_event.record(
            actor,
            "app.signing_key_add",
            key.id,
            app.id,
            f"added signing key {key_id} to {app.slug} (NEXT: publish a bridge to it)",
        )
    return key


async def retire(actor: Actor, key_id: str) -> SigningKey:
    """Sign no more with a key: what it signed stays offered to installs that trust it."""
    apps.require_editor(actor)
    key = await get_visible(actor, key_id)
    async with in_transaction():
        app = await apps.App.select_for_update().get(id=key.app_id)
        key = await SigningKey.get(id=key.id)
        if key.state is KeyState.RETIRED:
            return key
        current = await signing_keys.chain(app.id)
        held = await signing_keys.rows(app.id)
        newest = current.newest if current else held[0].key_id
        if key.key_id == newest:
            raise InvalidState(
                f"key {key.key_id} is the one the newest installs of {app.slug} trust and new "
                "releases are signed with: publish a bridge to another key first",
                ("id",),
            )
        draft = await key.bridges.filter(status=ReleaseStatus.DRAFT).first()
        if draft is not None:
            raise InvalidState(
                f"draft {draft.version} is marked as the bridge to key {key.key_id}: unmark it "
                "(releaseBridgeSet with no key) before retiring the key it would ship",
                ("id",),
            )
        key.state, key.retired_at = KeyState.RETIRED, datetime.now(UTC)
        await key.save(update_fields=["state", "retired_at"])
        await audit_event.record(
            actor,
            "app.signing_key_retire",
            key.id,
            app.id,
            f"retired signing key {key.key_id} of {app.slug}",
        )
    return key


async def set_bridge(actor: Actor, release_id: str, signing_key_id: str | None) -> Release:
    """Mark the release as the one that ships ``signing_key_id`` (None: as no bridge).

    A draft may be marked and unmarked; a published release may be marked once it is
    signed as a bridge must be, but never unmarked: its installs already trust the key.
    """
    release = await releases.get_visible(actor, release_id)
    app = await apps.App.get(id=release.app_id)
    releases.require_publisher(actor, app)
    target = None
    if signing_key_id is not None:
        target = await get_visible(actor, signing_key_id, ("signingKeyId",))
        if target.app_id != app.id:
            raise NotFound(f"signing key {signing_key_id} not found", ("signingKeyId",))
        if target.state is KeyState.RETIRED:
            raise InvalidState(
                f"key {target.key_id} is retired: a bridge leads installs to a key that signs",
                ("signingKeyId",),
            )
    async with in_transaction():
        held = await releases.lock(release.id)
        if held.bridge_to_id == (target.id if target else None):
            return held
        if held.status is ReleaseStatus.ARCHIVED:
            raise InvalidState(
                f"release {held.version} is archived; mark a live release as the bridge",
                ("id",),
            )
        if held.status is ReleaseStatus.PUBLISHED:
            if held.bridge_to_id is not None:
                raise InvalidState(
                    f"release {held.version} is a published bridge: its installs already "
                    "trust the key it ships, so it stays one",
                    ("id",),
                )
            assert target is not None
            artifacts = await held.artifacts.all()
            held.bridge_to_id = target.id
            refusal = await signing_keys.publish_refusal(held, artifacts)
            if refusal:
                raise InvalidState(refusal, ("id",))
        elif target is not None and await held.artifacts.filter(key_id=target.key_id).exists():
            raise InvalidState(
                f"release {held.version} has files signed with key {target.key_id}, the key "
                "it would ship: a bridge is signed with the key installs trust now",
                ("signingKeyId",),
            )
        summary = (
            f"marked {held.version} as the bridge to key {target.key_id}"
            if target
            else f"{held.version} is no longer a bridge"
        )
        updated = await releases.change_held(
            actor,
            held,
            {"bridge_to_id": target.id if target else None},
            "release.bridge",
            summary,
        )
        if updated.status is ReleaseStatus.PUBLISHED:
            await signing_keys.follow(app.id)
    if updated.status is ReleaseStatus.PUBLISHED:
        await releases.announce(updated)
    return updated
