"""Artifacts in the GraphQL API: one update binary of a release, for one platform."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Self

import strawberry

from ferryman import models
from ferryman.models.status import ArtifactStatus
from ferryman.resolvers.context import Info
from ferryman.resolvers.node import Node
from ferryman.resolvers.scalars import ByteCount

if TYPE_CHECKING:
    from ferryman.resolvers.releases import Release

strawberry.enum(ArtifactStatus, name="ArtifactStatus")
_Release = Annotated["Release", strawberry.lazy("ferryman.resolvers.releases")]


@strawberry.type(description="An update binary for one platform of a release.")
class Artifact(Node):
    platform: str = strawberry.field(description="e.g. darwin-aarch64 or linux-x86_64-deb.")
    signature: str = strawberry.field(description="Content of the .sig file, base64.")
    object_key: str = strawberry.field(description="Where the file lives in the bucket.")
    download_url: str | None
    file_size: ByteCount | None
    checksum: str | None = strawberry.field(description="SHA-256 of the file, hex.")
    status: ArtifactStatus
    failure_reason: str | None
    created_at: datetime
    release_id: strawberry.Private[str]

    @classmethod
    def from_model(cls, artifact: models.Artifact) -> Self:
        return cls(
            id=strawberry.ID(artifact.id),
            platform=artifact.platform,
            signature=artifact.signature,
            object_key=artifact.object_key,
            download_url=artifact.download_url,
            file_size=None if artifact.file_size is None else ByteCount(artifact.file_size),
            checksum=artifact.checksum,
            status=artifact.status,
            failure_reason=artifact.failure_reason,
            created_at=artifact.created_at,
            release_id=artifact.release_id,
        )

    @strawberry.field
    async def release(self, info: Info) -> _Release:
        from ferryman.resolvers.releases import Release

        release = await info.context.loaders.release.load(self.release_id)
        assert release is not None
        return Release.from_model(release)


async def get_node(info: Info, node_id: str) -> Artifact | None:
    artifact = await models.Artifact.get_or_none(id=node_id).prefetch_related("release")
    if artifact is None or not info.context.actor.sees(artifact.release.app_id):
        return None
    return Artifact.from_model(artifact)
