"""Artifacts in the GraphQL API: one update binary of a release, for one platform."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Self

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from ferryman import models
from ferryman.models import artifact as artifacts
from ferryman.models.errors import DomainError, InvalidInput
from ferryman.models.status import ArtifactStatus
from ferryman.resolvers.context import Info
from ferryman.resolvers.errors import Payload, UserErrors
from ferryman.resolvers.node import Node
from ferryman.resolvers.scalars import ByteCount
from ferryman.signatures import Verifier

if TYPE_CHECKING:
    from ferryman.resolvers.releases import Release

strawberry.enum(ArtifactStatus, name="ArtifactStatus")
_Release = Annotated["Release", strawberry.lazy("ferryman.resolvers.releases")]


@strawberry.type(description="An update binary for one platform of a release.")
class Artifact(Node):
    platform: str = strawberry.field(description="e.g. darwin-aarch64 or linux-x86_64-deb.")
    signature: str = strawberry.field(description="Content of the .sig file, base64.")
    object_key: str = strawberry.field(
        description=(
            "Where the file lives in the bucket: where it was uploaded until it is READY, "
            "then the copy Ferryman verified, which no upload URL can write."
        )
    )
    download_url: str | None = strawberry.field(
        description=(
            "What installs are sent to once the release is published (READY only): "
            "/dl/{app id}/{version}/{platform}, or the public bucket URL of objectKey."
        )
    )
    file_size: ByteCount | None
    checksum: str | None = strawberry.field(description="SHA-256 of the file, hex.")
    status: ArtifactStatus
    failure_reason: str | None = strawberry.field(description="Why the file was refused.")
    filename: str | None
    warning: str | None = strawberry.field(
        description="Something odd but harmless, such as a signature made for another file name."
    )
    signed_version: str | None = strawberry.field(
        description=(
            "The version the signature's trusted comment names; null when it names none, "
            "which installs with requireSignedVersion refuse at download."
        )
    )
    key_id: str | None = strawberry.field(
        description="The id of the key that made the signature, as the Tauri CLI prints it."
    )
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
            filename=artifact.filename,
            warning=artifact.warning,
            signed_version=artifact.signed_version,
            key_id=artifact.key_id,
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
    try:
        return Artifact.from_model(await artifacts.get_visible(info.context.actor, node_id))
    except DomainError:
        return None


@strawberry.type(description="A header the upload request must carry.")
class HttpHeader:
    name: str
    value: str


@strawberry.input
class ArtifactUploadCreateInput:
    platform: str = strawberry.field(description="e.g. darwin-aarch64 or linux-x86_64-deb.")
    filename: str = strawberry.field(description="The file's own name, no folders.")
    signature: str = strawberry.field(description="Content of the file's .sig, as written.")
    file_size: ByteCount = strawberry.field(
        description=(
            "The file's exact size in bytes: the uploadUrl accepts a body of this length "
            "only (at most FERRYMAN_MAX_ARTIFACT_BYTES, 2 GiB by default)."
        )
    )
    content_type: str | None = None


@strawberry.type
class ArtifactUploadCreatePayload(Payload):
    artifact: Artifact | None = None
    upload_url: str | None = strawberry.field(
        default=None,
        description=(
            "PUT the file's bytes here, with uploadHeaders (Content-Length among them: "
            "the store refuses any other size)."
        ),
    )
    upload_headers: list[HttpHeader] = strawberry.field(default_factory=list)
    expires_in: int | None = strawberry.field(
        default=None, description="Seconds the uploadUrl stays valid."
    )


@strawberry.type
class ArtifactUploadConfirmPayload(Payload):
    artifact: Artifact | None = None


@strawberry.type
class ArtifactUploadPayload(Payload):
    artifact: Artifact | None = None


@strawberry.type
class ArtifactDeletePayload(Payload):
    deleted_artifact_id: strawberry.ID | None = None


@strawberry.type
class ArtifactMutation:
    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Start a presigned upload: PUT the file to uploadUrl, then confirm it.",
    )
    async def artifact_upload_create(
        self, info: Info, release_id: strawberry.ID, input: ArtifactUploadCreateInput
    ) -> ArtifactUploadCreatePayload:
        new = artifacts.NewArtifact(
            platform=input.platform,
            filename=input.filename,
            signature=input.signature,
            file_size=input.file_size,
            content_type=input.content_type,
        )
        artifact, upload = await artifacts.begin_presigned_upload(
            info.context.actor, release_id, new, info.context.storage, Verifier.for_upload
        )
        return ArtifactUploadCreatePayload(
            artifact=Artifact.from_model(artifact),
            upload_url=upload.url,
            upload_headers=[HttpHeader(name=k, value=v) for k, v in upload.headers.items()],
            expires_in=upload.expires_in,
        )

    @strawberry.mutation(
        extensions=[UserErrors()],
        description=(
            "Copy the uploaded file to a key only Ferryman writes and check that copy (size, "
            "SHA-256, Tauri signature): READY, and served from there, or FAILED."
        ),
    )
    async def artifact_upload_confirm(
        self, info: Info, id: strawberry.ID
    ) -> ArtifactUploadConfirmPayload:
        artifact = await artifacts.confirm(
            info.context.actor, id, info.context.storage, Verifier.for_upload
        )
        return ArtifactUploadConfirmPayload(artifact=Artifact.from_model(artifact))

    @strawberry.mutation(
        extensions=[UserErrors()],
        description="Upload a small file in this request (GraphQL multipart), checked at once.",
    )
    async def artifact_upload(
        self,
        info: Info,
        release_id: strawberry.ID,
        platform: str,
        signature: str,
        file: Upload,
    ) -> ArtifactUploadPayload:
        if not isinstance(file, UploadFile):
            raise InvalidInput(
                "file must be a file part of a multipart request (the GraphQL multipart "
                "request spec), not a value in the JSON variables",
                ("file",),
            )
        artifact = await artifacts.upload_file(
            info.context.actor,
            release_id,
            platform,
            signature,
            file,
            info.context.max_upload_bytes,
            info.context.storage,
            Verifier.for_upload,
        )
        return ArtifactUploadPayload(artifact=Artifact.from_model(artifact))

    @strawberry.mutation(
        extensions=[UserErrors()], description="Remove an artifact of a draft, file included."
    )
    async def artifact_delete(self, info: Info, id: strawberry.ID) -> ArtifactDeletePayload:
        deleted = await artifacts.delete(info.context.actor, id, info.context.storage)
        return ArtifactDeletePayload(deleted_artifact_id=strawberry.ID(deleted))
