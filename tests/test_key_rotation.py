"""Rotating an app's updater key across bridge releases, with keys and signatures made by
the real Tauri CLI: every install is offered only what the one key it trusts can verify,
and walks the bridges in turn to the newest release.

The history: key A signs 1.0.0 and 1.1.0; 1.2.0 (signed with A) is the bridge to B; B signs
2.0.0; 2.1.0 (signed with B) is the bridge to C; C signs 3.0.0.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ferryman.signatures import PublicKey
from tests import tauri_client
from tests.conftest import GraphQL
from tests.support.api import payload_of
from tests.support.documents import (
    APP_UPDATE,
    RELEASE_BRIDGE_SET,
    RELEASE_YANK,
    SIGNING_KEY_ADD,
    SIGNING_KEY_RETIRE,
    UPDATE_PREVIEW,
)
from tests.support.shipping import Shipyard
from tests.support.tauri_cli import CliKey, generate, needs_cli
from tests.support.usage import active, store

pytestmark = needs_cli

PLATFORMS = ("linux-x86_64", "windows-x86_64")
KEYS = """
query ($id: ID!) {
  app(id: $id) {
    publicKey
    signingKeys {
      id keyId state bridges { version } activeInstalls { installs source }
    }
  }
}
"""


@dataclasses.dataclass
class History:
    """The app, its CLI keys, and which key each shipped version trusts."""

    yard: Shipyard
    signed: Signed
    key_ids: dict[str, str]  # name -> signing key node id
    trusts: dict[str, str]  # version -> key name its installs trust

    @property
    def keys(self) -> dict[str, CliKey]:
        return self.signed.keys

    async def draft(self, version: str, signed_by: str) -> str:
        """A draft of ``version`` whose files ``signed_by`` signed with the CLI."""
        release_id = await self.yard.draft(version)
        for platform in PLATFORMS:
            signature = self.signed.signatures[version, platform, signed_by]
            uploaded = await self.yard.upload(release_id, version, platform, signature=signature)
            assert uploaded["userErrors"] == [], uploaded
            assert uploaded["artifact"]["status"] == "READY", uploaded
        return release_id

    async def ship(self, version: str, signed_by: str, bridge_to: str | None = None) -> str:
        release_id = await self.draft(version, signed_by)
        if bridge_to is not None:
            await self.bridge(release_id, bridge_to)
        published = await self.yard.publish(release_id)
        assert published["userErrors"] == [], published
        return release_id

    async def add_key(self, name: str) -> dict[str, Any]:
        payload = await self.mutate(
            SIGNING_KEY_ADD,
            "appSigningKeyAdd",
            appId=self.yard.app_id,
            publicKey=self.keys[name].public_key,
        )
        if payload["signingKey"]:
            self.key_ids[name] = payload["signingKey"]["id"]
        return payload

    async def bridge(self, release_id: str, to: str | None) -> dict[str, Any]:
        key = None if to is None else self.key_ids[to]
        return await self.mutate(RELEASE_BRIDGE_SET, "releaseBridgeSet", id=release_id, key=key)

    async def mutate(self, document: str, name: str, **variables: Any) -> dict[str, Any]:
        return payload_of(await self.yard.gql(document, variables, key=self.yard.key), name)

    async def release_id(self, version: str) -> str:
        document = "query ($id: ID!, $v: String!) { app(id: $id) { release(version: $v) { id } } }"
        found = await self.yard.gql(
            document, {"id": self.yard.app_id, "v": version}, key=self.yard.key
        )
        release_id: str = found["data"]["app"]["release"]["id"]
        return release_id

    def public_key(self, version: str) -> str:
        return self.keys[self.trusts[version]].public_key


# Every (version, platform) file the tests upload, and the key that signs it.
SIGNED_BY = {
    "1.0.0": "a",
    "1.1.0": "a",
    "1.2.0": "a",
    "2.0.0": "b",
    "2.1.0": "b",
    "3.0.0": "c",
    "3.1.0": "a",
    "3.2.0": "c",
    "3.3.0": "a",
}


@dataclasses.dataclass(frozen=True)
class Signed:
    """The CLI's keys and its signatures of every file, made once for the module."""

    keys: dict[str, CliKey]
    signatures: dict[tuple[str, str, str], str]  # (version, platform, key name) -> .sig


@pytest.fixture(scope="module")
async def signed(tmp_path_factory: pytest.TempPathFactory) -> Signed:
    folder = tmp_path_factory.mktemp("keys")
    names = sorted(set(SIGNED_BY.values()) | {"d"})
    keys = dict(
        zip(names, await asyncio.gather(*(generate(folder, n) for n in names)), strict=True)
    )
    wanted = [(v, p, k) for v, k in SIGNED_BY.items() for p in PLATFORMS]
    for version, platform, _ in wanted:
        (folder / f"app_{version}_{platform}.bin").write_bytes(Shipyard.body(version, platform))
    made = await asyncio.gather(
        *(keys[k].sign(folder / f"app_{v}_{p}.bin", v) for v, p, k in wanted)
    )
    return Signed(keys, dict(zip(wanted, made, strict=True)))


@pytest.fixture
async def history(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str, signed: Signed
) -> History:
    keys = signed.keys
    yard = await Shipyard.open(
        client, gql, admin_key, slug="rotating", publicKey=keys["a"].public_key
    )
    made = History(yard, signed, {}, {})
    for version in ("1.0.0", "1.1.0"):
        await made.ship(version, "a")
    added = await made.add_key("b")
    assert added["userErrors"] == [], added
    assert added["signingKey"]["state"] == "NEXT"

    # Nothing leads to B yet: a release signed with it would strand every install.
    early = await made.draft("2.0.0", "b")
    refused = await yard.publish(early)
    assert refused["userErrors"][0]["code"] == "INVALID_STATE"
    assert "no published bridge leads to" in refused["userErrors"][0]["message"]

    await made.ship("1.2.0", "a", bridge_to="b")
    assert (await yard.publish(early))["userErrors"] == []
    assert (await made.add_key("c"))["userErrors"] == []
    await made.ship("2.1.0", "b", bridge_to="c")
    await made.ship("3.0.0", "c")
    made.trusts = {
        "1.0.0": "a",
        "1.1.0": "a",
        "1.2.0": "b",
        "2.0.0": "b",
        "2.1.0": "c",
        "3.0.0": "c",
    }
    return made


async def walk(history: History, platform: str, current: str, form: str = "arch") -> list[str]:
    """Update as the Tauri client does, verifying each file with the one key the running
    version trusts, until nothing newer is offered; the versions it ran, in order."""
    os, arch = platform.split("-")
    install = history.yard.install(os, arch, current)
    ran = [current]
    while (update := await install.check(form)) is not None:
        data = await install.download(update)
        # Raises unless the file verifies against the key compiled into the running version.
        tauri_client.download_and_verify(update, data, history.public_key(install.current), True)
        install.current = str(update.version)
        ran.append(install.current)
        assert len(ran) <= 6
    return ran


async def test_every_install_crosses_each_bridge_in_turn_to_the_newest(history: History) -> None:
    paths = {
        "1.0.0": ["1.0.0", "1.2.0", "2.1.0", "3.0.0"],
        "1.1.0": ["1.1.0", "1.2.0", "2.1.0", "3.0.0"],
        "1.2.0": ["1.2.0", "2.1.0", "3.0.0"],
        "2.0.0": ["2.0.0", "2.1.0", "3.0.0"],
        "2.1.0": ["2.1.0", "3.0.0"],
        "3.0.0": ["3.0.0"],
    }
    for platform in PLATFORMS:
        for current, path in paths.items():
            assert await walk(history, platform, current) == path, (platform, current)
    # A check without an arch gets the same rule in its one document.
    assert await walk(history, "linux-x86_64", "1.0.0", form="target") == paths["1.0.0"]


async def test_the_keys_follow_their_bridges(history: History) -> None:
    yard = history.yard
    result = await yard.gql(KEYS, {"id": yard.app_id}, key=yard.key)
    app = result["data"]["app"]
    assert app["publicKey"] == history.keys["c"].public_key, "new releases are signed with C"
    states = {
        k["keyId"]: (k["state"], [b["version"] for b in k["bridges"]]) for k in app["signingKeys"]
    }
    ids = {name: key_id(history.keys[name]) for name in "abc"}
    assert states == {
        ids["a"]: ("ACTIVE", []),
        ids["b"]: ("ACTIVE", ["1.2.0"]),
        ids["c"]: ("ACTIVE", ["2.1.0"]),
    }

    changed = payload_of(
        await yard.gql(
            APP_UPDATE,
            {"id": yard.app_id, "input": {"publicKey": history.keys["a"].public_key}},
            key=yard.key,
        ),
        "appUpdate",
    )
    assert changed["userErrors"][0]["field"] == ["input", "publicKey"]
    assert "appSigningKeyAdd" in changed["userErrors"][0]["message"]


async def test_a_bridge_must_be_signed_with_the_key_installs_below_it_trust(
    history: History,
) -> None:
    assert (await history.add_key("d"))["userErrors"] == []
    # Installs below 3.1.0 trust C; a file signed with A could never reach them.
    wrong = await history.draft("3.1.0", "a")
    assert (await history.bridge(wrong, "d"))["userErrors"] == []
    refused = await history.yard.publish(wrong)
    message = refused["userErrors"][0]["message"]
    assert f"they trust key {key_id(history.keys['c'])}" in message, message

    # Nor may a bridge be signed with the very key it ships.
    own = await history.draft("3.2.0", "c")
    shipped = await history.bridge(own, "c")
    assert shipped["userErrors"][0]["field"] == ["signingKeyId"]
    assert "the key it would ship" in shipped["userErrors"][0]["message"]

    # A published bridge stays one: its installs already trust the key.
    kept = await history.bridge(await history.release_id("1.2.0"), None)
    assert "stays one" in kept["userErrors"][0]["message"]


async def test_a_yanked_bridge_still_binds_the_installs_that_took_it(history: History) -> None:
    bridge_id = await history.release_id("1.2.0")
    variables = {"id": bridge_id, "reason": "broken installer"}
    assert (await history.mutate(RELEASE_YANK, "releaseYank", **variables))["userErrors"] == []
    # Installs on 1.2.0 run B's key whatever became of the release ...
    assert await walk(history, "linux-x86_64", "1.2.0") == ["1.2.0", "2.1.0", "3.0.0"]
    # ... and those below it wait on A's releases for the next bridge, never handed B's.
    assert await walk(history, "linux-x86_64", "1.0.0") == ["1.0.0", "1.1.0"]


async def test_preview_says_which_key_an_install_trusts_and_why(history: History) -> None:
    yard = history.yard
    variables = {
        "appId": yard.app_id,
        "target": "linux",
        "arch": "x86_64",
        "current": "1.1.0",
    }
    result = await yard.gql(UPDATE_PREVIEW, variables, key=yard.key)
    preview = result["data"]["updatePreview"]
    assert preview["offered"]["version"] == "1.2.0"
    assert preview["trustedKeyId"] == key_id(history.keys["a"])
    assert any(
        "older than every bridge" in note and "bridge 1.2.0" in note for note in preview["notes"]
    )
    reasons = {s["release"]["version"]: s["reason"] for s in preview["skipped"]}
    assert reasons == {"3.0.0": "UNTRUSTED_KEY", "2.1.0": "UNTRUSTED_KEY", "2.0.0": "UNTRUSTED_KEY"}


async def test_retiring_a_key_no_install_needs(history: History) -> None:
    yard = history.yard
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    await store(
        [
            active(yard.app_id, yesterday, 1, 5, version="1.1.0"),
            active(yard.app_id, yesterday, 1, 3, version="2.0.0"),
            active(yard.app_id, yesterday, 1, 7, version="3.0.0"),
            active(yard.app_id, yesterday, 1, 2, version="2.1.0"),
        ]
    )
    result = await yard.gql(KEYS, {"id": yard.app_id}, key=yard.key)
    counts = {
        k["keyId"]: k["activeInstalls"]["installs"] for k in result["data"]["app"]["signingKeys"]
    }
    ids = {name: key_id(history.keys[name]) for name in "abc"}
    assert counts == {ids["a"]: 5, ids["b"]: 3, ids["c"]: 9}

    newest = await history.mutate(
        SIGNING_KEY_RETIRE, "appSigningKeyRetire", id=history.key_ids["c"]
    )
    assert "newest installs" in newest["userErrors"][0]["message"]
    first = next(k["id"] for k in result["data"]["app"]["signingKeys"] if k["keyId"] == ids["a"])
    retired = await history.mutate(SIGNING_KEY_RETIRE, "appSigningKeyRetire", id=first)
    assert retired["signingKey"]["state"] == "RETIRED"

    # What A signed is still offered to the installs that trust it ...
    assert await walk(history, "linux-x86_64", "1.0.0") == ["1.0.0", "1.2.0", "2.1.0", "3.0.0"]
    # ... but A signs nothing new.
    release_id = await yard.draft("3.3.0")
    signature = history.signed.signatures["3.3.0", "linux-x86_64", "a"]
    refused = await yard.upload(release_id, "3.3.0", "linux-x86_64", signature=signature)
    assert refused["artifact"]["status"] == "FAILED", refused
    assert "was retired" in refused["artifact"]["failureReason"], refused


def key_id(key: CliKey) -> str:
    return PublicKey.parse(key.public_key).key_id_hex


async def test_a_key_a_draft_bridge_ships_cannot_be_retired(history: History) -> None:
    """Retiring it would let the bridge publish onto a key that signs nothing more."""
    assert (await history.add_key("d"))["userErrors"] == []
    draft = await history.draft("3.2.0", "c")
    assert (await history.bridge(draft, "d"))["userErrors"] == []
    retire = {"id": history.key_ids["d"]}
    refused = await history.mutate(SIGNING_KEY_RETIRE, "appSigningKeyRetire", **retire)
    assert "draft 3.2.0 is marked as the bridge" in refused["userErrors"][0]["message"]

    assert (await history.bridge(draft, None))["userErrors"] == []
    retired = await history.mutate(SIGNING_KEY_RETIRE, "appSigningKeyRetire", **retire)
    assert retired["signingKey"]["state"] == "RETIRED"
    again = await history.bridge(draft, "d")
    assert "is retired" in again["userErrors"][0]["message"]
