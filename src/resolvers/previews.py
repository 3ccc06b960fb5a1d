"""``updatePreview``: what an install would be offered, and why not something newer.

Users of every update server ask "why did my app get no update?"; this answers it with
the very rule the updater route applies.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from ferryman import auth
from ferryman.models import preview as previews
from ferryman.models.preview import SkipReason
from ferryman.resolvers.context import Info
from ferryman.resolvers.releases import Release
from ferryman.rest_compat.manifest import update_json

strawberry.enum(SkipReason, name="SkipReason")


@strawberry.type(description="A release newer than the install that it is not offered.")
class SkippedRelease:
    release: Release
    reason: SkipReason
    detail: str


@strawberry.type(description="What the updater route would answer for one install.")
class UpdatePreview:
    status: int = strawberry.field(
        description="200 (an update), 204 (none), or 401/403 (no usable licence)."
    )
    platform_key: str = strawberry.field(
        description="The key the client looks up, or the bare OS of a check without an arch."
    )
    served_key: str | None = strawberry.field(
        description=(
            "The artifact answering platformKey: itself, or the OS's default installer "
            "(windows-x86_64-nsis for windows-x86_64) when the app publishes no plain key."
        )
    )
    offered: Release | None
    refusal: str | None = strawberry.field(
        description="Why the check is refused (401/403), in the route's words."
    )
    manifest: str | None = strawberry.field(
        description=(
            "The JSON the updater would receive (for a LICENSED app the route also signs "
            "each URL, valid for about an hour)."
        )
    )
    trusted_key_id: str | None = strawberry.field(
        description=(
            "For an app that moved between signing keys: the id of the one key this install "
            "trusts (the key its version shipped with). It is offered only files that key "
            "signed, so it crosses each bridge release in turn."
        )
    )
    skipped: list[SkippedRelease] = strawberry.field(description="Newer releases, newest first.")
    notes: list[str] = strawberry.field(
        description=(
            "What else decided the answer: an installer fallback, the one document a check "
            "without an arch gets, a signature that names no version."
        )
    )


@strawberry.type
class PreviewQuery:
    @strawberry.field(description="What an install with these values gets from the updater route.")
    async def update_preview(
        self,
        info: Info,
        app_id: strawberry.ID,
        target: str,
        current_version: str,
        arch: Annotated[
            str | None,
            strawberry.argument(
                description="The install's arch; null for a check without one (/update/darwin/…)."
            ),
        ] = None,
        bundle_type: str | None = None,
        channel: Annotated[
            str | None,
            strawberry.argument(description="The install's ?channel=; default: the app's first."),
        ] = None,
        install_id: Annotated[
            str | None,
            strawberry.argument(description="The install's X-Install-Id (staged rollouts)."),
        ] = None,
        license_key: Annotated[
            str | None,
            strawberry.argument(description="The licence key the install sends (lk_…)."),
        ] = None,
    ) -> UpdatePreview:
        license_hash = auth.typed_license_hash(license_key)
        install = previews.Install(
            target, arch, bundle_type, current_version, channel, install_id, license_hash
        )
        result = await previews.preview(info.context.actor, app_id, install)
        choice = result.choice
        offered = None
        if choice is not None:
            release = await info.context.loaders.release.load(choice.offer.release_id)
            offered = None if release is None else Release.from_model(release)
        return UpdatePreview(
            status=result.status,
            platform_key=result.platform_key,
            served_key=None if choice is None else choice.stored_key,
            offered=offered,
            refusal=result.refusal,
            trusted_key_id=result.trusted_key,
            manifest=None if choice is None else update_json(choice).decode(),
            skipped=[
                SkippedRelease(
                    release=Release.from_model(s.release), reason=s.reason, detail=s.detail
                )
                for s in result.skipped
            ],
            notes=result.notes,
        )
