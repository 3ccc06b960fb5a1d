"""Rollout schedules: a release's percentage raised step by step, each step not before its
time, like a phased release (1, 2, 5, 10, 20, 50, 100 % over seven days).

A schedule (a :class:`Ramp`) belongs to one release and lists its steps; ``reached``
counts the steps taken so far. Every worker's :class:`ferryman.ramp_runner.RampRunner`
calls :func:`advance`, and a step is taken by a compare-and-set on ``reached``, in the
transaction that sets the percentage, audits and announces it: whichever worker wins
takes it, once. A paused schedule takes no step, records who paused it and why, and on
resume moves its pending steps later by the time it was paused.

Setting a percentage by hand (``rollout``) or rolling back to a release ends its
schedule: a person has taken over.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from ferryman.models import app as apps
from ferryman.models import audit_event
from ferryman.models.actor import Actor
from ferryman.models.errors import InvalidInput, InvalidState
from ferryman.models.moment import utc
from ferryman.models.release import (
    Release,
    announce,
    change_held,
    get_visible,
    lock,
    require_rollout_changer,
    validated_reason,
)
from ferryman.models.status import ReleaseStatus
from ferryman.models.webhook import Event

MAX_STEPS = 20
PHASED_PERCENTS = (1, 2, 5, 10, 20, 50, 100)
PHASED_EVERY = timedelta(hours=24)
PAUSED_BY_MAX = 64
# Who takes a schedule's steps: the audit trail shows it as the request id.
SCHEDULER = Actor.system("rollout-schedule")
# Who holds a due step, or halts a release, on a health gate's verdict (models.health).
GATE = Actor.system("health-gate")


class RampPreset(enum.Enum):
    """A named schedule: PHASED is Apple's phased release, a step every 24 hours."""

    PHASED = "PHASED"


class Ramp(Model):
    """A release's rollout schedule and how far it has come."""

    id = fields.IntField(primary_key=True)
    release: fields.OneToOneRelation[Release] = fields.OneToOneField(
        "models.Release", related_name="ramp", on_delete=fields.CASCADE
    )
    # Steps taken (0 to all of them): the column a step's compare-and-set tests.
    reached = fields.SmallIntField(default=0)
    # When the next step is due, while the schedule runs; null when paused or finished.
    next_at = fields.DatetimeField(null=True)
    paused_at = fields.DatetimeField(null=True)
    paused_by = fields.CharField(max_length=PAUSED_BY_MAX, null=True)
    pause_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    release_id: str
    steps: fields.ReverseRelation[RampStep]

    class Meta:
        table = "ramps"
        indexes = (("next_at",),)


class RampStep(Model):
    """One step: from ``not_before`` on, the release goes to ``percent``."""

    id = fields.IntField(primary_key=True)
    ramp: fields.ForeignKeyRelation[Ramp] = fields.ForeignKeyField(
        "models.Ramp", related_name="steps", on_delete=fields.CASCADE
    )
    position = fields.SmallIntField()  # from 1
    percent = fields.SmallIntField()
    not_before = fields.DatetimeField()
    reached_at = fields.DatetimeField(null=True)

    ramp_id: int

    class Meta:
        table = "ramp_steps"
        unique_together = (("ramp", "position"),)


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """A step as asked for."""

    percent: int
    not_before: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class Schedule:
    """A schedule as read: its row and its steps in order."""

    ramp: Ramp
    steps: list[RampStep]

    @property
    def reached(self) -> int:
        reached: int = self.ramp.reached
        return reached

    @property
    def finished(self) -> bool:
        return self.reached >= len(self.steps)

    @property
    def next_step(self) -> RampStep | None:
        return None if self.finished else self.steps[self.reached]

    @property
    def where(self) -> str:
        """How far it has come, for summaries."""
        return f"step {self.reached} of {len(self.steps)} reached"


def phased(start: datetime) -> list[Step]:
    """Apple's phased release from ``start``: 1, 2, 5, 10, 20, 50, 100 %, a day apart."""
    return [Step(p, start + i * PHASED_EVERY) for i, p in enumerate(PHASED_PERCENTS)]


def validated_steps(
    steps: Sequence[Step] | None, preset: RampPreset | None, start: datetime | None, now: datetime
) -> list[Step]:
    """The steps asked for, either listed or a preset's from ``start`` (default: now), or
    InvalidInput naming the field at fault and what is accepted."""
    if (steps is None) == (preset is None):
        raise InvalidInput(
            "give either steps (a list of percent and notBefore) or a preset (PHASED), "
            "not both or neither",
            ("steps",),
        )
    if preset is not None:
        return phased(now if start is None else utc(start, ("start",)))
    assert steps is not None
    if start is not None:
        raise InvalidInput(
            "start goes with a preset; listed steps each give their notBefore", ("start",)
        )
    if not 1 <= len(steps) <= MAX_STEPS:
        raise InvalidInput(f"a schedule has 1 to {MAX_STEPS} steps, got {len(steps)}", ("steps",))
    checked: list[Step] = []
    for i, step in enumerate(steps):
        field = ("steps", str(i))
        if not 1 <= step.percent <= 100:
            raise InvalidInput(
                f"steps[{i}].percent must be a whole number from 1 to 100, got {step.percent}",
                (*field, "percent"),
            )
        when = utc(step.not_before, (*field, "notBefore"))
        if checked and step.percent <= checked[-1].percent:
            raise InvalidInput(
                f"steps[{i}].percent is {step.percent}, not above the step before it "
                f"({checked[-1].percent}): percentages must rise strictly",
                (*field, "percent"),
            )
        if checked and when < checked[-1].not_before:
            raise InvalidInput(
                f"steps[{i}].notBefore {when.isoformat()} is earlier than the step before "
                f"it ({checked[-1].not_before.isoformat()}): times may not go back",
                (*field, "notBefore"),
            )
        checked.append(Step(step.percent, when))
    return checked


async def read(release_id: str) -> Schedule | None:
    """The release's schedule, or None."""
    ramp = await Ramp.get_or_none(release_id=release_id)
    return None if ramp is None else await _with_steps(ramp)


async def read_many(release_ids: Sequence[str]) -> dict[str, Schedule]:
    """The schedules of those of the releases that have one, in two queries."""
    ramps = await Ramp.filter(release_id__in=list(release_ids))
    steps = await RampStep.filter(ramp_id__in=[r.id for r in ramps]).order_by("position")
    by_ramp: dict[int, list[RampStep]] = {r.id: [] for r in ramps}
    for step in steps:
        by_ramp[step.ramp_id].append(step)
    return {r.release_id: Schedule(r, by_ramp[r.id]) for r in ramps}


async def schedule(
    actor: Actor,
    release_id: str,
    steps: Sequence[Step] | None = None,
    preset: RampPreset | None = None,
    start: datetime | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> Release:
    """Give a draft or live release a schedule (replacing any it has). The percentage goes
    at once to the latest step already due, or to 0 until the first step is."""
    now = now or datetime.now(UTC)
    release = await _changeable(actor, release_id)
    wanted = validated_steps(steps, preset, start, now)
    why = None if reason is None else validated_reason(reason)
    async with in_transaction():
        held = await _require_not_archived(release.id)
        replaced = await Ramp.filter(release_id=held.id).delete()
        ramp = await Ramp.create(release_id=held.id)
        await RampStep.bulk_create(
            [
                RampStep(
                    ramp_id=ramp.id, position=i + 1, percent=s.percent, not_before=s.not_before
                )
                for i, s in enumerate(wanted)
            ]
        )
        made = await _with_steps(ramp)
        due = _due(made.steps, now)
        percent = made.steps[due - 1].percent if due else 0
        await _mark_reached(made, due, now)
        listed = ", ".join(f"{s.percent}% from {s.not_before.isoformat()}" for s in wanted)
        summary = (
            f"{'replaced the rollout schedule' if replaced else 'scheduled the rollout'} of "
            f"{held.version} in {len(wanted)} steps ({listed}); now at {percent}%"
            + (f": {why}" if why else "")
        )
        changed = percent != held.rollout_percent
        updated = await change_held(
            actor,
            held,
            {"rollout_percent": percent},
            "release.rollout_schedule",
            summary,
            Event.RELEASE_ROLLOUT_CHANGED if changed else None,
        )
    if held.status is not ReleaseStatus.DRAFT:
        await announce(updated)
    return updated


async def pause(actor: Actor, release_id: str, reason: str, now: datetime | None = None) -> Release:
    """Stop the schedule where it is until :func:`resume`; who paused it and why are kept."""
    now = now or datetime.now(UTC)
    release = await _changeable(actor, release_id)
    why = validated_reason(reason)
    async with in_transaction():
        held = await lock(release.id)
        running = await _locked_schedule(held)
        if running.ramp.paused_at is not None:
            raise InvalidState(
                f"the rollout schedule of {held.version} has been paused since "
                f"{running.ramp.paused_at.isoformat()} ({running.ramp.pause_reason})",
                ("id",),
            )
        _require_unfinished(held, running, "paused")
        await Ramp.filter(id=running.ramp.id).update(
            paused_at=now, paused_by=actor.name[:PAUSED_BY_MAX], pause_reason=why, next_at=None
        )
        await audit_event.record(
            actor,
            "release.rollout_pause",
            held.id,
            held.app_id,
            f"paused the rollout schedule of {held.version} at {held.rollout_percent}% "
            f"({running.where}): {why}",
        )
    return held


async def resume(actor: Actor, release_id: str, now: datetime | None = None) -> Release:
    """Go on with a paused schedule: its pending steps move later by the time it was
    paused, so the pause does not count."""
    now = now or datetime.now(UTC)
    release = await _changeable(actor, release_id)
    async with in_transaction():
        held = await lock(release.id)
        paused = await _locked_schedule(held)
        paused_at = paused.ramp.paused_at
        if paused_at is None:
            raise InvalidState(f"the rollout schedule of {held.version} is not paused", ("id",))
        waited = max(now - paused_at, timedelta(0))
        pending = paused.steps[paused.ramp.reached :]
        for step in pending:
            step.not_before += waited
            await step.save(update_fields=["not_before"])
        await Ramp.filter(id=paused.ramp.id).update(
            paused_at=None,
            paused_by=None,
            pause_reason=None,
            next_at=pending[0].not_before if pending else None,
        )
        await audit_event.record(
            actor,
            "release.rollout_resume",
            held.id,
            held.app_id,
            f"resumed the rollout schedule of {held.version} after {_span(waited)} paused "
            f"({paused.ramp.pause_reason}); its {len(pending)} pending steps moved as much later",
        )
    return held


async def cancel(actor: Actor, release_id: str) -> Release:
    """Remove the schedule; the percentage stays where it is."""
    release = await _changeable(actor, release_id)
    async with in_transaction():
        held = await lock(release.id)
        ended = await _locked_schedule(held)
        await Ramp.filter(id=ended.ramp.id).delete()
        await audit_event.record(
            actor,
            "release.rollout_schedule_cancel",
            held.id,
            held.app_id,
            f"cancelled the rollout schedule of {held.version} ({ended.where}); it stays "
            f"at {held.rollout_percent}%",
        )
    return held


async def end(release_id: str) -> str | None:
    """Remove the release's schedule, in the caller's transaction, when a person sets its
    percentage another way; says how far it had come (for the audit), or None if it had
    none."""
    ramp = await Ramp.select_for_update().get_or_none(release_id=release_id)
    if ramp is None:
        return None
    ended = await _with_steps(ramp)
    await Ramp.filter(id=ramp.id).delete()
    return f"ending its rollout schedule ({ended.where})"


# Why a release's due step must wait (a health gate's verdict), or None to take it.
Hold = Callable[[Release, datetime], Awaitable[str | None]]


async def advance(now: datetime, hold: Hold | None = None) -> int:
    """Take every step due at ``now`` of running schedules of draft and published
    releases; returns how many schedules this call moved (another worker may have moved
    the others). A step ``hold`` gives a reason for is not taken: the schedule is paused
    with that reason, by the job ``hold`` speaks for."""
    due = await Ramp.filter(
        next_at__lte=now, paused_at__isnull=True, release__status__not=ReleaseStatus.ARCHIVED
    )
    moved = 0
    for ramp in due:
        if await _take(await _with_steps(ramp), now, hold):
            moved += 1
    return moved


async def _take(running: Schedule, now: datetime, hold: Hold | None = None) -> bool:
    """Take the latest step due (those due with it are reached at once), if no worker did:
    the compare-and-set on ``reached`` is in the transaction of the change and its audit."""
    ramp, steps = running.ramp, running.steps
    target = _due(steps, now)
    if target <= ramp.reached:
        return False
    async with in_transaction():
        # The release first, as every change of a rollout locks it first (no deadlock).
        release = await lock(ramp.release_id)
        if release.status is ReleaseStatus.ARCHIVED:
            return False
        held = None if hold is None else await hold(release, now)
        if held is not None:
            return await _hold(release, running, now, held)
        won = await Ramp.filter(id=ramp.id, reached=ramp.reached, paused_at__isnull=True).update(
            reached=target, next_at=steps[target].not_before if target < len(steps) else None
        )
        if not won:
            return False
        await RampStep.filter(
            ramp_id=ramp.id, position__gt=ramp.reached, position__lte=target
        ).update(reached_at=now)
        step = steps[target - 1]
        which = (
            f"step {target}"
            if target == ramp.reached + 1
            else f"steps {ramp.reached + 1} to {target} (due at once)"
        )
        updated = await change_held(
            SCHEDULER,
            release,
            {"rollout_percent": step.percent},
            "release.rollout_step",
            f"rollout schedule reached {which} of {len(steps)}: {release.version} to "
            f"{step.percent}% of installs",
            Event.RELEASE_ROLLOUT_CHANGED,
        )
    if release.status is not ReleaseStatus.DRAFT:
        await announce(updated)
    return True


async def _hold(release: Release, running: Schedule, now: datetime, reason: str) -> bool:
    """Pause the schedule instead of taking its due step, if no worker moved it first."""
    ramp = running.ramp
    won = await Ramp.filter(id=ramp.id, reached=ramp.reached, paused_at__isnull=True).update(
        paused_at=now, paused_by=GATE.name[:PAUSED_BY_MAX], pause_reason=reason, next_at=None
    )
    if won:
        await audit_event.record(
            GATE,
            "release.rollout_pause",
            release.id,
            release.app_id,
            f"held the rollout schedule of {release.version} at {release.rollout_percent}% "
            f"({running.where}) instead of its due step: {reason}",
        )
    return bool(won)


async def _changeable(actor: Actor, release_id: str) -> Release:
    """The release, if the actor may see it and change its rollout."""
    actor.require_writer("changing a rollout")
    release = await get_visible(actor, release_id)
    require_rollout_changer(actor, await apps.App.get(id=release.app_id))
    return release


async def _require_not_archived(release_id: str) -> Release:
    held = await lock(release_id)
    if held.status is ReleaseStatus.ARCHIVED:
        raise InvalidState(
            f"release {held.version} is archived; it is offered to nobody, so it takes no "
            "rollout schedule",
            ("id",),
        )
    return held


async def _locked_schedule(held: Release) -> Schedule:
    ramp = await Ramp.select_for_update().get_or_none(release_id=held.id)
    if ramp is None:
        raise InvalidState(
            f"release {held.version} has no rollout schedule (releaseRolloutSchedule sets one)",
            ("id",),
        )
    return await _with_steps(ramp)


def _require_unfinished(held: Release, running: Schedule, verb: str) -> None:
    if running.finished:
        raise InvalidState(
            f"the rollout schedule of {held.version} has reached its last step; there is "
            f"nothing left to be {verb}",
            ("id",),
        )


async def _with_steps(ramp: Ramp) -> Schedule:
    return Schedule(ramp, await RampStep.filter(ramp_id=ramp.id).order_by("position"))


async def _mark_reached(made: Schedule, due: int, now: datetime) -> None:
    """Record, at creation, the steps already due, and when the next one is."""
    if due:
        await RampStep.filter(ramp_id=made.ramp.id, position__lte=due).update(reached_at=now)
    next_at = made.steps[due].not_before if due < len(made.steps) else None
    await Ramp.filter(id=made.ramp.id).update(reached=due, next_at=next_at)
    made.ramp.reached, made.ramp.next_at = due, next_at


def _due(steps: Sequence[RampStep], now: datetime) -> int:
    """How many steps are due at ``now`` (their times never go back)."""
    return sum(1 for s in steps if s.not_before <= now)


def _span(waited: timedelta) -> str:
    minutes = int(waited.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return f"{days} d {hours} h {minutes} min" if days else f"{hours} h {minutes} min"
