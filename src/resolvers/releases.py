"""Releases in the GraphQL API: the Release type, and the lifecycle mutations (including
rollouts and their schedules, yanks, rollbacks and the coverage date licences judge a
release by)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

import strawberry

from ferryman import models
from ferryman.models import health as healths
from ferryman.models import ramp as ramps
from ferryman.models import release as releases
from ferryman.models import rollout as rollouts
from ferryman.models.errors import DomainError
from ferryman.models.status import ReleaseStatus
from ferryman.resolvers.apps import App
from ferryman.resolvers.artifacts import Artifact
from ferryman.resolvers.context import Info
from ferryman.resolvers.errors import Payload, UserErrors
from ferryman.resolvers.health import HealthGate, HealthGateInput, PlatformHealth
from ferryman.resolvers.node import Node
from ferryman.resolvers.ramps import RampStepInput, RolloutSchedule
from ferryman.resolvers.signing_keys import SigningKey
from ferryman.resolvers.stats import ReleaseFunnel, StatsSeries, release_funnel, release_stats

strawberry.enum(ReleaseStatus, name="ReleaseStatus")


@strawberry.type(description="One version of an app, with an artifact per platform.")
class Release(Node):
    version: str
    notes: str | None = strawberry.field(description="Markdown release notes.")
    channel: str = strawberry.field(description="One of its app's channels.")
    status: ReleaseStatus
    pub_date: datetime | None = strawberry.field(description="When it was published.")
    coverage_date: datetime | None = strawberry.field(
        description="An admin's earlier date for licences to judge it by, instead of pubDate."
    )
    effective_date: datetime | None = strawberry.field(
        description="The date licences judge it by: coverageDate, else pubDate."
    )
    rollout_percent: int = strawberry.field(
        description="The share of installs (0 to 100) it is offered to."
    )
    yanked_at: datetime | None = strawberry.field(
        description="When it was taken off the update path at once (releaseYank, releaseRollback)."
    )
    yank_reason: str | None
    created_at: datetime
    updated_at: datetime
    app_id: strawberry.Private[str]
    bridge_to_id: strawberry.Private[str | None]

    @classmethod
    def from_model(cls, release: models.Release) -> Self:
        return cls(
            id=strawberry.ID(release.id),
            version=release.version,
            notes=release.notes,
            channel=release.channel,
            status=release.status,
            pub_date=release.pub_date,
            coverage_date=release.coverage_date,
            effective_date=release.effective_date,
            rollout_percent=release.rollout_percent,
            yanked_at=release.yanked_at,
            yank_reason=release.yank_reason,
            created_at=release.created_at,
            updated_at=release.updated_at,
            app_id=release.app_id,
            bridge_to_id=release.bridge_to_id,
        )

    @strawberry.field
    async def app(self, info: Info) -> App:
        app = await info.context.loaders.app.load(self.app_id)
        assert app is not None
        return App.from_model(app)

    @strawberry.field(description="Artifacts by platform.")
    async def artifacts(self, info: Info) -> list[Artifact]:
        return [Artifact.from_model(a) for a in await info.context.loaders.artifacts.load(self.id)]

    @strawberry.field(
        description=(
            "The signing key this release ships inside the app, when it is a bridge "
            "(releaseBridgeSet): installs that run it trust that key."
        )
    )
    async def bridge_to(self) -> SigningKey | None:
        if self.bridge_to_id is None:
            return None
        return SigningKey.from_model(await models.SigningKey.get(id=self.bridge_to_id))

    @strawberry.field(
        description="Its rollout schedule (releaseRolloutSchedule), finished or not; null: none."
    )
    async def rollout_schedule(self, info: Info) -> RolloutSchedule | None:
        schedule = await info.context.loaders.schedule.load(self.id)
        return RolloutSchedule.from_model(schedule) if schedule else None

    @strawberry.field(
        description="Its health per platform that has downloads, sessions or a halt: what its "
        "health gate judges, and whether it halted the platform."
    )
    async def health(self) -> list[PlatformHealth]:
        return [PlatformHealth.from_model(p) for p in await healths.read(self.id)]

    @strawberry.field(description="Its health gate (releaseHealthGateSet); null: none.")
    async def health_gate(self) -> HealthGate | None:
        gate = await healths.HealthGate.get_or_none(release_id=self.id)
        return HealthGate.from_model(gate) if gate else None

    stats: StatsSeries = strawberry.field(
        resolver=release_stats, description="A measure of this version's installs over time."
    )
    funnel: ReleaseFunnel = strawberry.field(
        resolver=release_funnel,
        description="Update checks that offered it, its downloads, and installs running it.",
    )


@strawberry.input
class ReleaseCreateInput:
    version: str = strawberry.field(description="MAJOR.MINOR.PATCH[-pre][+build].")
    notes: str | None = None
    channel: str | None = strawberry.field(
        default=None, description="One of the app's channels; default: its first."
    )


@strawberry.input(description="Fields to change; the version only while the release is a draft.")
class ReleaseUpdateInput:
    version: str | None = None
    notes: str | None = None
    channel: str | None = None


@strawberry.type
class ReleaseCreatePayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseUpdatePayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseDeletePayload(Payload):
    deleted_release_id: strawberry.ID | None = None


@strawberry.type
class ReleasePublishPayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseArchivePayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseSetCoverageDatePayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseRolloutPayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseRolloutSchedulePayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseRolloutPausePayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseRolloutResumePayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseRolloutScheduleCancelPayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseHealthGateSetPayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseHealthGateRemovePayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseHaltLiftPayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseYankPayload(Payload):
    release: Release | None = None


@strawberry.type
class ReleaseRollbackPayload(Payload):
    yanked: Release | None = strawberry.field(
        default=None, description="The release taken off the channel."
    )
    offered: Release | None = strawberry.field(
        default=None, description="The release its installs are offered again, to all of them."
    )


async def get_node(info: Info, node_id: str) -> Release | None:
    try:
        return Release.from_model(await releases.get_visible(info.context.actor, node_id))
    except DomainError:
        return None


@strawberry.type
class ReleaseMutation:
    @strawberry.mutation(extensions=[UserErrors()], description="Start a draft release.")
    async def release_create(
        self, info: Info, app_id: strawberry.ID, input: ReleaseCreateInput
    ) -> ReleaseCreatePayload:
        release = await releases.create(info.context.actor, app_id, _changes(input))
        return ReleaseCreatePayload(release=Release.from_model(release))

    @strawberry.mutation(extensions=[UserErrors()])
    async def release_update(
        self, info: Info, id: strawberry.ID, input: ReleaseUpdateInput
    ) -> ReleaseUpdatePayload:
        release = await releases.update(info.context.actor, id, _changes(input))
        return ReleaseUpdatePayload(release=Release.from_model(release))

    @strawberry.mutation(extensions=[UserErrors()], description="Delete a draft.")
    async def release_delete(self, info: Info, id: strawberry.ID) -> ReleaseDeletePayload:
        deleted = await releases.delete(info.context.actor, id)
        return ReleaseDeletePayload(deleted_release_id=strawberry.ID(deleted))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Make a draft live; it needs at least one READY artifact.",
    )
    async def release_publish(self, info: Info, id: strawberry.ID) -> ReleasePublishPayload:
        release = await releases.publish(info.context.actor, id)
        return ReleasePublishPayload(release=Release.from_model(release))

    @strawberry.mutation(
        extensions=[UserErrors()], description="Take a published release off the update path."
    )
    async def release_archive(self, info: Info, id: strawberry.ID) -> ReleaseArchivePayload:
        release = await releases.archive(info.context.actor, id)
        return ReleaseArchivePayload(release=Release.from_model(release))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Date a release earlier for licences (to ship a fix to lapsed customers), "
        "or clear the override with null; the reason goes to the audit trail.",
    )
    async def release_set_coverage_date(
        self,
        info: Info,
        id: strawberry.ID,
        coverage_date: Annotated[
            datetime | None,
            strawberry.argument(description="At most its publish time; null: its publish time."),
        ] = None,
        *,
        reason: str,
    ) -> ReleaseSetCoverageDatePayload:
        release = await rollouts.set_coverage_date(info.context.actor, id, coverage_date, reason)
        return ReleaseSetCoverageDatePayload(release=Release.from_model(release))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Offer the release to this percentage of installs (0 to 100), chosen by "
        "the install id they send (installs without one get it at 100 only); an install once "
        "in stays in as the percentage grows. Ends the release's rollout schedule, if any.",
    )
    async def release_rollout(
        self, info: Info, id: strawberry.ID, percent: int
    ) -> ReleaseRolloutPayload:
        release = await rollouts.rollout(info.context.actor, id, percent)
        return ReleaseRolloutPayload(release=Release.from_model(release))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Raise the release's rollout percentage step by step: listed steps, or a "
        "preset from start (default now). Replaces any schedule it has; the percentage goes at "
        "once to the latest step due, or to 0 until the first is.",
    )
    async def release_rollout_schedule(
        self,
        info: Info,
        id: strawberry.ID,
        steps: Annotated[
            list[RampStepInput] | None,
            strawberry.argument(description=f"1 to {ramps.MAX_STEPS} steps; or give a preset."),
        ] = None,
        preset: ramps.RampPreset | None = None,
        start: Annotated[
            datetime | None, strawberry.argument(description="A preset's first step; default now.")
        ] = None,
        reason: Annotated[
            str | None, strawberry.argument(description="Kept in the audit trail.")
        ] = None,
    ) -> ReleaseRolloutSchedulePayload:
        listed = None if steps is None else [ramps.Step(s.percent, s.not_before) for s in steps]
        release = await ramps.schedule(info.context.actor, id, listed, preset, start, reason)
        return ReleaseRolloutSchedulePayload(release=Release.from_model(release))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Take no more steps of the release's rollout schedule until resumed; who "
        "paused it and why are kept.",
    )
    async def release_rollout_pause(
        self, info: Info, id: strawberry.ID, reason: str
    ) -> ReleaseRolloutPausePayload:
        release = await ramps.pause(info.context.actor, id, reason)
        return ReleaseRolloutPausePayload(release=Release.from_model(release))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Go on with a paused rollout schedule; its pending steps move later by "
        "the time it was paused.",
    )
    async def release_rollout_resume(
        self, info: Info, id: strawberry.ID
    ) -> ReleaseRolloutResumePayload:
        release = await ramps.resume(info.context.actor, id)
        return ReleaseRolloutResumePayload(release=Release.from_model(release))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Remove the release's rollout schedule; its percentage stays as it is.",
    )
    async def release_rollout_schedule_cancel(
        self, info: Info, id: strawberry.ID
    ) -> ReleaseRolloutScheduleCancelPayload:
        release = await ramps.cancel(info.context.actor, id)
        return ReleaseRolloutScheduleCancelPayload(release=Release.from_model(release))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Give the release a health gate (or change its thresholds): every "
        "interval, a platform whose installs do not arrive on it (or crash) beyond the "
        "thresholds is halted (offered to no new install), its schedule paused, and "
        "release.halted announced; a due schedule step is held while too few have downloaded it.",
    )
    async def release_health_gate_set(
        self, info: Info, id: strawberry.ID, input: HealthGateInput
    ) -> ReleaseHealthGateSetPayload:
        release = await healths.set_gate(info.context.actor, id, input.to_model())
        return ReleaseHealthGateSetPayload(release=Release.from_model(release))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Remove the release's health gate; platforms it halted stay halted until "
        "lifted.",
    )
    async def release_health_gate_remove(
        self, info: Info, id: strawberry.ID
    ) -> ReleaseHealthGateRemovePayload:
        release = await healths.remove_gate(info.context.actor, id)
        return ReleaseHealthGateRemovePayload(release=Release.from_model(release))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Offer a platform a health gate halted again (admins only; the reason goes "
        "to the audit trail). The gate judges what comes after; a paused schedule stays paused "
        "until releaseRolloutResume.",
    )
    async def release_halt_lift(
        self, info: Info, id: strawberry.ID, platform: str, reason: str
    ) -> ReleaseHaltLiftPayload:
        release = await healths.lift(info.context.actor, id, platform, reason)
        return ReleaseHaltLiftPayload(release=Release.from_model(release))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Stop offering a published release at once (it becomes ARCHIVED); its "
        "files stay in storage.",
    )
    async def release_yank(self, info: Info, id: strawberry.ID, reason: str) -> ReleaseYankPayload:
        release = await rollouts.yank(info.context.actor, id, reason)
        return ReleaseYankPayload(release=Release.from_model(release))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Yank the channel's newest published release and offer the one before it "
        "again, to every install, in one step.",
    )
    async def release_rollback(
        self, info: Info, app_id: strawberry.ID, channel: str, reason: str | None = None
    ) -> ReleaseRollbackPayload:
        yanked, offered = await rollouts.rollback(info.context.actor, app_id, channel, reason)
        return ReleaseRollbackPayload(
            yanked=Release.from_model(yanked), offered=Release.from_model(offered)
        )


def _changes(input: ReleaseCreateInput | ReleaseUpdateInput) -> releases.ReleaseChanges:
    return releases.ReleaseChanges(version=input.version, notes=input.notes, channel=input.channel)
