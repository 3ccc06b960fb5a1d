"""What an installed app is offered: the newest published release it can install.

The rule both the updater route and ``updatePreview`` apply, in one place. An
:class:`OfferIndex` holds one app's published releases with their READY artifacts, and
for every platform key the newest release that has it, so choosing costs a few
dictionary lookups however many releases there are.

What one install may not have (releases its licence does not cover,
:meth:`OfferIndex.uncovered`, and partial rollouts its install id is outside of,
:meth:`OfferIndex.outside`) is a set of release ids; :meth:`OfferIndex.without` is the
index of what remains. Installs with the same set get
the same answers, which is what lets the edge cache share them.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ferryman.models import app as apps
from ferryman.models import channel as channels
from ferryman.models.actor import Actor
from ferryman.models.app import App
from ferryman.models.artifact import Artifact
from ferryman.models.coverage import Coverage
from ferryman.models.errors import InvalidInput
from ferryman.models.license import Held
from ferryman.models.license import find as find_license
from ferryman.models.platform import validate_platform
from ferryman.models.release import Release
from ferryman.models.status import (
    ArtifactStatus,
    Distribution,
    ExpiredPolicy,
    ReleaseStatus,
)
from ferryman.versions import InvalidVersion, Version

# What an install id may look like on the wire (X-Install-Id) and in updatePreview.
INSTALL_ID = re.compile(r"[!-~]{1,128}")
INSTALL_ID_RULE = (
    "must be 1 to 128 visible ASCII characters (no spaces): a random UUID the app stores "
    "on its first run"
)


@dataclasses.dataclass(frozen=True, slots=True)
class Offer:
    """A published release as the updater sees it: its platforms' files and signatures."""

    version: Version
    release_id: str
    notes: str | None
    pub_date: datetime | None
    files: dict[str, tuple[str, str]]  # platform key -> (url, signature)
    rank: int = 0  # its channel's place in the app's order (0: the most stable)
    effective: datetime | None = None  # the date licences judge it by
    rollout: int = 100  # the percentage of install ids it is offered to

    def reaches(self, install_id: str | None) -> bool:
        """Is this install inside the release's rollout? No id: only a full rollout."""
        if self.rollout >= 100:
            return True
        if install_id is None:
            return False
        return bucket(install_id, self.release_id) < self.rollout


def bucket(install_id: str, release_id: str) -> int:
    """The install's place (0-99) in a release's rollout: stable for one install and
    release, independent between releases, so the same installs are not always first."""
    digest = hashlib.sha256(f"{release_id}:{install_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


@dataclasses.dataclass(frozen=True, slots=True)
class Terms:
    """How an app hands its releases out: to anyone, or to licences and on what terms."""

    distribution: Distribution = Distribution.OPEN
    policy: ExpiredPolicy = ExpiredPolicy.MAINTAIN
    grace: timedelta = timedelta()
    downgrade_on_yank: bool = False

    @property
    def licensed(self) -> bool:
        return self.distribution is Distribution.LICENSED

    def coverage(self, held: Held) -> Coverage:
        return Coverage(held.periods, self.policy, self.grace)

    @classmethod
    def of(cls, app: App) -> Terms:
        return cls(
            app.distribution,
            app.expired_policy,
            timedelta(days=app.grace_days),
            app.offer_downgrade_on_yank,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Choice:
    """The offer for one install, and the platform key (or bare OS) it was chosen by."""

    offer: Offer
    key: str

    def manifest(self, link: Callable[[Offer, str], str] | None = None) -> bytes:
        """The JSON the updater receives: dynamic for a platform key, static for a bare OS.

        ``link(offer, platform)`` gives each file's URL in place of the stored one (the
        short-lived signed links of a LICENSED app).
        """
        offer = self.offer
        files = offer.files
        if link is not None:
            files = {key: (link(offer, key), sig) for key, (_, sig) in files.items()}
        fields: dict[str, object] = {"version": str(offer.version)}
        if offer.notes is not None:
            fields["notes"] = offer.notes
        if offer.pub_date is not None:
            # RFC 3339 with Z, as the client's parser requires; never an empty string.
            fields["pub_date"] = offer.pub_date.strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.key in files:
            fields["url"], fields["signature"] = files[self.key]
        else:
            fields["platforms"] = {
                platform: {"url": url, "signature": signature}
                for platform, (url, signature) in sorted(files.items())
                if platform.startswith(f"{self.key}-")
            }
        return json.dumps(fields, separators=(",", ":")).encode()


class OfferIndex:
    """One app's published releases, arranged for constant-time choices."""

    def __init__(
        self,
        app_id: str,
        slug: str,
        offers: list[Offer],
        order: tuple[str, ...] = ("stable",),
        terms: Terms = Terms(),
        yanked: frozenset[Version] = frozenset(),
    ) -> None:
        self.app_id = app_id
        self.slug = slug
        self.order = order
        self.terms = terms
        self.offers = offers
        # Versions withdrawn by a yank: installs still on one are offered what is left,
        # even when it is older (when the app's terms say so).
        self.yanked = yanked if terms.downgrade_on_yank else frozenset()
        self.partial = tuple(o for o in offers if o.rollout < 100)
        # Every install gets the same answers (no licence, no partial rollout): the edge
        # then keys on the URL alone. An attribute, as every check asks.
        self.shared = not terms.licensed and not self.partial
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

    def uncovered(self, coverage: Coverage, now: datetime) -> frozenset[str]:
        """The releases a licence does not cover."""
        return frozenset(
            o.release_id
            for o in self.offers
            if o.effective is None or not coverage.covers(o.effective, now)
        )

    def outside(self, install_id: str | None) -> frozenset[str]:
        """The partial rollouts this install is not part of."""
        return frozenset(o.release_id for o in self.partial if not o.reaches(install_id))

    def without(self, excluded: frozenset[str]) -> OfferIndex:
        """The index of what an install with these exclusions may be offered."""
        if not excluded:
            return self
        kept = [o for o in self.offers if o.release_id not in excluded]
        return OfferIndex(self.app_id, self.slug, kept, self.order, self.terms, self.yanked)

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
        return self._choice(self._newest[rank].get(key), key, current)

    def for_os(self, os: str, current: Version, rank: int = 0) -> Choice | None:
        """The offer listing every platform of an OS (for a check without an arch)."""
        return self._choice(self._newest_for_os[rank].get(os), os, current)

    def _choice(self, offer: Offer | None, key: str, current: Version) -> Choice | None:
        # Newer, or anything at all for an install stuck on a yanked release.
        if offer is None or not (offer.version > current or current in self.yanked):
            return None
        return Choice(offer, key)


async def load(app: App) -> OfferIndex:
    """Read one app's published releases and READY artifacts: three queries (four when
    the app offers downgrades from yanked releases).

    A release published between them has artifacts but no row here: they are left out
    (that publish changes the app's generation, so this index is rebuilt anyway).
    """
    order = channels.order_of(app.channels)
    releases = await Release.filter(app_id=app.id, status=ReleaseStatus.PUBLISHED).values(
        "id", "version", "notes", "pub_date", "coverage_date", "channel", "rollout_percent"
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
            effective=r["coverage_date"] or r["pub_date"],
            rollout=r["rollout_percent"],
        )
        for r in releases
        if files[r["id"]] and r["channel"] in order
    ]
    yanked: list[str] = []
    if app.offer_downgrade_on_yank:
        yanked = await Release.filter(
            app_id=app.id, status=ReleaseStatus.ARCHIVED, yanked_at__isnull=False
        ).values_list("version", flat=True)  # type: ignore[assignment]
    return OfferIndex(
        app.id,
        app.slug,
        offers,
        order,
        Terms.of(app),
        frozenset(Version.parse(str(v)) for v in yanked),
    )


class SkipReason(enum.Enum):
    DRAFT = "DRAFT"
    YANKED = "YANKED"
    ARCHIVED = "ARCHIVED"
    CHANNEL = "CHANNEL"
    LICENSE = "LICENSE"
    ROLLOUT = "ROLLOUT"
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

    status: int  # 200, 204, or the 401/403 of a check without a usable licence
    platform_key: str
    choice: Choice | None
    skipped: list[Skipped]


@dataclasses.dataclass(frozen=True, slots=True)
class Install:
    """The values one install sends on its update check."""

    os: str
    arch: str
    bundle: str | None
    current: str
    channel: str | None = None
    install_id: str | None = None
    license_hash: str | None = None  # the SHA-256 of its licence key, as stored


@dataclasses.dataclass(frozen=True, slots=True)
class _Judged:
    """An install's standing: the releases it may not have and why, or a refusal."""

    refusal: tuple[int, str] | None
    uncovered: frozenset[str]
    outside: frozenset[str]
    coverage: Coverage | None
    now: datetime


async def preview(actor: Actor, app_id: str, install: Install) -> Preview:
    """Answer "why did my app get no update?" for one install's values."""
    app = await apps.get_visible(actor, app_id, ("appId",))
    bundle = None if install.bundle in (None, "", "unknown") else install.bundle
    validate_platform(
        f"{install.os}-{install.arch}" + (f"-{bundle}" if bundle else ""), ("target",)
    )
    try:
        installed = Version.parse(install.current)
    except InvalidVersion as error:
        raise InvalidInput(str(error), ("currentVersion",)) from None
    if install.install_id is not None and not INSTALL_ID.fullmatch(install.install_id):
        raise InvalidInput(f"installId: {INSTALL_ID_RULE}", ("installId",))
    index = await load(app)
    rank = channels.rank(index.order, install.channel or index.order[0], ("channel",))
    judged = await _judge(index, install)
    choice = None
    if judged.refusal is None:
        view = index.without(judged.uncovered | judged.outside)
        choice = view.for_platform(install.os, install.arch, bundle, installed, rank)
    key = index.key_for(install.os, install.arch, bundle, rank)
    newer = [
        release
        for release in await Release.filter(app_id=app.id).prefetch_related("artifacts")
        if Version.parse(release.version) > installed
        and (choice is None or release.id != choice.offer.release_id)
    ]
    newer.sort(key=lambda r: Version.parse(r.version), reverse=True)
    seen = index.order[: rank + 1]
    status = judged.refusal[0] if judged.refusal else 204 if choice is None else 200
    explain = _Explainer(key, choice, seen, judged, install.install_id)
    return Preview(status, key, choice, [explain(release) for release in newer])


async def _judge(index: OfferIndex, install: Install) -> _Judged:
    outside = index.outside(install.install_id)
    now = datetime.now(UTC)
    if not index.terms.licensed:
        return _Judged(None, frozenset(), outside, None, now)
    if install.license_hash is None:
        refusal = (401, f"{index.slug} is LICENSED and no licence key was given: 401")
        return _Judged(refusal, frozenset(), outside, None, now)
    held = await find_license(index.app_id, install.license_hash)
    if held is None:
        raise InvalidInput(f"this key is not a licence of {index.slug}", ("licenseKey",))
    if held.refused is not None:
        return _Judged((403, f"{held.refused}: 403"), frozenset(), outside, None, now)
    coverage = index.terms.coverage(held)
    return _Judged(None, index.uncovered(coverage, now), outside, coverage, now)


@dataclasses.dataclass(frozen=True, slots=True)
class _Explainer:
    key: str
    choice: Choice | None
    seen: tuple[str, ...]
    judged: _Judged
    install_id: str | None

    def __call__(self, release: Release) -> Skipped:
        reason, detail = self._why(release)
        return Skipped(release, reason, detail)

    def _why(self, release: Release) -> tuple[SkipReason, str]:
        judged = self.judged
        if release.status is ReleaseStatus.DRAFT:
            return SkipReason.DRAFT, "the release is a draft; publish it"
        if release.yanked_at is not None:
            return SkipReason.YANKED, f"it was yanked: {release.yank_reason}"
        if release.status is ReleaseStatus.ARCHIVED:
            return SkipReason.ARCHIVED, "the release was archived"
        if release.channel not in self.seen:
            seen = ", ".join(self.seen)
            return SkipReason.CHANNEL, f"it is on {release.channel}; this install sees {seen}"
        if judged.refusal is not None:
            return SkipReason.LICENSE, f"the check is refused: {judged.refusal[1]}"
        if release.id in judged.uncovered and judged.coverage is not None:
            return SkipReason.LICENSE, _uncovered(release, judged.coverage, judged.now)
        if release.id in judged.outside:
            return SkipReason.ROLLOUT, _outside(release, self.install_id)
        artifact = next((a for a in release.artifacts if a.platform == self.key), None)
        if artifact is None:
            platforms = ", ".join(sorted(a.platform for a in release.artifacts)) or "none"
            return SkipReason.NO_ARTIFACT, f"no artifact for {self.key} (it has: {platforms})"
        if artifact.status is not ArtifactStatus.READY:
            detail = f"the {self.key} artifact is {artifact.status.value}"
            if artifact.failure_reason:
                detail += f": {artifact.failure_reason}"
            return SkipReason.ARTIFACT_NOT_READY, detail
        newer = str(self.choice.offer.version) if self.choice else "a newer release"
        return SkipReason.SUPERSEDED, f"{newer} is newer and is offered instead"


def _uncovered(release: Release, coverage: Coverage, now: datetime) -> str:
    periods = "; ".join(f"{start.date()} to {end.date()}" for start, end in coverage.periods)
    if coverage.policy is ExpiredPolicy.REVOKE and coverage.lapsed(now):
        return f"the licence lapsed ({periods or 'no period'}) and the app's policy is REVOKE"
    effective = release.effective_date
    when = effective.isoformat() if effective else "not set"
    return f"its effective date ({when}) is outside the licence's coverage ({periods})"


def _outside(release: Release, install_id: str | None) -> str:
    share = f"it is rolled out to {release.rollout_percent}% of installs"
    if install_id is None:
        return f"{share}, and an install without an install id only gets full rollouts"
    return f"{share}; this install id is in bucket {bucket(install_id, release.id)}"
