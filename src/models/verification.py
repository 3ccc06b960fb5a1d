"""Whether a stored file is one the Tauri updater will install: the checks made before an
upload is written, before a stored file is read, and on the bytes as they are read back.

:mod:`.artifact` records the outcome; this module only judges, so that every way in
(presigned upload, direct upload, CI submission) is judged by the same rules.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol

from ferryman.models import signing_key as signing_keys
from ferryman.models.errors import InvalidInput
from ferryman.models.platform import validate_platform
from ferryman.versions import signed_matches

if TYPE_CHECKING:
    from ferryman.models.app import App
    from ferryman.models.artifact import NewArtifact
    from ferryman.models.release import Release
    from ferryman.models.signing_key import Keyring


class SignatureCheck(Protocol):
    """A parsed signature, fed the file's bytes, then asked whether they verify."""

    @property
    def signed_version(self) -> str | None: ...

    @property
    def signed_file(self) -> str | None: ...

    @property
    def key_id(self) -> str:
        """The id of the key that made the signature, as the Tauri CLI prints it."""
        ...

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


class UploadUrl(Protocol):
    """Where an uploader PUTs a file, with the headers the URL was signed for."""

    @property
    def url(self) -> str: ...

    @property
    def headers(self) -> dict[str, str]: ...

    @property
    def expires_in(self) -> int: ...


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

    async def presign_put(self, key: str, content_type: str | None, size: int) -> UploadUrl: ...

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
# A media type with optional parameters, and nothing a header line could not carry.
MEDIA_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+([ \t]*;[ \t]*[\w.+-]+=[\w.+\-\"]+)*", re.ASCII)
MEDIA_TYPE_MAX = 200


@dataclasses.dataclass(frozen=True, slots=True)
class ReadBack:
    """A stored file read back whole (``reading``) at ``key``, or why it could not be
    (``failure``)."""

    reading: Reading | None
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
    keys = await signing_keys.keyring(app)
    failure = before_reading(check, keys, size, expected_size, store.max_file_bytes)
    if failure:
        return ReadBack(None, failure)
    key = source
    if copy_to is not None:
        if not await store.copy(source, copy_to, etag):
            return ReadBack(None, _CHANGED)
        key = copy_to
    reading = Reading(check)
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


@dataclasses.dataclass(frozen=True, slots=True)
class Checked:
    """What is known of an upload before its file is read: what its signature says, and
    anything worth a warning."""

    warning: str | None
    signed_version: str | None
    key_id: str


async def check_upload(
    release: Release, app: App, new: NewArtifact, store: ObjectStore, parse: SignatureParser
) -> Checked:
    """The upload's signature facts, or InvalidInput before anything is written (the
    caller has made its key, which validated the file name)."""
    validate_platform(new.platform, ("input", "platform"))
    if new.content_type is not None and (
        len(new.content_type) > MEDIA_TYPE_MAX or not MEDIA_TYPE.fullmatch(new.content_type)
    ):
        raise InvalidInput(
            f"contentType {new.content_type[:80]!r} is not a media type such as "
            "application/octet-stream",
            ("input", "contentType"),
        )
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
    refusal = version_mismatch(check, release) or unsigned_version(check, app, release)
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
    return Checked(warning, check.signed_version, check.key_id)


class Reading:
    """One pass over a file: its size, its SHA-256, and the signature check fed along."""

    def __init__(self, check: SignatureCheck) -> None:
        self.check = check
        self.digest = hashlib.sha256()
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.digest.update(chunk)
        self.check.update(chunk)


def before_reading(
    check: SignatureCheck, keys: Keyring, size: int, expected: int | None, limit: int
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
    return keys.key_failure(check) or check.size_failure(size)


def verification_failure(
    check: SignatureCheck, keys: Keyring, app: App, release: Release
) -> str | None:
    return (
        keys.failure(check)
        or version_mismatch(check, release)
        or unsigned_version(check, app, release)
    )


def version_mismatch(check: SignatureCheck, release: Release) -> str | None:
    signed = check.signed_version
    if signed is None or signed_matches(signed, release.version):
        return None
    return (
        f"the signature is for version {signed} but the release is {release.version}; "
        "the updater would refuse it: sign with --app-version "
        f"{release.version} (or build that version)"
    )


def unsigned_version(check: SignatureCheck, app: App, release: Release) -> str | None:
    if check.signed_version is not None or not app.require_signed_version:
        return None
    return (
        f"the signature names no version, and app {app.slug} requires one "
        "(requireSignedVersion, as its clients do): sign with `tauri signer sign --app-version "
        f"{release.version}`, or build with Tauri CLI 2.11.5 or newer"
    )
