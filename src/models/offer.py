"""What an installed app is offered: the newest published release it can install.

The rule both the updater route and ``updatePreview`` apply, in one place. An
:class:`OfferIndex` holds one app's published releases with their READY artifacts, and
for every platform key the newest release that has it, so choosing costs a few
dictionary lookups however many releases there are.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import datetime

from ferryman.models import app as apps
from ferryman.models.actor import Actor
from ferryman.models.app import App
from ferryman.models.artifact import Artifact
from ferryman.models.errors import InvalidInput
from ferryman.models.platform import validate_platform
from ferryman.models.release import Release
from ferryman.models.status import ArtifactStatus, ReleaseStatus
from ferryman.versions import InvalidVersion, Version


@dataclasses.dataclass(frozen=True, slots=True)
class Offer:
    """A published release as the updater sees it: its platforms' files and signatures."""

    version: Version
    release_id: str
    notes: str | None
    pub_date: datetime | None
    files: dict[str, tuple[str, str]]  # platform key -> (url, signature)


@dataclasses.dataclass(frozen=True, slots=True)
class Choice:
    """The offer for one install, and the platform key (or bare OS) it was chosen by."""

    offer: Offer
    key: str

    def manifest(self) -> bytes:
        """The JSON the updater receives: dynamic for a platform key, static for a bare OS."""
        offer = self.offer
        fields: dict[str, object] = {"version": str(offer.version)}
        if offer.notes is not None:
            fields["notes"] = offer.notes
        if offer.pub_date is not None:
            # RFC 3339 with Z, as the client's parser requires; never an empty string.
            fields["pub_date"] = offer.pub_date.strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.key in offer.files:
            fields["url"], fields["signature"] = offer.files[self.key]
        else:
            fields["platforms"] = {
                platform: {"url": url, "signature": signature}
                for platform, (url, signature) in sorted(offer.files.items())
                if platform.startswith(f"{self.key}-")
            }
        return json.dumps(fields, separators=(",", ":")).encode()


class OfferIndex:
    """One app's published releases, arranged for constant-time choices."""

    def __init__(self, app_id: str, slug: str, offers: list[Offer]) -> None:
        self.app_id = app_id
        self.slug = slug
        self.newest: dict[str, Offer] = {}  # platform key -> newest offer having it
        self.newest_for_os: dict[str, Offer] = {}  # os -> newest offer with any key of it
        for offer in sorted(offers, key=lambda o: o.version):
            for key in offer.files:
                self.newest[key] = offer
                self.newest_for_os[key.split("-", 1)[0]] = offer

    def key_for(self, os: str, arch: str, bundle: str | None) -> str:
        """The platform key an install is served by.

        An installer-specific key (``linux-x86_64-deb``) wins over the plain one whenever
        the app publishes it at all: a deb install must never be handed an AppImage.
        """
        plain = f"{os}-{arch}"
        specific = f"{plain}-{bundle}"
        return specific if bundle and specific in self.newest else plain

    def for_platform(
        self, os: str, arch: str, bundle: str | None, current: Version
    ) -> Choice | None:
        """The offer for one install, or None for "no update"."""
        key = self.key_for(os, arch, bundle)
        offer = self.newest.get(key)
        if offer is None or not offer.version > current:
            return None
        return Choice(offer, key)

    def for_os(self, os: str, current: Version) -> Choice | None:
        """The offer listing every platform of an OS (for a check without an arch)."""
        offer = self.newest_for_os.get(os)
        if offer is None or not offer.version > current:
            return None
        return Choice(offer, os)


async def load(app: App) -> OfferIndex:
    """Read one app's published releases and READY artifacts: two queries.

    A release published between them has artifacts but no row here: they are left out
    (that publish changes the app's generation, so this index is rebuilt anyway).
    """
    releases = await Release.filter(app_id=app.id, status=ReleaseStatus.PUBLISHED).values(
        "id", "version", "notes", "pub_date"
    )
    files: dict[str, dict[str, tuple[str, str]]] = {r["id"]: {} for r in releases}
    artifacts = await Artifact.filter(
        release__app_id=app.id,
        release__status=ReleaseStatus.PUBLISHED,
        status=ArtifactStatus.READY,
    ).values("release_id", "platform", "download_url", "signature")
    for artifact in artifacts:
        platforms = files.get(artifact["release_id"])
        if platforms is not None and artifact["download_url"]:
            platforms[artifact["platform"]] = (
                artifact["download_url"],
                artifact["signature"],
            )
    offers = [
        Offer(
            version=Version.parse(r["version"]),
            release_id=r["id"],
            notes=r["notes"],
            pub_date=r["pub_date"],
            files=files[r["id"]],
        )
        for r in releases
        if files[r["id"]]
    ]
    return OfferIndex(app.id, app.slug, offers)


class SkipReason(enum.Enum):
    DRAFT = "DRAFT"
    ARCHIVED = "ARCHIVED"
    NO_ARTIFACT = "NO_ARTIFACT"
    ARTIFACT_NOT_READY = "ARTIFACT_NOT_READY"
    SUPERSEDED = "SUPERSEDED"


@dataclasses.dataclass(frozen=True, slots=True)
class Skipped:
    release: Release
    reason: SkipReason
    detail: str


@dataclasses.dataclass(frozen=True, slots=True)
class Preview:
    """What an install would get, and why each newer release is not it."""

    platform_key: str
    choice: Choice | None
    skipped: list[Skipped]


async def preview(
    actor: Actor, app_id: str, os: str, arch: str, bundle: str | None, current: str
) -> Preview:
    """Answer "why did my app get no update?" for one install's values."""
    app = await apps.get_visible(actor, app_id, ("appId",))
    bundle = None if bundle in (None, "", "unknown") else bundle
    validate_platform(f"{os}-{arch}" + (f"-{bundle}" if bundle else ""), ("target",))
    try:
        installed = Version.parse(current)
    except InvalidVersion as error:
        raise InvalidInput(str(error), ("currentVersion",)) from None
    index = await load(app)
    choice = index.for_platform(os, arch, bundle, installed)
    key = index.key_for(os, arch, bundle)
    newer = [
        release
        for release in await Release.filter(app_id=app.id).prefetch_related("artifacts")
        if Version.parse(release.version) > installed
        and (choice is None or release.id != choice.offer.release_id)
    ]
    newer.sort(key=lambda r: Version.parse(r.version), reverse=True)
    return Preview(key, choice, [_skipped(release, key, choice) for release in newer])


def _skipped(release: Release, key: str, choice: Choice | None) -> Skipped:
    if release.status is ReleaseStatus.DRAFT:
        return Skipped(release, SkipReason.DRAFT, "the release is a draft; publish it")
    if release.status is ReleaseStatus.ARCHIVED:
        return Skipped(release, SkipReason.ARCHIVED, "the release was archived")
    artifact = next((a for a in release.artifacts if a.platform == key), None)
    if artifact is None:
        platforms = ", ".join(sorted(a.platform for a in release.artifacts)) or "none"
        detail = f"no artifact for {key} (it has: {platforms})"
        return Skipped(release, SkipReason.NO_ARTIFACT, detail)
    if artifact.status is not ArtifactStatus.READY:
        detail = f"the {key} artifact is {artifact.status.value}"
        if artifact.failure_reason:
            detail += f": {artifact.failure_reason}"
        return Skipped(release, SkipReason.ARTIFACT_NOT_READY, detail)
    newer = str(choice.offer.version) if choice else "a newer release"
    return Skipped(release, SkipReason.SUPERSEDED, f"{newer} is newer and is offered instead")
