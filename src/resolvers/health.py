"""Health gates in the GraphQL API: what ``Release.health`` and ``Release.healthGate``
show, and the input of ``releaseHealthGateSet`` (the mutations are with the release's
others)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Self

import strawberry

from ferryman.models import health


@strawberry.input(description="A release's health gate; rates are shares from 0 to 1.")
class HealthGateInput:
    max_failure_rate: float = strawberry.field(
        description="The share of installs that downloaded the release but still run an older "
        "version (10 minutes on) above which a platform halts: 0 to below 1."
    )
    min_sample: int = strawberry.field(
        description="Downloads a platform needs before the gate judges it; with fewer it is "
        "inconclusive, and a due schedule step is held."
    )
    min_crash_free_rate: float | None = strawberry.field(
        default=None,
        description="The crash-free share of reported sessions below which a platform halts "
        "(judged on at least minSample sessions); null: not judged.",
    )
    interval_minutes: int = strawberry.field(
        default=int(health.DEFAULT_INTERVAL.total_seconds() // 60),
        description="How often the gate is evaluated: 1 to 1440.",
    )
    failure_limit: int = strawberry.field(
        default=1, description="Breaching evaluations in a row before a platform halts: 1 to 100."
    )

    def to_model(self) -> health.GateInput:
        return health.GateInput(
            max_failure_rate=self.max_failure_rate,
            min_sample=self.min_sample,
            min_crash_free_rate=self.min_crash_free_rate,
            interval=timedelta(minutes=self.interval_minutes),
            failure_limit=self.failure_limit,
        )


@strawberry.type(description="A release's health gate (releaseHealthGateSet).")
class HealthGate:
    max_failure_rate: float
    min_crash_free_rate: float | None
    min_sample: int
    interval_minutes: float
    failure_limit: int
    next_evaluation_at: datetime

    @classmethod
    def from_model(cls, gate: health.HealthGate) -> Self:
        return cls(
            max_failure_rate=gate.max_failure_rate,
            min_crash_free_rate=gate.min_crash_free_rate,
            min_sample=gate.min_sample,
            interval_minutes=gate.interval_seconds / 60,
            failure_limit=gate.failure_limit,
            next_evaluation_at=gate.next_at,
        )


@strawberry.type(
    description="One platform of a release since its last halt was lifted (or ever): "
    "installs that downloaded it (attempts), those still on an older version after 10 "
    "minutes (failed) and those running it (arrived); sessions apps reported; its halt."
)
class PlatformHealth:
    platform: str
    attempts: int
    failed: int
    arrived: int
    failure_rate: float | None = strawberry.field(description="failed / attempts; null: none.")
    sessions: int
    crashed: int
    crash_free_rate: float | None = strawberry.field(
        description="1 - crashed / sessions; null: no sessions reported."
    )
    halted: bool = strawberry.field(
        description="Offered to no new install until an admin lifts it."
    )
    halted_at: datetime | None
    halt_reason: str | None
    lifted_at: datetime | None
    lift_reason: str | None

    @classmethod
    def from_model(cls, found: health.PlatformHealth) -> Self:
        totals = found.totals
        return cls(
            platform=found.platform,
            attempts=totals.attempts,
            failed=totals.failed,
            arrived=totals.arrived,
            failure_rate=totals.failure_rate,
            sessions=totals.sessions,
            crashed=totals.crashed,
            crash_free_rate=totals.crash_free_rate,
            halted=found.halted_at is not None,
            halted_at=found.halted_at,
            halt_reason=found.halt_reason,
            lifted_at=found.lifted_at,
            lift_reason=found.lift_reason,
        )
