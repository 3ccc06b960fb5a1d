"""What happens to a release once it is live: the share of installs it is offered to, a
yank, a one-step rollback on a channel, and the earlier date licences may judge it by.

Each is audited, and changes what installs are offered, so each bumps its app's
generation in the same transaction (the release lifecycle is in :mod:`.release`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from ferryman.models import app as apps
from ferryman.models import audit_event
from ferryman.models import channel as channels
from ferryman.models import generation as generations
from ferryman.models import notification as notifications
from ferryman.models import ramp as ramps
from ferryman.models import signing_key as signing_keys
from ferryman.models.actor import Actor
from ferryman.models.errors import InvalidInput, InvalidState
from ferryman.models.moment import utc
from ferryman.models.release import (
    Release,
    announce,
    change_held,
    change_live,
    get_visible,
    lock,
    require_rollout_changer,
    validated_reason,
)
from ferryman.models.status import ReleaseStatus
from ferryman.models.webhook import Event
from ferryman.versions import parse_stored


async def set_coverage_date(
    actor: Actor, release_id: str, coverage_date: datetime | None, reason: str
) -> Release:
    """Date the release earlier for licences (to ship a fix to lapsed customers), or clear
    the override (None); audited with the reason."""
    actor.require_admin("setting a coverage date")
    release = await get_visible(actor, release_id)
    why = validated_reason(reason)
    if coverage_date is not None:
        coverage_date = utc(coverage_date, ("coverageDate",))
        latest = release.pub_date or datetime.now(UTC)
        if coverage_date > latest:
            what = "publish time" if release.pub_date else "the present (it is not published)"
            raise InvalidInput(
                f"coverageDate {coverage_date.isoformat()} is later than its {what}, "
                f"{latest.isoformat()}: an override may only date a release earlier",
                ("coverageDate",),
            )
    shown = coverage_date.isoformat() if coverage_date else "its publish time"
    return await change_live(
        actor,
        release,
        {"coverage_date": coverage_date},
        "release.coverage_date",
        f"dated {release.version} {shown} for licences: {why}",
    )


async def rollout(actor: Actor, release_id: str, percent: int) -> Release:
    """Offer the release to ``percent`` of installs (by their install id's bucket). A
    rollout schedule the release had ends: a person has taken over."""
    actor.require_writer("changing a rollout")
    release = await get_visible(actor, release_id)
    require_rollout_changer(actor, await apps.App.get(id=release.app_id))
    if not 0 <= percent <= 100:
        raise InvalidInput(
            f"percent must be a whole number from 0 to 100, got {percent}", ("percent",)
        )
    async with in_transaction():
        held = await lock(release.id)
        if held.status is ReleaseStatus.ARCHIVED:
            raise InvalidState(
                f"release {held.version} is archived; it is offered to nobody", ("id",)
            )
        ended = await ramps.end(held.id)
        updated = await change_held(
            actor,
            held,
            {"rollout_percent": percent},
            "release.rollout",
            f"rolled {held.version} out to {percent}% of installs"
            + (f", {ended}" if ended else ""),
            Event.RELEASE_ROLLOUT_CHANGED,
        )
    if held.status is not ReleaseStatus.DRAFT:
        await announce(updated)
    return updated


async def yank(actor: Actor, release_id: str, reason: str) -> Release:
    """Stop offering a published release at once; its files stay in storage."""
    actor.require_admin("yanking a release")
    release = await get_visible(actor, release_id)
    why = validated_reason(reason)
    async with in_transaction():
        held = await lock(release.id)
        await _yank(actor, held, why, "release.yank")
        await notifications.emit_release(Event.RELEASE_YANKED, actor, held, reason=why)
    await announce(held)
    return held


async def rollback(
    actor: Actor, app_id: str, channel: str, reason: str | None
) -> tuple[Release, Release]:
    """Yank the channel's newest release and offer the one before it again (to every
    install, should it have been in a partial rollout), in one audited step. Returns the
    yanked release and the one offered now."""
    actor.require_admin("rolling back a release")
    app = await apps.get_visible(actor, app_id, ("appId",))
    order = channels.order_of(app.channels)
    rank = channels.rank(order, channel, ("channel",))
    why = validated_reason(reason or f"rolled back on {channel}")
    async with in_transaction():
        live = await Release.select_for_update().filter(
            app_id=app.id, status=ReleaseStatus.PUBLISHED
        )
        ordered = [
            (version, r)
            for r in live
            if r.channel in order[: rank + 1] and (version := parse_stored(r.version))
        ]
        ordered.sort(key=lambda pair: pair[0], reverse=True)
        visible = [r for _, r in ordered]
        newest = visible[0] if visible else None
        if newest is None or newest.channel != channel:
            offered = f"{newest.version} from {newest.channel}" if newest else "nothing"
            raise InvalidState(
                f"{channel} installs of {app.slug} are offered {offered}, not a {channel} "
                "release: roll back that channel instead",
                ("channel",),
            )
        below = ordered[0][0]
        previous = next((r for version, r in ordered if version < below), None)
        if previous is None:
            raise InvalidState(
                f"{newest.version} is the only release {channel} installs can be offered, so "
                "there is nothing to roll back to; use releaseYank to withdraw it",
                ("channel",),
            )
        await _yank(actor, newest, why, "release.rollback")
        await ramps.end(previous.id)  # offered to everyone now, whatever its schedule said
        if previous.rollout_percent != 100:
            previous.rollout_percent = 100
            await previous.save(update_fields=["rollout_percent", "updated_at"])
        await audit_event.record(
            actor,
            "release.rollback",
            previous.id,
            app.id,
            f"rolled {channel} back from {newest.version} to {previous.version}: {why}",
        )
        await notifications.emit_release(
            Event.RELEASE_ROLLED_BACK,
            actor,
            previous,
            reason=why,
            yanked={"id": newest.id, "version": newest.version},
        )
    generations.announce(app.slug)
    return newest, previous


async def _yank(actor: Actor, locked: Release, why: str, action: str) -> None:
    if locked.status is not ReleaseStatus.PUBLISHED:
        raise InvalidState(
            f"release {locked.version} is {locked.status.value}; only published releases "
            "can be yanked",
            ("id",),
        )
    locked.status = ReleaseStatus.ARCHIVED
    locked.yanked_at = datetime.now(UTC)
    locked.yank_reason = why
    await locked.save(update_fields=["status", "yanked_at", "yank_reason", "updated_at"])
    await apps.bump_generation(locked.app_id)
    if locked.bridge_to_id is not None:
        await signing_keys.follow(locked.app_id)
    await audit_event.record(
        actor, action, locked.id, locked.app_id, f"yanked {locked.version}: {why}"
    )
