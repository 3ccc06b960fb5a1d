"""``updatePreview``'s answer: what an install would get, and why not anything newer.

It applies the very rules the updater route applies (:mod:`ferryman.models.offer`) to
one install's values, then walks every newer release to name what held it back.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime

from ferryman.models import app as apps
from ferryman.models import channel as channels
from ferryman.models.actor import Actor
from ferryman.models.artifact import Artifact
from ferryman.models.coverage import Coverage
from ferryman.models.entitlement import Fresh, Presented, Refusal, Standing, Verdict, judge
from ferryman.models.errors import InvalidInput
from ferryman.models.health import halts_of_app
from ferryman.models.offer import (
    INSTALL_ID,
    INSTALL_ID_RULE,
    Choice,
    bucket,
    load,
)
from ferryman.models.platform import OPERATING_SYSTEMS, lookup_keys, validate_platform
from ferryman.models.release import Release
from ferryman.models.signing_key import Chain
from ferryman.models.status import ArtifactStatus, ExpiredPolicy, ReleaseStatus
from ferryman.versions import InvalidVersion, Version, parse_stored


class SkipReason(enum.Enum):
    DRAFT = "DRAFT"
    YANKED = "YANKED"
    ARCHIVED = "ARCHIVED"
    CHANNEL = "CHANNEL"
    LICENSE = "LICENSE"
    ROLLOUT = "ROLLOUT"
    NO_ARTIFACT = "NO_ARTIFACT"
    ARTIFACT_NOT_READY = "ARTIFACT_NOT_READY"
    UNSIGNED_VERSION = "UNSIGNED_VERSION"
    INCOMPLETE_FOR_OS = "INCOMPLETE_FOR_OS"
    UNTRUSTED_KEY = "UNTRUSTED_KEY"
    SUPERSEDED = "SUPERSEDED"
    HALTED = "HALTED"


@dataclasses.dataclass(frozen=True, slots=True)
class Skipped:
    release: Release
    reason: SkipReason
    detail: str


@dataclasses.dataclass(frozen=True, slots=True)
class Preview:
    """What an install would get, why each newer release is not it, and what else decided
    the answer (an installer fallback, the bare-OS document, an unsigned version)."""

    status: int  # 200, 204, or the 401/403 of a check without a usable licence
    platform_key: str  # the key looked up, or the bare OS
    choice: Choice | None
    skipped: list[Skipped]
    notes: list[str]
    refusal: str | None = None  # why a 401/403 check is refused, in the route's words
    trusted_key: str | None = None  # the key the install trusts, for an app with bridges


@dataclasses.dataclass(frozen=True, slots=True)
class Install:
    """The values one install sends on its update check."""

    os: str
    arch: str | None  # None: a check without an arch, answered with the static document
    bundle: str | None
    current: str
    channel: str | None = None
    install_id: str | None = None
    license_hash: str | None = None  # the SHA-256 of its licence key, as stored


async def preview(actor: Actor, app_id: str, install: Install) -> Preview:
    """Answer "why did my app get no update?" for one install's values.

    Trying a licence key is for keys that may manage licences: anyone else could use it to
    find out which keys are valid.
    """
    app = await apps.get_visible(actor, app_id, ("appId",))
    if install.license_hash is not None:
        actor.require_reader("trying a licence key in updatePreview")
    bundle = None if install.bundle in (None, "", "unknown") else install.bundle
    if install.arch is None:
        if install.os not in OPERATING_SYSTEMS:
            raise InvalidInput(
                f"target {install.os[:32]!r} is not an OS: use one of "
                f"{', '.join(OPERATING_SYSTEMS)}, or give an arch",
                ("target",),
            )
    else:
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
    now = datetime.now(UTC)
    carried = Presented(install.install_id, install.license_hash)
    verdict = await judge(index, carried, Fresh(index), now)
    trusting = index.trusting(installed)
    if install.arch is None:
        key = install.os
        required = trusting.required[rank].get(key, frozenset())
    else:
        key = trusting.key_for(install.os, install.arch, bundle, rank)
        required = frozenset({key})
    choice = None
    if isinstance(verdict, Standing):
        view = index.without(verdict.excluded)
        if install.arch is None:
            choice = view.for_os(install.os, installed, rank)
        else:
            choice = view.for_platform(install.os, install.arch, bundle, installed, rank)
    newer = [
        release
        for release in await Release.filter(app_id=app.id).prefetch_related("artifacts")
        if (version := parse_stored(release.version)) is not None
        and version > installed
        and (choice is None or release.id != choice.offer.release_id)
    ]
    newer.sort(key=lambda r: Version.parse(r.version), reverse=True)
    seen = index.order[: rank + 1]
    status = verdict.status if isinstance(verdict, Refusal) else 204 if choice is None else 200
    coverage = None
    if isinstance(verdict, Standing) and verdict.held is not None:
        coverage = index.terms.coverage(verdict.held)
    trust = None if index.chain is None else Trust(index.chain, installed)
    explain = _Explainer(
        key,
        required,
        app.require_signed_version,
        choice,
        seen,
        verdict,
        coverage,
        now,
        install,
        trust,
        await halts_of_app(app.id),
    )
    notes = ([trust.note(choice)] if trust else []) + await _notes(key, required, choice)
    refusal = verdict.message if isinstance(verdict, Refusal) else None
    skipped = [explain(release) for release in newer]
    return Preview(status, key, choice, skipped, notes, refusal, trust.key if trust else None)


@dataclasses.dataclass(frozen=True, slots=True)
class Trust:
    """Which of the app's keys an install trusts, and why, in words."""

    chain: Chain
    current: Version

    @property
    def key(self) -> str:
        return self.chain.trusted(self.current)

    def note(self, choice: Choice | None) -> str:
        bridge = self.chain.bridge_of(self.current)
        if bridge is None:
            first = self.chain.bridges[0][0]
            why = (
                f"{self.current} is older than every bridge (the first is {first}), so it "
                f"trusts the app's first key, {self.key}"
            )
        else:
            why = (
                f"{self.current} is at or past the bridge {bridge[0]}, which shipped key {self.key}"
            )
        note = (
            f"this install trusts one signing key: {why}; it is offered only files that key signed"
        )
        ahead = self.chain.next_bridge(self.current)
        if choice is not None and ahead is not None and choice.offer.version <= ahead[0]:
            note += (
                f"; it is led across the bridge {ahead[0]} to key {ahead[1]} before anything "
                "signed with that key"
            )
        return note

    def refusal(self, artifact: Artifact) -> str | None:
        """Why the install could not verify the artifact's file, or None."""
        if artifact.key_id == self.key:
            return None
        ahead = self.chain.next_bridge(self.current)
        how = (
            f"; it gets that key from the bridge {ahead[0]} first"
            if ahead is not None and any(key == artifact.key_id for _, key in self.chain.bridges)
            else ""
        )
        return (
            f"the {artifact.platform} file is signed with key {artifact.key_id}, and this "
            f"install trusts key {self.key}, so it could not verify it{how}"
        )


async def _notes(key: str, required: frozenset[str], choice: Choice | None) -> list[str]:
    """What decided the answer besides the version order, in words."""
    notes = []
    if key in OPERATING_SYSTEMS:
        keys = ", ".join(sorted(required)) or "none yet"
        notes.append(
            f"a check without an arch gets one document for every {key} install, so it must "
            f"carry every key they look up ({keys}); the newest release that has them all is "
            "offered, as a client fails its check when its own key is missing"
        )
    elif choice is not None and choice.stored_key != key:
        notes.append(
            f"no {key} artifact and no usable bundle type: {key} is answered by the default "
            f"installer's artifact, {choice.stored_key}"
        )
    if choice is not None:
        stored = (
            set(choice.offer.served.values()) if choice.stored_key is None else {choice.stored_key}
        )
        unsigned = await Artifact.filter(
            release_id=choice.offer.release_id, platform__in=stored, signed_version__isnull=True
        ).values_list("platform", flat=True)
        if unsigned:
            notes.append(
                f"the signature of {', '.join(sorted(str(p) for p in unsigned))} names no "
                "version: installs whose app sets requireSignedVersion refuse the download"
            )
    return notes


@dataclasses.dataclass(frozen=True, slots=True)
class _Explainer:
    key: str  # the platform key looked up, or a bare OS
    required: frozenset[str]  # the keys the answer must carry
    signed_versions_required: bool
    choice: Choice | None
    seen: tuple[str, ...]
    verdict: Verdict
    coverage: Coverage | None  # the presented licence's, judged at ``now``
    now: datetime
    install: Install
    trust: Trust | None  # for an app with bridges
    halts: dict[tuple[str, str], str]  # (release id, platform) -> when and why halted

    def __call__(self, release: Release) -> Skipped:
        reason, detail = self._why(release)
        return Skipped(release, reason, detail)

    def _why(self, release: Release) -> tuple[SkipReason, str]:
        verdict = self.verdict
        if release.status is ReleaseStatus.DRAFT:
            return SkipReason.DRAFT, "the release is a draft; publish it"
        if release.yanked_at is not None:
            return SkipReason.YANKED, f"it was yanked: {release.yank_reason}"
        if release.status is ReleaseStatus.ARCHIVED:
            return SkipReason.ARCHIVED, "the release was archived"
        if release.channel not in self.seen:
            seen = ", ".join(self.seen)
            return SkipReason.CHANNEL, f"it is on {release.channel}; this install sees {seen}"
        if isinstance(verdict, Refusal):
            return SkipReason.LICENSE, f"the check is refused ({verdict.status}): {verdict.message}"
        if release.id in verdict.uncovered and self.coverage is not None:
            return SkipReason.LICENSE, _uncovered(release, self.coverage, self.now)
        if release.id in verdict.outside:
            return SkipReason.ROLLOUT, _outside(release, self.install.install_id)
        return self._files(release) or self._superseded()

    def _files(self, release: Release) -> tuple[SkipReason, str] | None:
        """Why the release's artifacts cannot answer this check, if they cannot."""
        by_platform = {a.platform: a for a in release.artifacts}
        served = lookup_keys(by_platform)
        missing = sorted(self.required - served.keys())
        bare_os = self.key in OPERATING_SYSTEMS
        if missing or (bare_os and not any(k.startswith(f"{self.key}-") for k in served)):
            if bare_os and any(k.startswith(f"{self.key}-") for k in served):
                return SkipReason.INCOMPLETE_FOR_OS, (
                    f"it lacks {', '.join(missing)}: a check without an arch gets one document "
                    f"for every {self.key} install, and installs looking up a missing key "
                    "would fail their check, even when up to date"
                )
            platforms = ", ".join(sorted(by_platform)) or "none"
            return SkipReason.NO_ARTIFACT, f"no artifact for {self.key} (it has: {platforms})"
        needed = [by_platform[served[key]] for key in sorted(self.required)]
        for artifact in needed:
            halt = self.halts.get((release.id, artifact.platform))
            if halt is not None and artifact.status is ArtifactStatus.READY:
                return SkipReason.HALTED, f"its health gate halted {artifact.platform} {halt}"
            if artifact.status is not ArtifactStatus.READY:
                detail = f"the {artifact.platform} artifact is {artifact.status.value}"
                if artifact.failure_reason:
                    detail += f": {artifact.failure_reason}"
                return SkipReason.ARTIFACT_NOT_READY, detail
            if self.signed_versions_required and artifact.signed_version is None:
                return SkipReason.UNSIGNED_VERSION, (
                    f"the {artifact.platform} signature names no version and the app requires "
                    "one (requireSignedVersion)"
                )
            untrusted = self.trust.refusal(artifact) if self.trust else None
            if untrusted:
                return SkipReason.UNTRUSTED_KEY, untrusted
        return None

    def _superseded(self) -> tuple[SkipReason, str]:
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
