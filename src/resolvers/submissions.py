"""``ciReleaseSubmit``: a CI pipeline's create-or-update of one release, in one call."""

from __future__ import annotations

import strawberry

from ferryman.models import submission as submissions
from ferryman.resolvers.context import Info
from ferryman.resolvers.errors import Payload, UserErrors
from ferryman.resolvers.releases import Release
from ferryman.signatures import Verifier


@strawberry.input(description="A file CI has put in the bucket under {app}/releases/{version}/.")
class CiArtifactInput:
    platform: str
    signature: str = strawberry.field(description="Content of the file's .sig.")
    r2_key: str = strawberry.field(description="Its object key in the bucket.")


@strawberry.input
class CiReleaseSubmitInput:
    version: str
    notes: str | None = None
    channel: str | None = strawberry.field(
        default=None, description="One of the app's channels; a new draft's default: its first."
    )
    artifacts: list[CiArtifactInput] = strawberry.field(default_factory=list)
    auto_publish: bool = strawberry.field(
        default=False,
        description="Publish once every artifact is READY (CI keys only where ciMayPublish).",
    )


@strawberry.type
class CiReleaseSubmitPayload(Payload):
    release: Release | None = None
    created: bool = strawberry.field(default=False, description="A new draft was started.")
    published: bool = False
    notice: str | None = strawberry.field(
        default=None, description="Why an auto-publish did not happen, or that nothing changed."
    )


@strawberry.type
class SubmissionMutation:
    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Create or update a release from CI; idempotent, safe for parallel jobs.",
    )
    async def ci_release_submit(
        self, info: Info, app_slug: str, input: CiReleaseSubmitInput
    ) -> CiReleaseSubmitPayload:
        submission = submissions.Submission(
            version=input.version,
            notes=input.notes,
            artifacts=[
                submissions.SubmittedArtifact(a.platform, a.signature, a.r2_key)
                for a in input.artifacts
            ],
            auto_publish=input.auto_publish,
            channel=input.channel,
        )
        outcome = await submissions.submit(
            info.context.actor, app_slug, submission, info.context.storage, Verifier.for_upload
        )
        return CiReleaseSubmitPayload(
            release=Release.from_model(outcome.release),
            created=outcome.created,
            published=outcome.published,
            notice=outcome.notice,
        )
