"""Health gates: a rollout that halts itself when the installs that downloaded it do not
arrive on it.

The signal (written by ``analytics.recorder``): when ``/dl`` serves a release's file to
an install, a :class:`HealthMark` keeps a day-keyed token of that install (no install id,
address or user agent: a keyed BLAKE2b MAC under the day's random key, deleted with the
key when the day ends). An update check from the same token still reporting an older
version :data:`SETTLE` after the download marks it failed; one reporting the release's
version marks it arrived. Each mark's first move is added to the release's daily
:class:`HealthCount` row, which holds counts only and outlives the marks. Apps may also
send crash-free sessions (``POST /health/…``), added to the same rows.

A :class:`HealthGate` on a release is evaluated every ``interval`` by whichever worker's
:class:`~ferryman.ramp_runner.RampRunner` wins a compare-and-set on ``next_at``, per
platform: a platform with at least ``min_sample`` downloads whose failure rate is above
``max_failure_rate`` (or crash-free rate below ``min_crash_free_rate``) breaches; after
``failure_limit`` breaches in a row it is halted: its file is offered to no new install
(``Artifact.halted_at``), the release's schedule is paused, and the halt is audited and
announced (``release.halted``). Only an admin lifts it (:func:`lift`), and the counts
start again from there.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import fields
from tortoise.functions import Sum
from tortoise.models import Model
from tortoise.transactions import in_transaction

from ferryman.models import app as apps
from ferryman.models import audit_event, notification
from ferryman.models.actor import Actor
from ferryman.models.artifact import Artifact
from ferryman.models.errors import InvalidInput, InvalidState
from ferryman.models.platform import MAX_LENGTH as PLATFORM_LENGTH
from ferryman.models.ramp import GATE, PAUSED_BY_MAX, Ramp
from ferryman.models.release import (
    Release,
    announce,
    get_visible,
    lock,
    require_rollout_changer,
    validated_reason,
)
from ferryman.models.status import ReleaseStatus
from ferryman.models.webhook import Event

# An install that downloaded a release and still checks in on its old version this long
# after has failed to install it (a Tauri app installs and restarts within a minute).
SETTLE = timedelta(minutes=10)
TOKEN_BYTES = 16  # of the day's MAC: enough to tell a day's installs apart
DEFAULT_INTERVAL = timedelta(minutes=15)
MIN_INTERVAL = timedelta(minutes=1)
MAX_INTERVAL = timedelta(days=1)
MAX_SAMPLE = 10_000_000
MAX_FAILURE_LIMIT = 100


class HealthMark(Model):
    """One install that downloaded a release's file today, as a token of the day."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    release: fields.ForeignKeyRelation[Release] = fields.ForeignKeyField(
        "models.Release", related_name="health_marks", on_delete=fields.CASCADE
    )
    platform = fields.CharField(max_length=PLATFORM_LENGTH)
    token = fields.BinaryField()
    marked_at = fields.DatetimeField()
    failed_at = fields.DatetimeField(null=True)  # seen on an older version after SETTLE
    arrived_at = fields.DatetimeField(null=True)  # seen on the release's version

    release_id: str

    class Meta:
        table = "health_marks"
        unique_together = (("day", "token", "release", "platform"),)


class HealthCount(Model):
    """A day's counts of one release on one platform: downloads (attempts), failed and
    arrived installs, and the sessions apps reported."""

    id = fields.IntField(primary_key=True)
    release: fields.ForeignKeyRelation[Release] = fields.ForeignKeyField(
        "models.Release", related_name="health_counts", on_delete=fields.CASCADE
    )
    platform = fields.CharField(max_length=PLATFORM_LENGTH)
    day = fields.DateField()
    attempts = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    arrived = fields.IntField(default=0)
    sessions = fields.BigIntField(default=0)
    crashed = fields.BigIntField(default=0)

    release_id: str

    class Meta:
        table = "health_counts"
        unique_together = (("release", "platform", "day"),)


class HealthGate(Model):
    """A release's thresholds, and when it is next evaluated."""

    id = fields.IntField(primary_key=True)
    release: fields.OneToOneRelation[Release] = fields.OneToOneField(
        "models.Release", related_name="health_gate", on_delete=fields.CASCADE
    )
    max_failure_rate = fields.FloatField()
    min_crash_free_rate = fields.FloatField(null=True)
    min_sample = fields.IntField()
    interval_seconds = fields.IntField()
    failure_limit = fields.SmallIntField(default=1)
    next_at = fields.DatetimeField()  # the column an evaluation's compare-and-set tests
    created_at = fields.DatetimeField(auto_now_add=True)

    release_id: str

    class Meta:
        table = "health_gates"
        indexes = (("next_at",),)

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.interval_seconds)


class HealthState(Model):
    """A gated platform of a release: breaches in a row, its halt, its last lift, and the
    counts at that lift (the gate judges what came after)."""

    id = fields.IntField(primary_key=True)
    release: fields.ForeignKeyRelation[Release] = fields.ForeignKeyField(
        "models.Release", related_name="health_states", on_delete=fields.CASCADE
    )
    platform = fields.CharField(max_length=PLATFORM_LENGTH)
    breaches = fields.SmallIntField(default=0)
    halted_at = fields.DatetimeField(null=True)
    halt_reason = fields.TextField(null=True)
    lifted_at = fields.DatetimeField(null=True)
    lifted_by = fields.CharField(max_length=64, null=True)
    lift_reason = fields.TextField(null=True)
    base_attempts = fields.IntField(default=0)
    base_failed = fields.IntField(default=0)
    base_arrived = fields.IntField(default=0)
    base_sessions = fields.BigIntField(default=0)
    base_crashed = fields.BigIntField(default=0)

    release_id: str

    class Meta:
        table = "health_states"
        unique_together = (("release", "platform"),)


@dataclasses.dataclass(frozen=True, slots=True)
class GateInput:
    """A gate as asked for; rates are shares from 0 to 1."""

    max_failure_rate: float
    min_sample: int
    min_crash_free_rate: float | None = None
    interval: timedelta = DEFAULT_INTERVAL
    failure_limit: int = 1


@dataclasses.dataclass(frozen=True, slots=True)
class Totals:
    attempts: int = 0
    failed: int = 0
    arrived: int = 0
    sessions: int = 0
    crashed: int = 0

    def minus(self, state: HealthState | None) -> Totals:
        if state is None:
            return self
        return Totals(
            max(self.attempts - state.base_attempts, 0),
            max(self.failed - state.base_failed, 0),
            max(self.arrived - state.base_arrived, 0),
            max(self.sessions - state.base_sessions, 0),
            max(self.crashed - state.base_crashed, 0),
        )

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.attempts if self.attempts else None

    @property
    def crash_free_rate(self) -> float | None:
        return 1 - self.crashed / self.sessions if self.sessions else None


@dataclasses.dataclass(frozen=True, slots=True)
class PlatformHealth:
    """One platform of a release since its last lift (or ever), and its halt."""

    platform: str
    totals: Totals
    halted_at: datetime | None
    halt_reason: str | None
    lifted_at: datetime | None
    lift_reason: str | None


def validated_gate(gate: GateInput) -> GateInput:
    """The gate, or InvalidInput naming the field at fault and what is accepted."""
    if not (math.isfinite(gate.max_failure_rate) and 0 <= gate.max_failure_rate < 1):
        raise InvalidInput(
            "maxFailureRate is a share of downloads from 0 (none may fail) to below 1, "
            f"got {gate.max_failure_rate}",
            ("input", "maxFailureRate"),
        )
    rate = gate.min_crash_free_rate
    if rate is not None and not (math.isfinite(rate) and 0 < rate <= 1):
        raise InvalidInput(
            f"minCrashFreeRate is a share of sessions above 0 up to 1, or null, got {rate}",
            ("input", "minCrashFreeRate"),
        )
    if not 1 <= gate.min_sample <= MAX_SAMPLE:
        raise InvalidInput(
            f"minSample is a whole number of installs from 1 to {MAX_SAMPLE}, "
            f"got {gate.min_sample}",
            ("input", "minSample"),
        )
    if not MIN_INTERVAL <= gate.interval <= MAX_INTERVAL:
        raise InvalidInput(
            "intervalMinutes is from 1 to 1440 (a day), "
            f"got {gate.interval.total_seconds() / 60:g}",
            ("input", "intervalMinutes"),
        )
    if not 1 <= gate.failure_limit <= MAX_FAILURE_LIMIT:
        raise InvalidInput(
            f"failureLimit is from 1 to {MAX_FAILURE_LIMIT} breaching evaluations in a row, "
            f"got {gate.failure_limit}",
            ("input", "failureLimit"),
        )
    return gate


async def set_gate(
    actor: Actor, release_id: str, gate: GateInput, now: datetime | None = None
) -> Release:
    """Give the release a gate (replacing its thresholds); first evaluated one interval on."""
    now = now or datetime.now(UTC)
    release = await _changeable(actor, release_id)
    wanted = validated_gate(gate)
    async with in_transaction():
        held = await lock(release.id)
        if held.status is ReleaseStatus.ARCHIVED:
            raise InvalidState(
                f"release {held.version} is archived; it is offered to nobody, so it takes no "
                "health gate",
                ("id",),
            )
        values: dict[str, Any] = {
            "max_failure_rate": wanted.max_failure_rate,
            "min_crash_free_rate": wanted.min_crash_free_rate,
            "min_sample": wanted.min_sample,
            "interval_seconds": int(wanted.interval.total_seconds()),
            "failure_limit": wanted.failure_limit,
            "next_at": now + wanted.interval,
        }
        replaced = await HealthGate.filter(release_id=held.id).update(**values)
        if not replaced:
            await HealthGate.create(release_id=held.id, **values)
        await audit_event.record(
            actor,
            "release.health_gate_set",
            held.id,
            held.app_id,
            f"{'changed the' if replaced else 'set a'} health gate of {held.version}: "
            f"{_thresholds(wanted)}",
        )
    return held


async def remove_gate(actor: Actor, release_id: str) -> Release:
    """Remove the release's gate; halts already made stay until lifted."""
    release = await _changeable(actor, release_id)
    async with in_transaction():
        held = await lock(release.id)
        if not await HealthGate.filter(release_id=held.id).delete():
            raise InvalidState(
                f"release {held.version} has no health gate (releaseHealthGateSet sets one)",
                ("id",),
            )
        await audit_event.record(
            actor,
            "release.health_gate_remove",
            held.id,
            held.app_id,
            f"removed the health gate of {held.version}",
        )
    return held


async def lift(
    actor: Actor, release_id: str, platform: str, reason: str, now: datetime | None = None
) -> Release:
    """Offer a halted platform's file again (admins only); the gate judges what comes after
    this, not the downloads that halted it."""
    now = now or datetime.now(UTC)
    actor.require_admin("lifting a health halt")
    release = await get_visible(actor, release_id)
    why = validated_reason(reason)
    async with in_transaction():
        held = await lock(release.id)
        state = await HealthState.select_for_update().get_or_none(
            release_id=held.id, platform=platform
        )
        if state is None or state.halted_at is None:
            halted = await halted_platforms(held.id)
            raise InvalidState(
                f"{platform[:64]} of {held.version} is not halted "
                f"(halted: {', '.join(halted) or 'none'})",
                ("platform",),
            )
        totals = (await totals_of(held.id)).get(platform, Totals())
        await HealthState.filter(id=state.id).update(
            halted_at=None,
            breaches=0,
            lifted_at=now,
            lifted_by=actor.name[:64],
            lift_reason=why,
            base_attempts=totals.attempts,
            base_failed=totals.failed,
            base_arrived=totals.arrived,
            base_sessions=totals.sessions,
            base_crashed=totals.crashed,
        )
        await Artifact.filter(release_id=held.id, platform=platform).update(halted_at=None)
        await _bump(held)
        await audit_event.record(
            actor,
            "release.health_halt_lift",
            held.id,
            held.app_id,
            f"lifted the halt of {held.version} on {platform} ({state.halt_reason}): {why}",
        )
    await _announce(held)
    return held


async def read(release_id: str) -> list[PlatformHealth]:
    """The release's health per platform it has downloads, sessions or a halt on."""
    totals = await totals_of(release_id)
    states = {s.platform: s for s in await HealthState.filter(release_id=release_id)}
    found = []
    for platform in sorted(totals.keys() | states.keys()):
        state = states.get(platform)
        found.append(
            PlatformHealth(
                platform,
                totals.get(platform, Totals()).minus(state),
                state.halted_at if state else None,
                state.halt_reason if state else None,
                state.lifted_at if state else None,
                state.lift_reason if state else None,
            )
        )
    return found


async def totals_of(release_id: str) -> dict[str, Totals]:
    """Every count of the release, summed per platform."""
    rows = (
        await HealthCount.filter(release_id=release_id)
        .group_by("platform")
        .annotate(
            a=Sum("attempts"),
            f=Sum("failed"),
            r=Sum("arrived"),
            s=Sum("sessions"),
            c=Sum("crashed"),
        )
        .values("platform", "a", "f", "r", "s", "c")
    )
    return {
        str(row["platform"]): Totals(
            int(row["a"] or 0),
            int(row["f"] or 0),
            int(row["r"] or 0),
            int(row["s"] or 0),
            int(row["c"] or 0),
        )
        for row in rows
    }


async def halted_platforms(release_id: str) -> list[str]:
    return (await halts_of([release_id])).get(release_id, [])


async def halts_of(release_ids: list[str]) -> dict[str, list[str]]:
    """Each of these releases' halted platforms (releases with none are left out), in
    one query: for a page that lists releases."""
    rows = await HealthState.filter(release_id__in=release_ids, halted_at__isnull=False).values(
        "release_id", "platform"
    )
    found: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: str(r["platform"])):
        found.setdefault(str(row["release_id"]), []).append(str(row["platform"]))
    return found


async def halts_of_app(app_id: str) -> dict[tuple[str, str], str]:
    """Why each halted (release, platform) of the app is halted, for ``updatePreview``."""
    rows = await HealthState.filter(release__app_id=app_id, halted_at__isnull=False).values(
        "release_id", "platform", "halted_at", "halt_reason"
    )
    return {
        (str(r["release_id"]), str(r["platform"])): (
            f"at {r['halted_at'].isoformat()}: {r['halt_reason']}"
        )
        for r in rows
    }


async def evaluate(now: datetime) -> int:
    """Evaluate every gate due at ``now``; returns how many platforms this call halted
    (another worker may have evaluated the other gates)."""
    due = await HealthGate.filter(
        next_at__lte=now, release__status__not=ReleaseStatus.ARCHIVED
    ).values_list("release_id", flat=True)
    halted = 0
    for release_id in due:
        halted += await _evaluate(str(release_id), now)
    return halted


async def hold(release: Release, now: datetime) -> str | None:
    """Why a gated release's due schedule step must not be taken, or None: a halted
    platform, or too few downloads to judge (inconclusive). Read in the step's
    transaction."""
    gate = await HealthGate.get_or_none(release_id=release.id)
    if gate is None:
        return None
    halted = await halted_platforms(release.id)
    if halted:
        return f"health gate: halted on {', '.join(halted)}"
    states = {s.platform: s for s in await HealthState.filter(release_id=release.id)}
    totals = await totals_of(release.id)
    attempts = sum(t.minus(states.get(p)).attempts for p, t in totals.items())
    if attempts < gate.min_sample:
        return (
            f"health gate inconclusive: {attempts} of {gate.min_sample} installs needed have "
            "downloaded it"
        )
    return None


async def _evaluate(release_id: str, now: datetime) -> int:
    halts: list[tuple[str, Totals, str]] = []
    async with in_transaction():
        # The release first, as every change of a rollout locks it first (no deadlock).
        release = await lock(release_id)
        gate = await HealthGate.get_or_none(release_id=release_id)
        if gate is None or gate.next_at > now:
            return 0
        won = await HealthGate.filter(id=gate.id, next_at=gate.next_at).update(
            next_at=now + gate.interval
        )
        if not won:
            return 0
        states = {s.platform: s for s in await HealthState.filter(release_id=release_id)}
        for platform, all_totals in sorted((await totals_of(release_id)).items()):
            state = states.get(platform)
            if state is not None and state.halted_at is not None:
                continue
            totals = all_totals.minus(state)
            breach = _breach(gate, totals)
            if breach is None:  # inconclusive: the count of breaches in a row stays
                continue
            breaches = (state.breaches if state else 0) + 1 if breach else 0
            if state is None:
                state = await HealthState.create(release_id=release_id, platform=platform)
            halting = breaches >= gate.failure_limit
            await HealthState.filter(id=state.id).update(
                breaches=0 if halting else breaches,
                **({"halted_at": now, "halt_reason": breach} if halting else {}),
            )
            if halting:
                halts.append((platform, totals, breach))
        if halts:
            await _halt(release, gate, halts, now)
    if halts:
        await _announce(release)
    return len(halts)


def _breach(gate: HealthGate, totals: Totals) -> str | None:
    """Why the totals breach the gate; "" when they do not; None when too few to judge."""
    failing = totals.failure_rate
    if (
        totals.attempts >= gate.min_sample
        and failing is not None
        and failing > gate.max_failure_rate
    ):
        return (
            f"{_percent(failing)} of {totals.attempts} installs that downloaded it did not "
            f"arrive on it; the gate allows {_percent(gate.max_failure_rate)}"
        )
    crash_free = totals.crash_free_rate
    floor = gate.min_crash_free_rate
    if (
        floor is not None
        and totals.sessions >= gate.min_sample
        and crash_free is not None
        and crash_free < floor
    ):
        return (
            f"{_percent(crash_free)} of {totals.sessions} sessions were crash-free; the "
            f"gate needs {_percent(floor)}"
        )
    judged = totals.attempts >= gate.min_sample or (
        floor is not None and totals.sessions >= gate.min_sample
    )
    return "" if judged else None


async def _halt(
    release: Release, gate: HealthGate, halts: list[tuple[str, Totals, str]], now: datetime
) -> None:
    """Take the halted platforms' files off the offer, pause the schedule, audit and
    announce; in the evaluation's transaction."""
    platforms = [platform for platform, _, _ in halts]
    await Artifact.filter(release_id=release.id, platform__in=platforms).update(halted_at=now)
    await _bump(release)
    why = "; ".join(f"{platform}: {reason}" for platform, _, reason in halts)
    paused = await Ramp.filter(
        release_id=release.id, paused_at__isnull=True, next_at__isnull=False
    ).update(
        paused_at=now,
        paused_by=GATE.name[:PAUSED_BY_MAX],
        pause_reason=f"halted ({why})",
        next_at=None,
    )
    await audit_event.record(
        GATE,
        "release.health_halt",
        release.id,
        release.app_id,
        f"halted {release.version} on {', '.join(platforms)} at {release.rollout_percent}%"
        f"{' and paused its rollout schedule' if paused else ''}: {why}",
    )
    if release.status is ReleaseStatus.PUBLISHED:
        await notification.emit_release(
            Event.RELEASE_HALTED,
            GATE,
            release,
            halts=[
                {
                    "platform": platform,
                    "reason": reason,
                    "attempts": totals.attempts,
                    "failed": totals.failed,
                    "failure_rate": totals.failure_rate,
                    "sessions": totals.sessions,
                    "crash_free_rate": totals.crash_free_rate,
                }
                for platform, totals, reason in halts
            ],
            gate=_about(gate),
            halted_at=notification.iso(now),
        )


def _about(gate: HealthGate) -> dict[str, object]:
    return {
        "max_failure_rate": gate.max_failure_rate,
        "min_crash_free_rate": gate.min_crash_free_rate,
        "min_sample": gate.min_sample,
        "interval_seconds": gate.interval_seconds,
        "failure_limit": gate.failure_limit,
    }


async def _bump(release: Release) -> None:
    if release.status is not ReleaseStatus.DRAFT:
        await apps.bump_generation(release.app_id)


async def _announce(release: Release) -> None:
    if release.status is not ReleaseStatus.DRAFT:
        await announce(release)


async def _changeable(actor: Actor, release_id: str) -> Release:
    actor.require_writer("changing a health gate")
    release = await get_visible(actor, release_id)
    require_rollout_changer(actor, await apps.App.get(id=release.app_id))
    return release


def _thresholds(gate: GateInput) -> str:
    crash = (
        f", crash-free sessions at least {_percent(gate.min_crash_free_rate)}"
        if gate.min_crash_free_rate is not None
        else ""
    )
    return (
        f"failure rate at most {_percent(gate.max_failure_rate)}{crash}, judged on at least "
        f"{gate.min_sample} installs every {gate.interval.total_seconds() / 60:g} min, halting "
        f"after {gate.failure_limit} breach{'es' if gate.failure_limit > 1 else ''} in a row"
    )


def _percent(share: float) -> str:
    return f"{share * 100:.3g} %"
