"""A CI release submission: create or update one draft from what a pipeline uploaded.

Both doors (``ciReleaseSubmit`` and ``POST /ci/apps/{slug}/releases``) call :func:`submit`.
It is idempotent, so matrix jobs may each submit their own platform at the same moment,
and a retried job changes nothing: the same submission twice gives the same release.
Every object is read back and verified exactly as ``artifactUploadConfirm`` does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import weakref

from tortoise.exceptions import IntegrityError

from ferryman.models import app as apps
from ferryman.models import artifact as artifacts
from ferryman.models import release as releases
from ferryman.models.actor import Actor
from ferryman.models.artifact import Artifact, ObjectStore, SignatureParser
from ferryman.models.errors import Forbidden, InvalidInput, InvalidState, NotFound, Taken
from ferryman.models.platform import validate_platform
from ferryman.models.release import Release
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from ferryman.versions import InvalidVersion, Version

_RACE_ATTEMPTS = 5
# One lock per (release, platform) being attached in this process; entries go with their users.
_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()


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
    app = await apps.find_visible(actor, app_slug)
    if app is None:
        raise NotFound(f"app {app_slug[:64]!r} not found", ("appSlug",))
    try:
        version = str(Version.parse(submission.version))
    except InvalidVersion as error:
        raise InvalidInput(str(error), ("input", "version")) from None
    files = _checked_files(app.slug, version, submission.artifacts, store, parse)

    release, created = await _draft(actor, app.id, version, submission.notes)
    if release.status is not ReleaseStatus.DRAFT:
        if await _matches(release, submission.notes, submission.artifacts):
            return Outcome(
                release,
                False,
                False,
                release.status is ReleaseStatus.PUBLISHED,
                f"release {version} is already {release.status.value}; nothing changed",
            )
        raise InvalidState(
            f"release {version} is already {release.status.value} and this submission differs "
            "from it; submit a new version",
            ("input", "version"),
        )
    changed = created
    if not created and submission.notes is not None and submission.notes != release.notes:
        await releases.update(actor, release.id, releases.ReleaseChanges(notes=submission.notes))
        changed = True
    for item, filename in zip(submission.artifacts, files, strict=True):
        changed |= await _attach(actor, release, item, filename, store, parse)
    release = await Release.get(id=release.id)
    published, notice = False, None
    if submission.auto_publish:
        published, notice = await _publish(actor, release)
        release = await Release.get(id=release.id)
    return Outcome(release, created, changed or published, published, notice)


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
                f"r2Key {item.object_key[:200]!r} must be a file directly under {prefix}",
                (*field, "r2Key"),
            )
        try:
            store.object_key(slug, version, filename)
        except InvalidInput as error:
            raise InvalidInput(f"r2Key: {error.message}", (*field, "r2Key")) from None
        try:
            parse(item.signature)
        except InvalidInput as error:
            raise InvalidInput(error.message, (*field, "signature")) from None
        files.append(filename)
    return files


async def _draft(
    actor: Actor, app_id: str, version: str, notes: str | None
) -> tuple[Release, bool]:
    existing = await Release.get_or_none(app_id=app_id, version=version)
    if existing is not None:
        return existing, False
    try:
        changes = releases.ReleaseChanges(version=version, notes=notes)
        return await releases.create(actor, app_id, changes), True
    except Taken:  # another job of the same pipeline created it a moment ago
        return await Release.get(app_id=app_id, version=version), False


async def _attach(
    actor: Actor,
    release: Release,
    item: SubmittedArtifact,
    filename: str,
    store: ObjectStore,
    parse: SignatureParser,
) -> bool:
    """Add or refresh one artifact; False when it is already there, READY and the same.

    Within a process, submissions for one platform of one release take turns; across
    processes a racing submission may replace the row another is checking, which then
    checks the row that won, so all of them end with the same artifact.
    """
    new = artifacts.NewArtifact(platform=item.platform, filename=filename, signature=item.signature)
    lock = _locks.setdefault((release.id, item.platform), asyncio.Lock())
    async with lock:
        return await _attach_once(actor, release, item, new, store, parse)


async def _attach_once(
    actor: Actor,
    release: Release,
    item: SubmittedArtifact,
    new: artifacts.NewArtifact,
    store: ObjectStore,
    parse: SignatureParser,
) -> bool:
    for _ in range(_RACE_ATTEMPTS):
        same = await _same(release.id, item)
        if same is not None and same.status is ArtifactStatus.READY:
            return False
        try:
            if same is None:
                same = await artifacts.begin_upload(actor, release.id, new, store, parse)
            await artifacts.confirm(actor, same.id, store, parse)
            return True
        except (IntegrityError, NotFound):
            continue
    raise InvalidState(
        f"other submissions kept changing {item.platform} at the same moment; retry",
        ("input", "artifacts"),
    )


async def _same(release_id: str, item: SubmittedArtifact) -> Artifact | None:
    """The release's artifact for this platform when it is this very file and signature."""
    return await Artifact.get_or_none(
        release_id=release_id,
        platform=item.platform,
        object_key=item.object_key,
        signature=item.signature.strip(),
    )


async def _same_ready(release_id: str, item: SubmittedArtifact) -> bool:
    return await Artifact.exists(
        release_id=release_id,
        platform=item.platform,
        object_key=item.object_key,
        signature=item.signature.strip(),
        status=ArtifactStatus.READY,
    )


async def _matches(release: Release, notes: str | None, items: list[SubmittedArtifact]) -> bool:
    if notes is not None and notes != release.notes:
        return False
    for item in items:
        if not await _same_ready(release.id, item):
            return False
    return True


async def _publish(actor: Actor, release: Release) -> tuple[bool, str | None]:
    failed = await Artifact.filter(release_id=release.id).exclude(status=ArtifactStatus.READY)
    if failed:
        named = "; ".join(f"{a.platform}: {a.failure_reason or a.status.value}" for a in failed)
        return False, f"not published, kept as a draft: {named}"
    try:
        await releases.publish(actor, release.id)
    except Forbidden:
        return False, (
            "not published, kept as a draft: CI keys may not publish this app "
            "(an admin can allow it with appUpdate(input: {ciMayPublish: true}))"
        )
    except InvalidState as error:
        return False, f"not published, kept as a draft: {error.message}"
    return True, None
