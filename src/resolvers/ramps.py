"""Rollout schedules in the GraphQL API: what ``Release.rolloutSchedule`` shows, and the
inputs of ``releaseRolloutSchedule`` (the mutations are with the release's others)."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from ferryman.models import ramp as ramps

strawberry.enum(
    ramps.RampPreset,
    name="RampPreset",
    description="A named schedule. PHASED: Apple's phased release, 1, 2, 5, 10, 20, 50 "
    "and 100 % a day apart.",
)


@strawberry.input(description="One step of a rollout schedule.")
class RampStepInput:
    percent: int = strawberry.field(description="1 to 100, above the step before.")
    not_before: datetime = strawberry.field(
        description="Not taken before this time (UTC if no zone); not before the step before."
    )


@strawberry.type(description="One step of a rollout schedule.")
class RolloutStep:
    position: int = strawberry.field(description="From 1, in the order steps are taken.")
    percent: int
    not_before: datetime = strawberry.field(
        description="Taken at this time or soon after (later by any time the schedule was paused)."
    )
    reached_at: datetime | None = strawberry.field(
        description="When it was taken (with the steps due at the same tick); null: pending."
    )

    @classmethod
    def from_model(cls, step: ramps.RampStep) -> Self:
        return cls(
            position=step.position,
            percent=step.percent,
            not_before=step.not_before,
            reached_at=step.reached_at,
        )


@strawberry.type(
    description="A release's rollout percentage raised step by step; the server takes each "
    "step when due, in one worker."
)
class RolloutSchedule:
    steps: list[RolloutStep]
    reached: int = strawberry.field(description="How many steps were taken.")
    next_step: RolloutStep | None = strawberry.field(
        description="The step to take next; null when finished."
    )
    finished: bool = strawberry.field(description="Whether the last step was taken.")
    paused: bool
    paused_at: datetime | None
    paused_by: str | None = strawberry.field(
        description="Who paused it: a person's or key's id, or the server's job that did."
    )
    pause_reason: str | None

    @classmethod
    def from_model(cls, schedule: ramps.Schedule) -> Self:
        ramp, next_step = schedule.ramp, schedule.next_step
        return cls(
            steps=[RolloutStep.from_model(s) for s in schedule.steps],
            reached=ramp.reached,
            next_step=RolloutStep.from_model(next_step) if next_step else None,
            finished=schedule.finished,
            paused=ramp.paused_at is not None,
            paused_at=ramp.paused_at,
            paused_by=ramp.paused_by,
            pause_reason=ramp.pause_reason,
        )
