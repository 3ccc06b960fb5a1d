"""A CI release submission: create or update one draft from what a pipeline uploaded.

Both doors (``ciReleaseSubmit`` and ``POST /ci/apps/{slug}/releases``) call :func:`submit`.
It is idempotent, so matrix jobs may each submit their own platform at the same moment,
and a retried job changes nothing: the same submission twice gives the same release.
Every object is checked exactly as ``artifactUploadConfirm`` checks an upload: copied to
a key of Ferryman's own, and that copy verified and served. The pipeline may write its
``r2_key`` again afterwards (it has bucket credentials of its own); installs never see it.
"""

from __future__ import annotations

import contextlib
import dataclasses

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from ferryman.models import app as apps
from ferryman.models import artifact as artifacts
from ferryman.models import notification as notifications
from ferryman.models import release as releases
from ferryman.models import verification
from ferryman.models.actor import Actor
from ferryman.models.app import App
from ferryman.models.artifact import Artifact
from ferryman.models.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    InvalidState,
    NotFound,
    Taken,
)
from ferryman.models.ids import new_id
from ferryman.models.platform import validate_platform
from ferryman.models.release import Release
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from ferryman.models.verification import ObjectStore, SignatureParser
from ferryman.models.webhook import Event
from ferryman.versions import InvalidVersion, Version

_RACE_ATTEMPTS = 5
# How every door words a submission that asked to publish and could not (the release stays).
NOT_PUBLISHED = "not published, kept as a draft"


@dataclasses.dataclass(frozen=True, slots=True)
class SubmittedArtifact:
    platform: str
    signature: str
    object_key: str


@dataclasses.dataclass(frozen=True, slots=True)
class Submission:
    version: str
    notes: str | None
    artifacts: list[SubmittedArtifact]
    auto_publish: bool = False
    channel: str | None = None  # None: a new draft goes to the app's first channel


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    release: Release
    created: bool
    changed: bool
    published: bool
    notice: str | None


async def submit(
    actor: Actor, app_slug: str, submission: Submission, store: ObjectStore, parse: SignatureParser
) -> Outcome:
    """Check everything, read every new file back, then write the draft, its notes and its
    artifacts in one transaction: a crash or an outage part-way leaves nothing behind.
    A refused submission of an app the caller may see is announced (it changed nothing)."""
    actor.require_writer("submitting a release")
    app = await apps.find_visible(actor, app_slug)
    if app is None:
        raise NotFound(f"app {app_slug[:64]!r} not found", ("appSlug",))
    try:
        return await _submit(actor, app, submission, store, parse)
    except DomainError as error:
        data = {
            "app": notifications.about_app(app),
            "version": submission.version[:100],
            "error": {"code": error.code.value, "message": error.message},
            "actor": await notifications.describe_actor(actor),
        }
        async with in_transaction():
            await notifications.emit(Event.CI_SUBMISSION_FAILED, app.id, data)
        raise


async def _submit(
    actor: Actor, app: App, submission: Submission, store: ObjectStore, parse: SignatureParser
) -> Outcome:
    try:
        version = str(Version.parse(submission.version))
    except InvalidVersion as error:
        raise InvalidInput(str(error), ("input", "version")) from None
    files = _checked_files(app.slug, version, submission.artifacts, store, parse)
    news = [
        artifacts.NewArtifact(platform=item.platform, filename=filename, signature=item.signature)
        for item, filename in zip(submission.artifacts, files, strict=True)
    ]

    existing = await Release.get_or_none(app_id=app.id, version=version)
    if existing is not None and existing.status is not ReleaseStatus.DRAFT:
        return await _already_out(existing, submission)
    reads: dict[str, verification.ReadBack] = {}
    artifact_ids = {item.platform: new_id("art") for item in submission.artifacts}
    try:
        for item, filename in zip(submission.artifacts, files, strict=True):
            if existing is None or not await _same_ready(existing.id, item):
                check = parse(item.signature)
                artifact_id = artifact_ids[item.platform]
                target = store.served_key(app.slug, version, item.platform, artifact_id, filename)
                reads[item.platform] = await verification.read_back(
                    item.object_key, check, store, app, copy_to=target
                )
        for _ in range(_RACE_ATTEMPTS):
            try:
                async with in_transaction():
                    release, created = await _draft(actor, app.id, version, submission)
                    if release.status is not ReleaseStatus.DRAFT:  # published meanwhile
                        break
                    changed = await _write(
                        actor, release, app, submission, news, artifact_ids, reads, store, parse
                    )
            except IntegrityError:  # another job of the pipeline wrote the same rows first
                continue
            break
        else:
            raise InvalidState(
                f"other submissions of {version} kept changing it at the same moment; retry",
                ("input", "version"),
            )
    finally:
        await _discard_unused(reads, store)
    release = await Release.get(id=release.id)
    if release.status is not ReleaseStatus.DRAFT:
        return await _already_out(release, submission)
    published, notice = False, None
    if submission.auto_publish:
        published, notice = await _publish(actor, release)
        release = await Release.get(id=release.id)
    return Outcome(release, created, created or changed or published, published, notice)


async def _write(
    actor: Actor,
    release: Release,
    app: App,
    submission: Submission,
    news: list[artifacts.NewArtifact],
    artifact_ids: dict[str, str],
    reads: dict[str, verification.ReadBack],
    store: ObjectStore,
    parse: SignatureParser,
) -> bool:
    """The draft's notes and artifacts as submitted; True when anything changed."""
    changed = False
    notes = submission.notes if submission.notes != release.notes else None
    channel = submission.channel if submission.channel != release.channel else None
    if notes is not None or channel is not None:
        changes = releases.ReleaseChanges(notes=notes, channel=channel)
        await releases.update(actor, release.id, changes)
        changed = True
    for item, new in zip(submission.artifacts, news, strict=True):
        if await _same_ready(release.id, item):
            continue
        read = reads.get(item.platform)
        if read is None:  # it was there when the files were read, and is gone now
            raise InvalidState(
                f"the {item.platform} artifact of {release.version} changed while this "
                "submission was checked; submit again",
                ("input", "artifacts"),
            )
        await artifacts.attach(
            actor,
            release,
            app,
            new,
            artifact_ids[item.platform],
            item.object_key,
            read,
            store,
            parse,
        )
        changed = True
    return changed


async def _already_out(release: Release, submission: Submission) -> Outcome:
    """A submission of a version that is no longer a draft: the same one changes nothing."""
    if await _matches(release, submission):
        return Outcome(
            release,
            False,
            False,
            release.status is ReleaseStatus.PUBLISHED,
            f"release {release.version} is already {release.status.value}; nothing changed",
        )
    raise InvalidState(
        f"release {release.version} is already {release.status.value} and this submission "
        "differs from it; submit a new version",
        ("input", "version"),
    )


def _checked_files(
    slug: str,
    version: str,
    items: list[SubmittedArtifact],
    store: ObjectStore,
    parse: SignatureParser,
) -> list[str]:
    """Each artifact's file name, once everything that can be checked without the bucket
    holds: nothing is written for a submission that cannot succeed."""
    prefix = f"{slug}/releases/{version}/"
    seen: set[str] = set()
    files = []
    for index, item in enumerate(items):
        field = ("input", "artifacts", str(index))
        validate_platform(item.platform, (*field, "platform"))
        if item.platform in seen:
            raise InvalidInput(f"platform {item.platform} appears twice", (*field, "platform"))
        seen.add(item.platform)
        filename = item.object_key.removeprefix(prefix)
        if (
            not item.object_key.startswith(prefix)
            or not filename
            or "/" in filename
            or (".." in filename)
        ):
            raise InvalidInput(
                f"the file key {item.object_key[:200]!r} must name a file directly under {prefix}",
                (*field, "r2Key"),
            )
        try:
            store.file_name(filename)
        except InvalidInput as error:
            raise InvalidInput(f"the file key: {error.message}", (*field, "r2Key")) from None
        try:
            parse(item.signature)
        except InvalidInput as error:
            raise InvalidInput(error.message, (*field, "signature")) from None
        files.append(filename)
    return files


async def _draft(
    actor: Actor, app_id: str, version: str, submission: Submission
) -> tuple[Release, bool]:
    existing = await Release.get_or_none(app_id=app_id, version=version)
    if existing is not None:
        return existing, False
    try:
        changes = releases.ReleaseChanges(
            version=version, notes=submission.notes, channel=submission.channel
        )
        return await releases.create(actor, app_id, changes), True
    except Taken:  # another job of the same pipeline created it a moment ago
        return await Release.get(app_id=app_id, version=version), False


async def _discard_unused(reads: dict[str, verification.ReadBack], store: ObjectStore) -> None:
    """Delete the copies no artifact ended up with (a platform another job of the pipeline
    wrote first, or a submission that failed part-way)."""
    for read in reads.values():
        if read.key is not None and not await Artifact.exists(object_key=read.key):
            with contextlib.suppress(Exception):  # never served; a lifecycle rule may clear it
                await store.delete(read.key)


async def _same_ready(release_id: str, item: SubmittedArtifact) -> bool:
    return await Artifact.exists(
        release_id=release_id,
        platform=item.platform,
        upload_key=item.object_key,
        signature=item.signature.strip(),
        status=ArtifactStatus.READY,
    )


async def _matches(release: Release, submission: Submission) -> bool:
    if submission.notes is not None and submission.notes != release.notes:
        return False
    if submission.channel is not None and submission.channel != release.channel:
        return False
    for item in submission.artifacts:
        if not await _same_ready(release.id, item):
            return False
    return True


async def _publish(actor: Actor, release: Release) -> tuple[bool, str | None]:
    failed = await Artifact.filter(release_id=release.id).exclude(status=ArtifactStatus.READY)
    if failed:
        named = "; ".join(f"{a.platform}: {a.failure_reason or a.status.value}" for a in failed)
        return False, f"{NOT_PUBLISHED}: {named}"
    try:
        await releases.publish(actor, release.id)
    except Forbidden as error:
        return False, f"{NOT_PUBLISHED}: {error}"
    except InvalidState as error:
        return False, f"{NOT_PUBLISHED}: {error.message}"
    return True, None
