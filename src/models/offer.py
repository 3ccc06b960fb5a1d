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
from ferryman.models import channel as channels
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
    rank: int = 0  # its channel's place in the app's order (0: the most stable)


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

    def __init__(
        self, app_id: str, slug: str, offers: list[Offer], order: tuple[str, ...] = ("stable",)
    ) -> None:
        self.app_id = app_id
        self.slug = slug
        self.order = order
        # Per channel rank: platform key -> the newest offer having it, and OS -> the newest
        # offer with any key of it, among that channel's releases and the more stable ones.
        self._newest: list[dict[str, Offer]] = []
        self._newest_for_os: list[dict[str, Offer]] = []
        ordered = sorted(offers, key=lambda o: o.version)
        for rank in range(len(order)):
            newest: dict[str, Offer] = {}
            newest_for_os: dict[str, Offer] = {}
            for offer in ordered:
                if offer.rank <= rank:
                    for key in offer.files:
                        newest[key] = offer
                        newest_for_os[key.split("-", 1)[0]] = offer
            self._newest.append(newest)
            self._newest_for_os.append(newest_for_os)

    def rank(self, channel: str | None) -> int | None:
        """The rank of ``channel`` (None: the most stable), or None when the app has none
        of that name."""
        if channel is None:
            return 0
        return self.order.index(channel) if channel in self.order else None

    def key_for(self, os: str, arch: str, bundle: str | None, rank: int = 0) -> str:
        """The platform key an install is served by.

        An installer-specific key (``linux-x86_64-deb``) wins over the plain one whenever
        the app publishes it at all: a deb install must never be handed an AppImage.
        """
        plain = f"{os}-{arch}"
        specific = f"{plain}-{bundle}"
        return specific if bundle and specific in self._newest[rank] else plain

    def for_platform(
        self, os: str, arch: str, bundle: str | None, current: Version, rank: int = 0
    ) -> Choice | None:
        """The offer for one install, or None for "no update"."""
        key = self.key_for(os, arch, bundle, rank)
        offer = self._newest[rank].get(key)
        if offer is None or not offer.version > current:
            return None
        return Choice(offer, key)

    def for_os(self, os: str, current: Version, rank: int = 0) -> Choice | None:
        """The offer listing every platform of an OS (for a check without an arch)."""
        offer = self._newest_for_os[rank].get(os)
        if offer is None or not offer.version > current:
            return None
        return Choice(offer, os)


async def load(app: App) -> OfferIndex:
    """Read one app's published releases and READY artifacts: two queries.

    A release published between them has artifacts but no row here: they are left out
    (that publish changes the app's generation, so this index is rebuilt anyway).
    """
    order = channels.order_of(app.channels)
    releases = await Release.filter(app_id=app.id, status=ReleaseStatus.PUBLISHED).values(
        "id", "version", "notes", "pub_date", "channel"
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
            rank=order.index(r["channel"]),
        )
        for r in releases
        if files[r["id"]] and r["channel"] in order
    ]
    return OfferIndex(app.id, app.slug, offers, order)


class SkipReason(enum.Enum):
    DRAFT = "DRAFT"
    ARCHIVED = "ARCHIVED"
    NO_ARTIFACT = "NO_ARTIFACT"
    ARTIFACT_NOT_READY = "ARTIFACT_NOT_READY"
    CHANNEL = "CHANNEL"
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
    actor: Actor,
    app_id: str,
    os: str,
    arch: str,
    bundle: str | None,
    current: str,
    channel: str | None = None,
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
    rank = channels.rank(index.order, channel or index.order[0], ("channel",))
    choice = index.for_platform(os, arch, bundle, installed, rank)
    key = index.key_for(os, arch, bundle, rank)
    newer = [
        release
        for release in await Release.filter(app_id=app.id).prefetch_related("artifacts")
        if Version.parse(release.version) > installed
        and (choice is None or release.id != choice.offer.release_id)
    ]
    newer.sort(key=lambda r: Version.parse(r.version), reverse=True)
    seen = index.order[: rank + 1]
    return Preview(key, choice, [_skipped(release, key, choice, seen) for release in newer])


def _skipped(release: Release, key: str, choice: Choice | None, seen: tuple[str, ...]) -> Skipped:
    if release.status is ReleaseStatus.DRAFT:
        return Skipped(release, SkipReason.DRAFT, "the release is a draft; publish it")
    if release.status is ReleaseStatus.ARCHIVED:
        return Skipped(release, SkipReason.ARCHIVED, "the release was archived")
    if release.channel not in seen:
        detail = f"it is on {release.channel}; this install sees {', '.join(seen)}"
        return Skipped(release, SkipReason.CHANNEL, detail)
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
