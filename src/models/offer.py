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
import hashlib
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from tortoise.expressions import Q

from ferryman.models import channel as channels
from ferryman.models.app import App
from ferryman.models.artifact import Artifact
from ferryman.models.coverage import Coverage
from ferryman.models.license import Held
from ferryman.models.platform import STRICT_INSTALLERS, lookup_keys
from ferryman.models.release import Release
from ferryman.models.signing_key import Chain, SigningKey, chain_of
from ferryman.models.status import (
    ArtifactStatus,
    Distribution,
    ExpiredPolicy,
    ReleaseStatus,
)
from ferryman.versions import Version, parse_stored

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
    files: dict[str, tuple[str, str]]  # stored platform key -> (url, signature)
    rank: int = 0  # its channel's place in the app's order (0: the most stable)
    effective: datetime | None = None  # the date licences judge it by
    rollout: int = 100  # the percentage of install ids it is offered to
    signers: dict[str, str] = dataclasses.field(default_factory=dict)  # stored key -> key id
    trusted: str | None = None  # the key of a one-key view's copy (OfferIndex.trusting)
    # Every key a client may look up -> the stored key answering it (see lookup_keys).
    served: dict[str, str] = dataclasses.field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "served", lookup_keys(self.files))

    def signed_with(self, key: str) -> Offer | None:
        """This offer with only the files ``key`` signed (None: it has none)."""
        files = {k: f for k, f in self.files.items() if self.signers.get(k) == key}
        if not files:
            return None
        signers = dict.fromkeys(files, key)
        return dataclasses.replace(self, files=files, signers=signers, trusted=key)

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
    """The offer for one install, and the key (or bare OS) it was chosen by."""

    offer: Offer
    key: str

    @property
    def stored_key(self) -> str | None:
        """The artifact's platform key behind a dynamic answer (None for a bare OS)."""
        return self.offer.served.get(self.key)


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
        required: list[dict[str, frozenset[str]]] | None = None,
        chain: Chain | None = None,
        trusted_required: dict[str, list[dict[str, frozenset[str]]]] | None = None,
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
        # Per channel rank, among that channel's releases and the more stable ones: each key
        # a client may look up -> the newest offer answering it; each OS -> the keys every
        # bare-OS document must carry (kept from the unfiltered index by a view); each OS ->
        # the newest offer carrying all of them.
        ordered = sorted(offers, key=lambda o: o.version)
        ranks = range(len(order))
        self._newest = [_newest_by_key(o for o in ordered if o.rank <= r) for r in ranks]
        self.required = required or [_required_by_os(self._newest[r]) for r in ranks]
        self._static = [
            _newest_complete(reversed([o for o in ordered if o.rank <= r]), self.required[r])
            for r in ranks
        ]
        # An app that moved between signing keys: each install is offered from the view
        # of the files signed with the key it trusts (the requirements of a bare-OS
        # document, again, kept from the unfiltered views).
        self.chain = chain
        self._trusting: dict[str, OfferIndex] = {}
        for key in chain.keys if chain else ():
            signed = [s for o in offers if (s := o.signed_with(key)) is not None]
            given = trusted_required.get(key) if trusted_required else None
            self._trusting[key] = OfferIndex(app_id, slug, signed, order, terms, yanked, given)
        self.trusted_required = {key: view.required for key, view in self._trusting.items()}
        if self.shared:
            # No install is judged against the others (that takes a licence or a partial
            # rollout), so nothing but these can ever be offered: an app's whole history
            # need not stay in memory.
            tables = [*self._newest, *self._static]
            if self._trusting:
                kept = {o.release_id for v in self._trusting.values() for o in v.offers}
                tables.append({o.release_id: o for o in offers if o.release_id in kept})
            self.offers = list({id(o): o for t in tables for o in t.values()}.values())

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
        return OfferIndex(
            self.app_id,
            self.slug,
            kept,
            self.order,
            self.terms,
            self.yanked,
            self.required,
            self.chain,
            self.trusted_required,
        )

    def trusting(self, current: Version) -> OfferIndex:
        """The index of what an install on ``current`` can verify: the files signed with
        the key it trusts (itself, for an app that never moved between keys)."""
        if self.chain is None:
            return self
        return self._trusting[self.chain.trusted(current)]

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
        view = self.trusting(current)
        key = view.key_for(os, arch, bundle, rank)
        return view._choice(view._newest[rank].get(key), key, current)

    def for_os(self, os: str, current: Version, rank: int = 0) -> Choice | None:
        """The one document every install of an OS gets from a check without an arch.

        The client looks its own key up before it compares versions, so the document must
        carry every key an install of that OS may look up: the newest release having a
        plain key for each architecture the app publishes for the OS (and each deb or rpm
        key it publishes), or none at all.
        """
        view = self.trusting(current)
        return view._choice(view._static[rank].get(os), os, current)

    def _choice(self, offer: Offer | None, key: str, current: Version) -> Choice | None:
        # Newer, or anything at all for an install stuck on a yanked release.
        if offer is None or not (offer.version > current or current in self.yanked):
            return None
        return Choice(offer, key)


def _newest_by_key(ascending: Iterable[Offer]) -> dict[str, Offer]:
    newest: dict[str, Offer] = {}
    for offer in ascending:
        newest.update(dict.fromkeys(offer.served, offer))
    return newest


def _required_by_os(newest: dict[str, Offer]) -> dict[str, frozenset[str]]:
    """The keys a bare-OS document must carry so no install of the OS fails its lookup:
    OS-ARCH for every architecture published, and every deb or rpm key (those installs
    cannot take the plain key's file)."""
    required: dict[str, set[str]] = {}
    for key in newest:
        os, arch, *installer = key.split("-")
        keys = required.setdefault(os, set())
        keys.add(f"{os}-{arch}")
        if installer and installer[0] in STRICT_INSTALLERS:
            keys.add(key)
    return {os: frozenset(keys) for os, keys in required.items()}


def _newest_complete(
    descending: Iterable[Offer], required: dict[str, frozenset[str]]
) -> dict[str, Offer]:
    found: dict[str, Offer] = {}
    for offer in descending:
        for os, keys in required.items():
            if os not in found and keys <= offer.served.keys():
                found[os] = offer
    return found


async def load(app: App) -> OfferIndex:
    """Read one app's published releases and READY artifacts: three queries, one more when
    the app offers downgrades from yanked releases, and one more when it has published a
    bridge to a new signing key (for its keys).

    A release published between them has artifacts but no row here: they are left out
    (that publish changes the app's generation, so this index is rebuilt anyway). So are
    files a client of the app would refuse: without a signed version where the app
    requires one, and releases whose version the client cannot parse (stored before
    versions were checked as strictly as the client checks them).
    """
    order = channels.order_of(app.channels)
    # With every bridge ever published: one archived since still binds its installs.
    rows = await Release.filter(
        Q(status=ReleaseStatus.PUBLISHED) | Q(bridge_to_id__isnull=False, pub_date__isnull=False),
        app_id=app.id,
    ).values(
        "id",
        "version",
        "notes",
        "pub_date",
        "coverage_date",
        "channel",
        "rollout_percent",
        "status",
        "bridge_to_id",
    )
    releases = [r for r in rows if ReleaseStatus(r["status"]) is ReleaseStatus.PUBLISHED]
    files: dict[str, dict[str, tuple[str, str]]] = {r["id"]: {} for r in releases}
    signers: dict[str, dict[str, str]] = {r["id"]: {} for r in releases}
    artifacts = Artifact.filter(
        release__app_id=app.id,
        release__status=ReleaseStatus.PUBLISHED,
        status=ArtifactStatus.READY,
        halted_at__isnull=True,  # a health gate halted it (models.health)
    )
    if app.require_signed_version:
        artifacts = artifacts.filter(signed_version__isnull=False)
    columns = ("release_id", "platform", "download_url", "signature", "key_id")
    for artifact in await artifacts.values(*columns):
        platforms = files.get(artifact["release_id"])
        if platforms is not None and artifact["download_url"]:
            platforms[artifact["platform"]] = (
                artifact["download_url"],
                artifact["signature"],
            )
            signers[artifact["release_id"]][artifact["platform"]] = artifact["key_id"]
    offers = [
        Offer(
            version=version,
            release_id=r["id"],
            notes=r["notes"],
            pub_date=r["pub_date"],
            files=files[r["id"]],
            rank=order.index(r["channel"]),
            effective=r["coverage_date"] or r["pub_date"],
            rollout=r["rollout_percent"],
            signers=signers[r["id"]],
        )
        for r in releases
        if files[r["id"]]
        and r["channel"] in order
        and (version := parse_stored(r["version"])) is not None
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
        frozenset(v for text in yanked if (v := parse_stored(str(text))) is not None),
        chain=await _chain(app.id, [(r["version"], r["bridge_to_id"]) for r in rows]),
    )


async def _chain(app_id: str, releases: list[tuple[str, str | None]]) -> Chain | None:
    """The app's key chain, from its releases' (version, the key a bridge ships); the keys
    are read only when there is a bridge."""
    bridges = [(version, key) for version, key in releases if key is not None]
    if not bridges:
        return None
    keys = await SigningKey.filter(app_id=app_id).order_by("position").values_list("id", "key_id")
    ids = dict(keys)
    return chain_of(keys[0][1], [(version, ids[key]) for version, key in bridges])
