"""Artifacts: one update binary per platform of a release, and the rules for accepting one.

An artifact is PENDING until its file has been checked: copied inside the store to a key
that only Ferryman ever writes, read back from there, hashed and verified against the
app's Tauri key, exactly as the updater will verify it. Then it is READY, and installs
are sent to that verified copy and nothing else, or FAILED with a reason a person can
act on. Whoever holds an upload URL (or bucket credentials) can still write where the
file was uploaded, but never what is served. The object store and the signature check
are handed in by the door (they are I/O and crypto, not rules), so GraphQL and REST
share this one implementation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol

from tortoise import fields
from tortoise.expressions import Q
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
    # Where the uploader put the file: the artifact's own presigned upload key, or the
    # r2_key a CI pipeline wrote. None for a direct upload, streamed to object_key at once.
    upload_key = fields.CharField(max_length=1024, null=True)
    # Where the file is: its upload key until verified, then the copy Ferryman wrote and
    # verified, which no upload credential can write (storage.py has the layout).
    object_key = fields.CharField(max_length=1024)
    # What installs are sent to, set when READY: /dl/{app id}/{version}/{platform}, or the
    # public bucket URL of the verified object. Neither changes when the app is renamed.
    download_url: str | None = fields.TextField(null=True)
    # "{slug}/{version}/{platform}" of the /dl link that versions before 0009 handed out
    # for this artifact; such a link is still followed when it names this artifact alone.
    legacy_link = fields.CharField(max_length=256, null=True, db_index=True)
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

    def key_failure(self, public_key: str) -> str | None:
        """Why no file can verify against ``public_key`` (another key signed), or None."""
        ...

    def size_failure(self, size: int) -> str | None:
        """Why a file of ``size`` bytes cannot be checked (a legacy signature on a large
        file), or None."""
        ...

    def failure(self, public_key: str) -> str | None:
        """None when the bytes verify against ``public_key``, else why not."""
        ...


class ObjectStore(Protocol):
    """What the rules need of the bucket."""

    @property
    def max_file_bytes(self) -> int: ...

    def file_name(self, filename: str) -> str: ...

    def upload_key(self, app_slug: str, artifact_id: str, filename: str) -> str: ...

    def is_upload_key(self, key: str) -> bool: ...

    def served_prefix(
        self, app_slug: str, version: str, platform: str, artifact_id: str | None = None
    ) -> str: ...

    def served_key(
        self, app_slug: str, version: str, platform: str, artifact_id: str, filename: str
    ) -> str: ...

    def download_url(self, app_id: str, version: str, platform: str, key: str) -> str: ...

    async def head(self, key: str) -> tuple[int, str] | None: ...

    async def copy(self, source: str, target: str, etag: str) -> bool: ...

    async def keys(self, prefix: str) -> list[str]: ...

    async def abort_unfinished(self, prefix: str) -> None: ...

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
    """Record a PENDING artifact whose file the caller will put at its ``upload_key``, a
    key of its own, in exactly ``new.file_size`` bytes.

    An artifact already on that platform of the draft is replaced.
    """
    release, app = await _draft_with_app(actor, release_id, ("releaseId",))
    if new.file_size is None:
        raise InvalidInput(
            "fileSize is required: the upload URL is made for exactly that many bytes",
            ("input", "fileSize"),
        )
    artifact_id = new_id("art")
    key = store.upload_key(app.slug, artifact_id, new.filename)
    checked = await _checked(release, app, new, store, parse)
    return await _replace(actor, release, app, new, checked, store, artifact_id, key, key)


async def confirm(
    actor: Actor, artifact_id: str, store: ObjectStore, parse: SignatureParser
) -> Artifact:
    """Check the uploaded file and mark the artifact READY or FAILED.

    Confirming a READY artifact again changes nothing: what it serves is a copy nobody
    else can write, so there is nothing to check again.
    """
    artifact = await get_visible(actor, artifact_id)
    if artifact.status is ArtifactStatus.READY:
        return artifact
    release, app = await _draft_with_app(actor, artifact.release_id, ("id",))
    check = parse(artifact.signature)
    if artifact.upload_key is None:  # a direct upload: Ferryman wrote it, once
        read = await read_back(
            artifact.object_key, check, store, app, expected_size=artifact.file_size
        )
    else:
        filename = artifact.filename or "file"
        target = store.served_key(
            app.slug, release.version, artifact.platform, artifact.id, filename
        )
        read = await read_back(
            artifact.upload_key,
            check,
            store,
            app,
            expected_size=artifact.file_size,
            copy_to=target,
        )
    return await _settle(actor, artifact, release, app, store, read)


@dataclasses.dataclass(frozen=True, slots=True)
class ReadBack:
    """A stored file read back whole (``reading``) at ``key``, or why it could not be
    (``failure``)."""

    reading: _Reading | None
    failure: str | None
    key: str | None = None


async def read_back(
    source: str,
    check: SignatureCheck,
    store: ObjectStore,
    app: App,
    *,
    expected_size: int | None = None,
    copy_to: str | None = None,
) -> ReadBack:
    """Read the file at ``source`` once, hashing it and feeding ``check``.

    Everything that needs no bytes is checked first (the size, the key that signed, a
    legacy signature's size limit), so a file that cannot pass is never read. With
    ``copy_to``, the file is first copied there inside the store, and the copy is what is
    read: that key is written by nothing else, so what was verified stays what it holds.
    """
    head = await store.head(source)
    if head is None:
        return ReadBack(
            None,
            "object not found: the upload never happened or went elsewhere; "
            "upload the file to the uploadUrl, then confirm again",
        )
    size, etag = head
    failure = _before_reading(check, app, size, expected_size, store.max_file_bytes)
    if failure:
        return ReadBack(None, failure)
    key = source
    if copy_to is not None:
        if not await store.copy(source, copy_to, etag):
            return ReadBack(None, _CHANGED)
        key = copy_to
    reading = _Reading(check)
    try:
        async for chunk in store.chunks(key):
            reading.feed(chunk)
    except LookupError:  # swept away by another confirm of the artifact that won
        return ReadBack(None, _CHANGED)
    except BaseException:
        if key != source:
            with contextlib.suppress(Exception):
                await store.delete(key)
        raise
    if reading.size != size:
        return ReadBack(None, _CHANGED, key)
    return ReadBack(reading, None, key)


_CHANGED = "the stored file changed while it was being checked; confirm again"


async def attach(
    actor: Actor,
    release: Release,
    app: App,
    new: NewArtifact,
    artifact_id: str,
    upload_key: str,
    read: ReadBack,
    store: ObjectStore,
    parse: SignatureParser,
) -> Artifact:
    """Record artifact ``artifact_id``, uploaded to ``upload_key``, whose file was already
    read back (copied under the artifact's prefix), in its final state (READY or FAILED).
    Call it inside the caller's transaction: nothing is left PENDING."""
    checked = await _checked(release, app, new, store, parse)
    artifact = await _replace(
        actor, release, app, new, checked, store, artifact_id, upload_key, upload_key
    )
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
    """Stream a file through this process into a key of its own while hashing and
    verifying it, in one pass: what was verified is what was written."""
    release, app = await _draft_with_app(actor, release_id, ("releaseId",))
    artifact_id = new_id("art")
    key = store.served_key(app.slug, release.version, new.platform, artifact_id, new.filename)
    checked = await _checked(release, app, new, store, parse)
    reading = _Reading(parse(new.signature))
    limit = min(limit, store.max_file_bytes)

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

    await store.upload(key, read(), new.content_type)
    with contextlib.suppress(Exception):  # uploads of this platform an outage cut off
        await store.abort_unfinished(store.served_prefix(app.slug, release.version, new.platform))
    artifact = await _replace(actor, release, app, new, checked, store, artifact_id, None, key)
    return await _settle(actor, artifact, release, app, store, ReadBack(reading, None, key))


async def delete(actor: Actor, artifact_id: str, store: ObjectStore) -> str:
    """Delete an artifact of a draft, objects first, so a failure leaves the row usable."""
    artifact = await get_visible(actor, artifact_id)
    release, app = await _draft_with_app(actor, artifact.release_id, ("id",))
    await _delete_objects(artifact, store, app, release)
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
    """What is known of an upload before its file is read: what its signature says, and
    anything worth a warning."""

    warning: str | None
    signed_version: str | None


async def _checked(
    release: Release, app: App, new: NewArtifact, store: ObjectStore, parse: SignatureParser
) -> _Checked:
    """The upload's signature facts, or InvalidInput before anything is written (the
    caller has made its key, which validated the file name)."""
    validate_platform(new.platform, ("input", "platform"))
    if new.file_size is not None:
        if new.file_size < 0:
            raise InvalidInput("fileSize must not be negative", ("input", "fileSize"))
        if new.file_size > store.max_file_bytes:
            raise InvalidInput(
                f"fileSize {new.file_size} is more than the {store.max_file_bytes} bytes an "
                "update file may have on this server (FERRYMAN_MAX_ARTIFACT_BYTES)",
                ("input", "fileSize"),
            )
    check = parse(new.signature)
    refusal = _version_mismatch(check, release) or _unsigned_version(check, app, release)
    if new.file_size is not None:
        refusal = refusal or check.size_failure(new.file_size)
    if refusal:
        raise InvalidInput(refusal, ("input", "signature"))
    warning = None
    if check.signed_file is not None and check.signed_file != new.filename:
        warning = (
            f"the signature was made for the file {check.signed_file!r}, "
            f"uploaded as {new.filename!r}"
        )
    return _Checked(warning, check.signed_version)


async def _replace(
    actor: Actor,
    release: Release,
    app: App,
    new: NewArtifact,
    checked: _Checked,
    store: ObjectStore,
    artifact_id: str,
    upload_key: str | None,
    object_key: str,
) -> Artifact:
    previous = await Artifact.get_or_none(release_id=release.id, platform=new.platform)
    if previous is not None:
        await _delete_objects(previous, store, app, release, keep={upload_key, object_key})
    async with in_transaction():
        await Artifact.filter(release_id=release.id, platform=new.platform).delete()
        artifact = await Artifact.create(
            id=artifact_id,
            release_id=release.id,
            platform=new.platform,
            filename=new.filename,
            signature=new.signature.strip(),
            upload_key=upload_key,
            object_key=object_key,
            file_size=new.file_size,
            warning=checked.warning,
            signed_version=checked.signed_version,
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


async def _delete_objects(
    artifact: Artifact,
    store: ObjectStore,
    app: App,
    release: Release,
    keep: set[str | None] | None = None,
) -> None:
    """Delete the artifact's objects, but none that another artifact still uses (one CI
    object submitted for two platforms, or an object two artifacts shared before 0009)."""
    prefix = store.served_prefix(app.slug, release.version, artifact.platform, artifact.id)
    leftovers = set(await store.keys(prefix))
    for key in ({artifact.object_key, artifact.upload_key} | leftovers) - (keep or set()):
        if key is not None and not await _used_elsewhere(key, artifact.id):
            await store.delete(key)


async def _used_elsewhere(key: str, artifact_id: str) -> bool:
    return (
        await Artifact.filter(Q(object_key=key) | Q(upload_key=key))
        .exclude(id=artifact_id)
        .exists()
    )


async def _settle(
    actor: Actor, artifact: Artifact, release: Release, app: App, store: ObjectStore, read: ReadBack
) -> Artifact:
    """Record the outcome: FAILED with the read's failure, or judged from its reading.

    READY points the artifact at the key that was read (the verified copy); FAILED points
    it back at where the file was uploaded, and the copy is deleted.
    """
    failure, reading = read.failure, read.reading
    if reading is not None:
        failure = _verification_failure(reading.check, app, release)
        artifact.file_size = reading.size
        artifact.checksum = reading.digest.hexdigest()
    else:
        artifact.checksum = None
    previous = artifact.object_key
    artifact.status = ArtifactStatus.FAILED if failure else ArtifactStatus.READY
    artifact.failure_reason = failure
    artifact.download_url = None
    if failure:
        artifact.object_key = artifact.upload_key or artifact.object_key
    else:
        assert read.key is not None
        artifact.object_key = read.key
        artifact.download_url = store.download_url(
            app.id, release.version, artifact.platform, read.key
        )
    async with in_transaction():
        current = await Artifact.select_for_update().get_or_none(id=artifact.id)
        if current is not None and current.status is ArtifactStatus.READY:
            # Another confirm of this artifact got there first: its verified copy stays.
            await _discard({read.key} - {current.object_key}, current.id, store)
            return current
        if current is None:
            await _discard({read.key}, artifact.id, store)
            raise NotFound(f"artifact {artifact.id} was deleted while it was checked", ("id",))
        await artifact.save()
        outcome = f"failed: {failure}" if failure else "ready"
        await audit_event.record(
            actor,
            "artifact.confirm",
            artifact.id,
            app.id,
            f"{artifact.platform} artifact of {release.version} {outcome}",
        )
    # What is no longer of use: a copy that failed, an earlier attempt's copy (also one a
    # crash or an outage cut short), and, once verified, the upload URL's own object (a
    # PUT there later changes nothing served).
    unused: set[str | None] = {read.key, previous}
    with contextlib.suppress(Exception):
        prefix = store.served_prefix(app.slug, release.version, artifact.platform, artifact.id)
        unused |= set(await store.keys(prefix))
    unused -= {artifact.object_key, artifact.upload_key}  # a pipeline's object is its own
    if not failure and artifact.upload_key and store.is_upload_key(artifact.upload_key):
        unused.add(artifact.upload_key)
    await _discard(unused, artifact.id, store)
    return artifact


async def _discard(keys: set[str | None], artifact_id: str, store: ObjectStore) -> None:
    """Delete objects no artifact uses, as far as the store lets us: one left behind is
    never served, and a lifecycle rule may clear it."""
    for key in keys:
        if key is not None and not await _used_elsewhere(key, artifact_id):
            with contextlib.suppress(Exception):
                await store.delete(key)


def _before_reading(
    check: SignatureCheck, app: App, size: int, expected: int | None, limit: int
) -> str | None:
    """Why the stored file cannot pass, as far as that is known without reading it."""
    if expected is not None and size != expected:
        return (
            f"the stored file is {size} bytes but fileSize said {expected}: "
            "upload the whole file again"
        )
    if size > limit:
        return (
            f"the stored file is {size} bytes, more than the {limit} an update file may have "
            "on this server (FERRYMAN_MAX_ARTIFACT_BYTES)"
        )
    if not app.public_key:
        return _no_public_key(app)
    return check.key_failure(app.public_key) or check.size_failure(size)


def _no_public_key(app: App) -> str:
    return (
        f"app {app.slug} has no publicKey, so the signature cannot be checked: set it with "
        "appUpdate, then confirm again"
    )


def _verification_failure(check: SignatureCheck, app: App, release: Release) -> str | None:
    if not app.public_key:
        return _no_public_key(app)
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
