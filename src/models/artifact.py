"""Artifacts: one update binary per platform of a release, and the rules for accepting one.

An artifact is PENDING until the stored file has been read back, hashed and checked
against the app's Tauri key; then it is READY or FAILED with a reason a person can act
on. The object store and the signature check are handed in by the door (they are I/O
and crypto, not rules), so GraphQL and REST share this one implementation.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from ferryman.models import audit_event, ids
from ferryman.models import release as releases
from ferryman.models.actor import Actor
from ferryman.models.errors import InvalidInput, InvalidState, NotFound
from ferryman.models.ids import MAX_LENGTH, new_id
from ferryman.models.platform import MAX_LENGTH as PLATFORM_LENGTH
from ferryman.models.platform import validate_platform
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from ferryman.versions import InvalidVersion, Version

if TYPE_CHECKING:
    from ferryman.models.app import App
    from ferryman.models.release import Release


class Artifact(Model):
    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    release: fields.ForeignKeyRelation[Release] = fields.ForeignKeyField(
        "models.Release", related_name="artifacts", on_delete=fields.CASCADE
    )
    platform = fields.CharField(max_length=PLATFORM_LENGTH)
    filename = fields.CharField(max_length=255, null=True)
    signature = fields.TextField()
    object_key = fields.CharField(max_length=1024)
    download_url: str | None = fields.TextField(null=True)
    file_size = fields.BigIntField(null=True)
    checksum = fields.CharField(max_length=64, null=True)
    status = fields.CharEnumField(ArtifactStatus, max_length=16, default=ArtifactStatus.PENDING)
    failure_reason: str | None = fields.TextField(null=True)
    warning = fields.TextField(null=True)
    # The version the signature's trusted comment names (None: it names none, and clients
    # with requireSignedVersion refuse the file).
    signed_version = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    release_id: str

    class Meta:
        table = "artifacts"
        unique_together = (("release", "platform"),)


class SignatureCheck(Protocol):
    """A parsed signature, fed the file's bytes, then asked whether they verify."""

    @property
    def signed_version(self) -> str | None: ...

    @property
    def signed_file(self) -> str | None: ...

    def update(self, chunk: bytes) -> None: ...

    def failure(self, public_key: str) -> str | None:
        """None when the bytes verify against ``public_key``, else why not."""
        ...


class ObjectStore(Protocol):
    """What the rules need of the bucket."""

    def object_key(self, app_slug: str, version: str, filename: str) -> str: ...

    def download_url(self, app_slug: str, version: str, platform: str, key: str) -> str: ...

    async def size(self, key: str) -> int | None: ...

    def chunks(self, key: str) -> AsyncIterator[bytes]: ...

    async def upload(
        self, key: str, chunks: AsyncIterator[bytes], content_type: str | None
    ) -> None: ...

    async def delete(self, key: str) -> None: ...


# Parses a signature's text (raising InvalidInput for what is not one).
SignatureParser = Callable[[str], SignatureCheck]


@dataclasses.dataclass(frozen=True, slots=True)
class NewArtifact:
    """What an uploader declares: the platform, the file's name and its ``.sig`` content."""

    platform: str
    filename: str
    signature: str
    file_size: int | None = None
    content_type: str | None = None


async def get_visible(actor: Actor, artifact_id: str, field: tuple[str, ...] = ("id",)) -> Artifact:
    artifact = await Artifact.get_or_none(id=ids.require(artifact_id, "art", field))
    if artifact is None:
        raise NotFound(f"artifact {artifact_id} not found", field)
    release = await releases.Release.get(id=artifact.release_id)
    if not actor.sees(release.app_id):
        raise NotFound(f"artifact {artifact_id} not found", field)
    return artifact


async def begin_upload(
    actor: Actor, release_id: str, new: NewArtifact, store: ObjectStore, parse: SignatureParser
) -> Artifact:
    """Record a PENDING artifact whose file the caller will put at its object key.

    An artifact already on that platform of the draft is replaced.
    """
    release, app = await _draft_with_app(actor, release_id, ("releaseId",))
    checked = await _checked(release, app, new, store, parse)
    return await _replace(actor, release, app, new, checked, store)


async def confirm(
    actor: Actor, artifact_id: str, store: ObjectStore, parse: SignatureParser
) -> Artifact:
    """Read the stored file back and mark the artifact READY or FAILED.

    Confirming a READY artifact again changes nothing.
    """
    artifact = await get_visible(actor, artifact_id)
    if artifact.status is ArtifactStatus.READY:
        return artifact
    release, app = await _draft_with_app(actor, artifact.release_id, ("id",))
    read = await read_back(
        artifact.object_key, parse(artifact.signature), store, expected_size=artifact.file_size
    )
    return await _settle(actor, artifact, release, app, store, read)


@dataclasses.dataclass(frozen=True, slots=True)
class ReadBack:
    """A stored file read back whole (``reading``), or why it could not be (``failure``)."""

    reading: _Reading | None
    failure: str | None


async def read_back(
    key: str, check: SignatureCheck, store: ObjectStore, *, expected_size: int | None = None
) -> ReadBack:
    """Read the object at ``key`` once, hashing it and feeding ``check``; writes nothing."""
    size = await store.size(key)
    if size is None:
        return ReadBack(
            None,
            "object not found: the upload never happened or went elsewhere; "
            "upload the file to the uploadUrl, then confirm again",
        )
    if expected_size is not None and size != expected_size:
        return ReadBack(
            None,
            f"the stored file is {size} bytes but fileSize said {expected_size}: "
            "upload the whole file again",
        )
    reading = _Reading(check)
    async for chunk in store.chunks(key):
        reading.feed(chunk)
    if reading.size != size:
        return ReadBack(None, "the stored file changed while it was being checked; confirm again")
    return ReadBack(reading, None)


async def attach(
    actor: Actor,
    release: Release,
    app: App,
    new: NewArtifact,
    read: ReadBack,
    store: ObjectStore,
    parse: SignatureParser,
) -> Artifact:
    """Record an artifact whose file was already read back, in its final state (READY or
    FAILED). Call it inside the caller's transaction: nothing is left PENDING."""
    checked = await _checked(release, app, new, store, parse)
    artifact = await _replace(actor, release, app, new, checked, store)
    return await _settle(actor, artifact, release, app, store, read)


async def upload(
    actor: Actor,
    release_id: str,
    new: NewArtifact,
    chunks: AsyncIterator[bytes],
    limit: int,
    store: ObjectStore,
    parse: SignatureParser,
) -> Artifact:
    """Stream a file straight into the store while hashing and verifying it, in one pass."""
    release, app = await _draft_with_app(actor, release_id, ("releaseId",))
    checked = await _checked(release, app, new, store, parse)
    reading = _Reading(parse(new.signature))

    async def read() -> AsyncIterator[bytes]:
        async for chunk in chunks:
            reading.feed(chunk)
            if reading.size > limit:
                raise InvalidInput(
                    f"the file is larger than {limit} bytes, the limit for direct uploads; "
                    "use artifactUploadCreate (a presigned upload) for large files",
                    ("file",),
                )
            yield chunk

    await store.upload(checked.key, read(), new.content_type)
    artifact = await _replace(actor, release, app, new, checked, store)
    return await _settle(actor, artifact, release, app, store, ReadBack(reading, None))


async def delete(actor: Actor, artifact_id: str, store: ObjectStore) -> str:
    """Delete an artifact of a draft, object first, so a failure leaves the row usable."""
    artifact = await get_visible(actor, artifact_id)
    release, _ = await _draft_with_app(actor, artifact.release_id, ("id",))
    if not await _shared(artifact):
        await store.delete(artifact.object_key)
    async with in_transaction():
        await audit_event.record(
            actor,
            "artifact.delete",
            artifact.id,
            release.app_id,
            f"deleted {artifact.platform} artifact of {release.version}",
        )
        await artifact.delete()
    return artifact.id


async def _draft_with_app(
    actor: Actor, release_id: str, field: tuple[str, ...]
) -> tuple[Release, App]:
    release = await releases.get_visible(actor, release_id, field)
    if release.status is not ReleaseStatus.DRAFT:
        raise InvalidState(
            f"release {release.version} is {release.status.value}; artifacts can only be "
            "added, confirmed or removed while a release is a draft",
            field,
        )
    return release, await release.app


@dataclasses.dataclass(frozen=True, slots=True)
class _Checked:
    """What is known of an upload before its file is read: where it goes, what its
    signature says, and anything worth a warning."""

    key: str
    warning: str | None
    signed_version: str | None


async def _checked(
    release: Release, app: App, new: NewArtifact, store: ObjectStore, parse: SignatureParser
) -> _Checked:
    """The upload's object key and signature facts, or InvalidInput before anything is
    written."""
    validate_platform(new.platform, ("input", "platform"))
    key = store.object_key(app.slug, release.version, new.filename)
    if await Artifact.filter(object_key=key).exclude(release_id=release.id).exists():
        # Only after a rename of this draft's version or of the app's slug.
        raise InvalidInput(
            f"{key} already holds a file of another release; upload under another file name",
            ("input", "filename"),
        )
    if new.file_size is not None and new.file_size < 0:
        raise InvalidInput("fileSize must not be negative", ("input", "fileSize"))
    check = parse(new.signature)
    refusal = _version_mismatch(check, release) or _unsigned_version(check, app, release)
    if refusal:
        raise InvalidInput(refusal, ("input", "signature"))
    warning = None
    if check.signed_file is not None and check.signed_file != new.filename:
        warning = (
            f"the signature was made for the file {check.signed_file!r}, "
            f"uploaded as {new.filename!r}"
        )
    return _Checked(key, warning, check.signed_version)


async def _replace(
    actor: Actor,
    release: Release,
    app: App,
    new: NewArtifact,
    checked: _Checked,
    store: ObjectStore,
) -> Artifact:
    key = checked.key
    previous = await Artifact.get_or_none(release_id=release.id, platform=new.platform)
    if previous is not None and previous.object_key != key and not await _shared(previous):
        await store.delete(previous.object_key)
    async with in_transaction():
        await Artifact.filter(release_id=release.id, platform=new.platform).delete()
        artifact = await Artifact.create(
            id=new_id("art"),
            release_id=release.id,
            platform=new.platform,
            filename=new.filename,
            signature=new.signature.strip(),
            object_key=key,
            file_size=new.file_size,
            warning=checked.warning,
            signed_version=checked.signed_version,
        )
        # Another platform's artifact with this file name shares the object, which this
        # upload overwrites: what was verified there is gone, so it must be checked again.
        await (
            Artifact.filter(object_key=key, release_id=release.id)
            .exclude(id=artifact.id)
            .update(
                status=ArtifactStatus.FAILED,
                checksum=None,
                download_url=None,
                failure_reason=(
                    f"its file {new.filename} was overwritten by the {new.platform} upload of "
                    "the same name: confirm again if both platforms use this very file (a "
                    "universal build), otherwise upload this platform's file under its own name"
                ),
            )
        )
        await audit_event.record(
            actor,
            "artifact.upload",
            artifact.id,
            app.id,
            f"started {new.platform} artifact {new.filename} of {app.slug} {release.version}",
        )
    return artifact


class _Reading:
    """One pass over a file: its size, its SHA-256, and the signature check fed along."""

    def __init__(self, check: SignatureCheck) -> None:
        self.check = check
        self.digest = hashlib.sha256()
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.digest.update(chunk)
        self.check.update(chunk)


async def _shared(artifact: Artifact) -> bool:
    """Whether another artifact uses this one's file (a universal macOS build serves two
    platforms): then the object must outlive this row."""
    return await Artifact.filter(object_key=artifact.object_key).exclude(id=artifact.id).exists()


async def _settle(
    actor: Actor, artifact: Artifact, release: Release, app: App, store: ObjectStore, read: ReadBack
) -> Artifact:
    """Record the outcome: FAILED with the read's failure, or judged from its reading."""
    failure, reading = read.failure, read.reading
    if reading is not None:
        failure = _verification_failure(reading.check, app, release)
        artifact.file_size = reading.size
        artifact.checksum = reading.digest.hexdigest()
    else:
        artifact.checksum = None
    artifact.status = ArtifactStatus.FAILED if failure else ArtifactStatus.READY
    artifact.failure_reason = failure
    artifact.download_url = None
    if not failure:
        artifact.download_url = store.download_url(
            app.slug, release.version, artifact.platform, artifact.object_key
        )
    async with in_transaction():
        await artifact.save()
        outcome = f"failed: {failure}" if failure else "ready"
        await audit_event.record(
            actor,
            "artifact.confirm",
            artifact.id,
            app.id,
            f"{artifact.platform} artifact of {release.version} {outcome}",
        )
    return artifact


def _verification_failure(check: SignatureCheck, app: App, release: Release) -> str | None:
    if not app.public_key:
        return (
            f"app {app.slug} has no publicKey, so the signature cannot be checked: set it with "
            "appUpdate, then confirm again"
        )
    return (
        check.failure(app.public_key)
        or _version_mismatch(check, release)
        or _unsigned_version(check, app, release)
    )


def _version_mismatch(check: SignatureCheck, release: Release) -> str | None:
    signed = check.signed_version
    if signed is None:
        return None
    try:
        same = Version.parse(signed) == Version.parse(release.version)
    except InvalidVersion:
        same = signed == release.version
    if same:
        return None
    return (
        f"the signature is for version {signed} but the release is {release.version}; "
        "the updater would refuse it: sign with --app-version "
        f"{release.version} (or build that version)"
    )


def _unsigned_version(check: SignatureCheck, app: App, release: Release) -> str | None:
    if check.signed_version is not None or not app.require_signed_version:
        return None
    return (
        f"the signature names no version, and app {app.slug} requires one "
        "(requireSignedVersion, as its clients do): sign with `tauri signer sign --app-version "
        f"{release.version}`, or build with Tauri CLI 2.11.5 or newer"
    )
