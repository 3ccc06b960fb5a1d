"""An app's updater signing keys, and which of them each install trusts.

The Tauri updater trusts the one public key compiled into the app, so a key is changed by
a **bridge**: a release signed with the key its installs trust that ships the next key.
An install on a version at or past a published bridge trusts the key that bridge ships;
one older than every bridge trusts the app's first key. :class:`Chain` answers that for
any version, and is what keeps every install offered only files it can verify
(:mod:`ferryman.models.offer`).

Until an app adds a second key its one key is its ``publicKey`` and it has no rows here;
the first :func:`~ferryman.models.rotation.add` writes that key as the first row. States:

- NEXT: added, and no published bridge leads to it yet: releases signed with it cannot be
  published, as no install could verify them;
- ACTIVE: installs trust it, and it may sign;
- RETIRED: it signs no more (uploads signed with it are refused), yet the files it signed
  stay offered to the installs that still trust it.

The app's ``publicKey`` follows the chain: it is the key new releases are signed with,
the one the newest published bridge leads to.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from ferryman.models import app as apps
from ferryman.models.ids import MAX_LENGTH
from ferryman.signatures import PublicKey
from ferryman.versions import Version, parse_stored

if TYPE_CHECKING:
    from ferryman.models.app import App
    from ferryman.models.artifact import Artifact
    from ferryman.models.release import Release
    from ferryman.models.verification import SignatureCheck

KEY_ID_LENGTH = 16  # hex, as minisign and the Tauri CLI print a key id


class KeyState(enum.Enum):
    NEXT = "NEXT"
    ACTIVE = "ACTIVE"
    RETIRED = "RETIRED"


class SigningKey(Model):
    """One of an app's updater public keys."""

    id = fields.CharField(primary_key=True, max_length=MAX_LENGTH)
    app: fields.ForeignKeyRelation[App] = fields.ForeignKeyField(
        "models.App", related_name="signing_keys", on_delete=fields.CASCADE
    )
    position = fields.SmallIntField()  # 1 for the app's first key, then in the order added
    key_id = fields.CharField(max_length=KEY_ID_LENGTH)
    public_key = fields.TextField()
    state = fields.CharEnumField(KeyState, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    retired_at = fields.DatetimeField(null=True)

    app_id: str
    bridges: fields.ReverseRelation[Release]

    class Meta:
        table = "signing_keys"
        unique_together = (("app", "key_id"), ("app", "position"))

    @property
    def described(self) -> str:
        return f"{self.key_id} ({self.state.value})"


def key_id_of(public_key: str) -> str:
    """The id of a key the app holds (its ``.pub`` content), as the CLI prints it."""
    return PublicKey.parse(public_key).key_id_hex


@dataclasses.dataclass(frozen=True, slots=True)
class Chain:
    """The keys installs trust, by the version they run: ``root`` before every bridge,
    then each published bridge's key from its version on."""

    root: str
    bridges: tuple[tuple[Version, str], ...]  # (bridge version, key it ships), ascending

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key some install trusts, oldest first."""
        return tuple(dict.fromkeys([self.root, *(key for _, key in self.bridges)]))

    @property
    def newest(self) -> str:
        """The key the newest installs trust: the one new releases are signed with."""
        return self.bridges[-1][1] if self.bridges else self.root

    def trusted(self, current: Version) -> str:
        """The key an install on ``current`` trusts."""
        bridge = self.bridge_of(current)
        return self.root if bridge is None else bridge[1]

    def bridge_of(self, current: Version) -> tuple[Version, str] | None:
        """The newest bridge at or below ``current`` (the one whose key it trusts), or None
        for an install older than every bridge."""
        at = bisect.bisect_right([version for version, _ in self.bridges], current)
        return self.bridges[at - 1] if at else None

    def next_bridge(self, current: Version) -> tuple[Version, str] | None:
        """The first bridge above ``current``: the one that leads the install on."""
        at = bisect.bisect_right([version for version, _ in self.bridges], current)
        return self.bridges[at] if at < len(self.bridges) else None


def chain_of(root: str | None, bridges: Iterable[tuple[str, str]]) -> Chain | None:
    """The chain of an app's first key and its bridges (version text, key id) that were
    ever published: one archived or yanked since is still built into the installs that took
    it. None while there is no bridge: every install then trusts the one key."""
    parsed = sorted(
        (version, key) for text, key in bridges if (version := parse_stored(text)) is not None
    )
    if root is None or not parsed:
        return None
    return Chain(root, tuple(parsed))


async def rows(app_id: str) -> list[SigningKey]:
    """The app's keys, oldest (the first, which installs of its first releases trust)
    first."""
    return await SigningKey.filter(app_id=app_id).order_by("position")


async def chain(app_id: str) -> Chain | None:
    """The app's chain as it stands (see :func:`chain_of`)."""
    keys = await rows(app_id)
    if not keys:
        return None
    bridges = [
        (release.version, key.key_id)
        for key in keys
        for release in await key.bridges.filter(pub_date__isnull=False)
    ]
    return chain_of(keys[0].key_id, bridges)


@dataclasses.dataclass(frozen=True, slots=True)
class Keyring:
    """The keys an upload of the app may be signed with, and why another is refused."""

    slug: str
    keys: dict[str, SigningKey]  # key id -> its row (a bare publicKey has an unsaved one)

    def public_key(self, check: SignatureCheck) -> tuple[str | None, str | None]:
        """(the key text to verify ``check`` against, None) or (None, why no file it signs
        can pass)."""
        if not self.keys:
            return None, (
                f"app {self.slug} has no publicKey, so the signature cannot be checked: set "
                "it with appUpdate, then confirm again"
            )
        if len(self.keys) == 1:  # the one key: the signature's own words say what is wrong
            only = next(iter(self.keys.values()))
            if only.state is not KeyState.RETIRED:
                return only.public_key, None
        key = self.keys.get(check.key_id)
        if key is None:
            held = ", ".join(k.described for k in self.keys.values())
            return None, (
                f"signature was made by key {check.key_id} but app {self.slug}'s keys are "
                f"{held}: sign with the private key of one of them, or add its public key "
                "with appSigningKeyAdd"
            )
        if key.state is KeyState.RETIRED:
            when = key.retired_at.date().isoformat() if key.retired_at else "earlier"
            return None, (
                f"signature was made by key {key.key_id}, which was retired on {when}: sign "
                f"with the key new releases of {self.slug} use"
            )
        return key.public_key, None

    def key_failure(self, check: SignatureCheck) -> str | None:
        public_key, refusal = self.public_key(check)
        return refusal if public_key is None else check.key_failure(public_key)

    def failure(self, check: SignatureCheck) -> str | None:
        public_key, refusal = self.public_key(check)
        return refusal if public_key is None else check.failure(public_key)


async def keyring(app: App) -> Keyring:
    held = await rows(app.id)
    if not held and app.public_key:
        held = [bare(app)]
    return Keyring(app.slug, {key.key_id: key for key in held})


def bare(app: App) -> SigningKey:
    """The app's one key before it has rows: its first row once written."""
    assert app.public_key is not None
    return SigningKey(
        app_id=app.id,
        position=1,
        key_id=key_id_of(app.public_key),
        public_key=app.public_key,
        state=KeyState.ACTIVE,
    )


async def publish_refusal(release: Release, artifacts: list[Artifact]) -> str | None:
    """Why publishing ``release`` would offer files no install can verify, or None.

    A file signed with a NEXT key is one no published bridge leads to. A bridge must be
    signed with the key the installs below it trust, never with the key it ships.
    """
    keys = {key.key_id: key for key in await rows(release.app_id)}
    if not keys:
        return None
    unreachable = sorted(
        f"{a.platform} ({a.key_id})"
        for a in artifacts
        if a.key_id in keys and keys[a.key_id].state is KeyState.NEXT
    )
    if unreachable and release.bridge_to_id is None:
        return (
            f"release {release.version} has files signed with a key no published bridge "
            f"leads to: {', '.join(unreachable)}; no install could verify them. Publish a "
            "bridge first: a release signed with the key installs trust now, marked with "
            "releaseBridgeSet as the bridge to the new key"
        )
    if release.bridge_to_id is None:
        return None
    target = next(k for k in keys.values() if k.id == release.bridge_to_id)
    if target.state is KeyState.RETIRED:
        return (
            f"release {release.version} is the bridge to key {target.key_id}, which is retired: "
            "installs that took it could verify nothing newer. Mark it as the bridge to a key "
            "that signs, or as none"
        )
    current = await chain(release.app_id)
    below = Version.parse(release.version)
    trusted = keys_trusted_below(current, next(iter(keys)), below)
    wrong = sorted(f"{a.platform} ({a.key_id})" for a in artifacts if a.key_id != trusted)
    if wrong:
        return (
            f"release {release.version} is the bridge to key {target.key_id}, so installs "
            f"below it must be able to verify it: they trust key {trusted}, but "
            f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} signed otherwise. Sign "
            f"the bridge with key {trusted}; it ships key {target.key_id} inside the app"
        )
    return None


def keys_trusted_below(current: Chain | None, root: str, version: Version) -> str:
    """The key installs just below ``version`` trust (the bridge at ``version`` itself
    aside)."""
    if current is None:
        return root
    earlier = tuple((v, key) for v, key in current.bridges if v < version)
    return Chain(current.root, earlier).trusted(version)


async def follow(app_id: str) -> None:
    """Make the keys' states and the app's ``publicKey`` follow its bridges: call in the
    transaction that publishes or marks one. A key a bridge has led to stays ACTIVE (or
    RETIRED): installs that took the bridge trust it, whatever became of the bridge."""
    keys = await rows(app_id)
    if not keys:
        return
    current = await chain(app_id)
    led = set(current.keys) if current else {keys[0].key_id}
    for key in keys:
        state = key.state
        if key.key_id in led and state is KeyState.NEXT:
            state = KeyState.ACTIVE
        elif key.key_id not in led and state is KeyState.ACTIVE:
            state = KeyState.NEXT
        if state is not key.state:
            await SigningKey.filter(id=key.id).update(state=state)
    newest = current.newest if current else keys[0].key_id
    public_key = next(key.public_key for key in keys if key.key_id == newest)
    await apps.App.filter(id=app_id).update(public_key=public_key)
