"""Artifacts: one update binary per platform of a release, and what happens to one.

An artifact is PENDING until its file has been checked: copied inside the store to a key
that only Ferryman ever writes, read back from there, hashed and verified against the
app's Tauri key, exactly as the updater will verify it. Then it is READY, and installs
are sent to that verified copy and nothing else, or FAILED with a reason a person can
act on. Whoever holds an upload URL (or bucket credentials) can still write where the
file was uploaded, but never what is served. The object store and the signature check
are handed in by the door (they are I/O and crypto, not rules), so GraphQL and REST
share this one implementation; the checks themselves are :mod:`.verification`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.transactions import in_transaction

from ferryman.models import audit_event, ids
from ferryman.models import notification as notifications
from ferryman.models import release as releases
from ferryman.models import signing_key as signing_keys
from ferryman.models.actor import Actor
from ferryman.models.errors import DomainError, InvalidInput, InvalidState, NotFound
from ferryman.models.ids import MAX_LENGTH, new_id
from ferryman.models.platform import MAX_LENGTH as PLATFORM_LENGTH
from ferryman.models.signing_key import KEY_ID_LENGTH
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from ferryman.models.verification import (
    Checked,
    ObjectStore,
    ReadBack,
    Reading,
    SignatureParser,
    UploadUrl,
    check_upload,
    read_back,
    verification_failure,
)
from ferryman.models.webhook import Event

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
    # The id of the key its signature was made with (see models/signing_key.py).
    key_id = fields.CharField(max_length=KEY_ID_LENGTH, null=True)
    # Set while a health gate has halted the release on this platform: the file is offered
    # to no new install (models.health); installs already on it keep it.
    halted_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    release_id: str

    class Meta:
        table = "artifacts"
        unique_together = (("release", "platform"),)


@dataclasses.dataclass(frozen=True, slots=True)
class NewArtifact:
    """What an uploader declares: the platform, the file's name and its ``.sig`` content."""

    platform: str
    filename: str
    signature: str
    file_size: int | None = None
    content_type: str | None = None


class FilePart(Protocol):
    """A file part of a multipart request, as the web framework hands it over (spooled)."""

    @property
    def filename(self) -> str | None: ...

    @property
    def size(self) -> int | None: ...

    @property
    def content_type(self) -> str | None: ...

    async def read(self, size: int = -1) -> bytes: ...


# How much of a file part is read at a time on its way to the store.
PART_CHUNK = 1024 * 1024


def require_changer(actor: Actor) -> None:
    """Who may change artifacts at all (and then only a draft's): whoever makes changes."""
    actor.require_writer("changing a release's artifacts")


async def get_visible(actor: Actor, artifact_id: str, field: tuple[str, ...] = ("id",)) -> Artifact:
    artifact = await Artifact.get_or_none(id=ids.require(artifact_id, "art", field))
    if artifact is None:
        raise NotFound(f"artifact {artifact_id} not found", field)
    release = await releases.Release.get(id=artifact.release_id)
    if not actor.sees(release.app_id):
        raise NotFound(f"artifact {artifact_id} not found", field)
    return artifact


async def of_release(actor: Actor, release_id: str, artifact_id: str) -> Artifact:
    """The artifact, when the caller may see it and it is the release's (see
    :func:`ferryman.models.release.of_app`)."""
    artifact = await get_visible(actor, artifact_id)
    if artifact.release_id != release_id:
        raise NotFound(f"artifact {artifact_id} not found", ("id",))
    return artifact


async def of_releases(release_ids: list[str]) -> dict[str, list[Artifact]]:
    """Each release's artifacts by platform, in one query (every release has a list)."""
    grouped: dict[str, list[Artifact]] = defaultdict(list)
    for artifact in await Artifact.filter(release_id__in=release_ids).order_by("platform"):
        grouped[artifact.release_id].append(artifact)
    return {release_id: grouped[release_id] for release_id in release_ids}


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
    checked = await check_upload(release, app, new, store, parse)
    return await _replace(actor, release, app, new, checked, store, artifact_id, key, key)


async def begin_presigned_upload(
    actor: Actor, release_id: str, new: NewArtifact, store: ObjectStore, parse: SignatureParser
) -> tuple[Artifact, UploadUrl]:
    """:func:`begin_upload`, and the URL that writes exactly that file to the artifact's
    upload key: what every door hands out."""
    artifact = await begin_upload(actor, release_id, new, store, parse)
    # begin_upload refuses an upload without a size, and gives every one its key.
    assert artifact.upload_key is not None
    assert artifact.file_size is not None
    url = await store.presign_put(artifact.upload_key, new.content_type, artifact.file_size)
    return artifact, url


async def confirm(
    actor: Actor, artifact_id: str, store: ObjectStore, parse: SignatureParser
) -> Artifact:
    """Check the uploaded file and mark the artifact READY or FAILED.

    Confirming a READY artifact again changes nothing: what it serves is a copy nobody
    else can write, so there is nothing to check again. It is still a change to ask for,
    which a viewer may not.
    """
    require_changer(actor)
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
    checked = await check_upload(release, app, new, store, parse)
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
    checked = await check_upload(release, app, new, store, parse)
    reading = Reading(parse(new.signature))
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


async def upload_file(
    actor: Actor,
    release_id: str,
    platform: str,
    signature: str,
    file: FilePart,
    limit: int,
    store: ObjectStore,
    parse: SignatureParser,
) -> Artifact:
    """:func:`upload` of a multipart request's file part, declared by its own name, size
    and content type: every door takes a direct upload the same way, and its refusals
    name the request's own fields (``platform``, ``signature``, ``file``)."""
    new = NewArtifact(
        platform=platform,
        filename=file.filename or "",
        signature=signature,
        # Known once the request is parsed: a file that cannot pass is refused before a
        # byte of it is stored.
        file_size=file.size,
        content_type=file.content_type,
    )
    try:
        return await upload(actor, release_id, new, _parts(file), limit, store, parse)
    except DomainError as error:
        # The rules name the fields of a presigned upload's input; here the file says them.
        if error.field is not None:
            error.field = _DIRECT_FIELDS.get(error.field, error.field)
        raise


_DIRECT_FIELDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("input", "platform"): ("platform",),
    ("input", "signature"): ("signature",),
    ("input", "filename"): ("file",),
    ("input", "fileSize"): ("file",),
    ("input", "contentType"): ("file",),
}


async def _parts(file: FilePart) -> AsyncIterator[bytes]:
    while chunk := await file.read(PART_CHUNK):
        yield chunk


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
    require_changer(actor)
    release = await releases.get_visible(actor, release_id, field)
    if release.status is not ReleaseStatus.DRAFT:
        raise InvalidState(
            f"release {release.version} is {release.status.value}; artifacts can only be "
            "added, confirmed or removed while a release is a draft",
            field,
        )
    return release, await release.app


async def _replace(
    actor: Actor,
    release: Release,
    app: App,
    new: NewArtifact,
    checked: Checked,
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
            key_id=checked.key_id,
        )
        await audit_event.record(
            actor,
            "artifact.upload",
            artifact.id,
            app.id,
            f"started {new.platform} artifact {new.filename} of {app.slug} {release.version}",
        )
    return artifact


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
        keys = await signing_keys.keyring(app)
        failure = verification_failure(reading.check, keys, app, release)
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
        if failure:
            about = {"id": artifact.id, "platform": artifact.platform}
            await notifications.emit_release(
                Event.ARTIFACT_VERIFICATION_FAILED, actor, release, artifact=about, reason=failure
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
