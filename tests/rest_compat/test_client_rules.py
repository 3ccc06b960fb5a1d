"""Every answer is one the real Tauri client accepts, judged by its own rules.

Each test names the client rule it encodes (``tests/tauri_client.py`` models the updater
plugin 2.13 and 2.0; the reference is tauri-updater-protocol.md). Releases are shipped
through the real upload-and-verify path, checked through the real update route, and
downloaded through ``/dl`` from the real bucket, then verified as the client verifies.
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import tauri_client
from tests.conftest import GraphQL
from tests.support.api import payload_of
from tests.support.documents import APP_UPDATE, UPDATE_PREVIEW
from tests.support.shipping import Shipyard

TAURI_CLI = Path(__file__).parents[2] / "var" / "tauri-cli" / "node_modules" / ".bin" / "tauri"
RELEASE_ARTIFACTS = """
query ($id: ID!) { node(id: $id) { ... on Release { artifacts { platform signedVersion } } } }
"""


async def preview(yard: Shipyard, target: str, current: str, **values: Any) -> dict[str, Any]:
    variables = {"appId": yard.app_id, "target": target, "current": current, **values}
    body = await yard.gql(UPDATE_PREVIEW, variables, key=yard.key)
    assert not body.get("errors"), body
    result: dict[str, Any] = body["data"]["updatePreview"]
    return result


# --- 1. the bare-OS document serves every architecture ------------------------------------

HISTORY = [
    ("1.0.0", ["darwin-x86_64"]),
    ("1.1.0", ["darwin-x86_64", "darwin-aarch64"]),
    ("1.2.0", ["darwin-aarch64"]),  # built for Apple silicon alone
    ("1.3.0", ["darwin-x86_64", "darwin-aarch64"]),
    ("2.0.0", ["darwin-aarch64"]),  # Intel dropped for good
]
# What the bare-OS document offers after each step: the newest release carrying every
# architecture published so far.
DOCUMENT = ["1.0.0", "1.1.0", "1.1.0", "1.3.0", "1.3.0"]
CURRENT = ["0.9.0", "1.0.0", "1.1.0", "1.2.0", "1.3.0", "2.0.0", "2.1.0"]


async def test_the_bare_os_document_never_fails_an_install_of_any_architecture(
    yard: Shipyard,
) -> None:
    """Client rule (plugin 2.13, reference §2.3): a static manifest's key is looked up
    before the version comparison, so a document lacking the caller's key fails its check
    even when it is up to date. Every (architecture, current version) pair is checked
    after each release of a history where architectures come and go."""
    published: set[str] = set()
    for (version, platforms), offered in zip(HISTORY, DOCUMENT, strict=True):
        await yard.release(version, platforms)
        published |= {p.removeprefix("darwin-") for p in platforms}
        for arch in sorted(published):
            for current in CURRENT:
                install = yard.install("darwin", arch, current)
                update = await install.check("target")  # raises on what the client refuses
                expected = (
                    offered
                    if tauri_client.parse_version(offered) > (tauri_client.parse_version(current))
                    else None
                )
                assert (None if update is None else str(update.version)) == expected, (
                    version,
                    arch,
                    current,
                )
                if update is not None:
                    data = await install.download(update)
                    assert data == Shipyard.body(offered, f"darwin-{arch}")
                    tauri_client.download_and_verify(update, data, yard.signer.public_key)


async def test_update_preview_explains_the_bare_os_document(yard: Shipyard) -> None:
    for version, platforms in HISTORY[:3]:
        await yard.release(version, platforms)
    result = await preview(yard, "darwin", "1.0.0")
    assert (result["status"], result["platformKey"], result["servedKey"]) == (200, "darwin", None)
    assert result["offered"]["version"] == "1.1.0"
    assert [(s["release"]["version"], s["reason"]) for s in result["skipped"]] == [
        ("1.2.0", "INCOMPLETE_FOR_OS")
    ]
    assert "darwin-x86_64" in result["skipped"][0]["detail"]
    assert any("darwin-aarch64, darwin-x86_64" in note for note in result["notes"])


# --- 2. signatures and keys the client cannot decode --------------------------------------


def reencode(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def noncanonical(b64: str) -> str:
    """The same bytes with a last symbol whose spare bits are set (Python still decodes it)."""
    body = b64.rstrip("=")
    padding = len(b64) - len(body)
    assert padding, "needs a padded encoding to have spare bits"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(body[-1]) | (1 if padding == 1 else 3)
    altered = body[:-1] + alphabet[last] + "=" * padding
    assert base64.b64decode(altered) == base64.b64decode(b64)
    return altered


def padded_signature(yard: Shipyard, body: bytes, name: str, version: str) -> str:
    """A signature whose outer base64 ends in padding (its length depends on the comment)."""
    for extra in range(3):
        signature = yard.signer.sign(body, name + "x" * extra, version)
        if signature.endswith("="):
            return signature
    raise AssertionError("no padded signature")


def inner(signature: str, change: Any) -> str:
    lines = base64.b64decode(signature).decode().split("\n")
    change(lines)
    return reencode("\n".join(lines))


async def refused_upload(yard: Shipyard, signature: str, defect: str) -> None:
    release_id = await yard.draft("1.0.0")
    uploaded = await yard.upload(release_id, "1.0.0", "linux-x86_64", signature=signature)
    assert uploaded["artifact"] is None
    [error] = uploaded["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", ["signature"]), error
    assert defect in error["message"], error["message"]


async def test_a_signature_with_a_noncanonical_last_symbol_is_refused(yard: Shipyard) -> None:
    """Client rule (reference §3.2): the updater decodes the signature with base64 STANDARD,
    which refuses a last symbol with non-zero spare bits ("Invalid last symbol")."""
    body = Shipyard.body("1.0.0", "linux-x86_64")
    signature = noncanonical(padded_signature(yard, body, "app.bin", "1.0.0"))
    with pytest.raises(tauri_client.ClientError):
        tauri_client.decode_signature(signature)
    await refused_upload(yard, signature, "carries bits beyond the data")


async def test_a_noncanonical_inner_signature_line_is_refused(yard: Shipyard) -> None:
    """Client rule (minisign-verify ``Signature::decode``): the signature line is decoded
    strictly; a non-canonical last symbol is "Invalid encoding in minisign data"."""
    body = Shipyard.body("1.0.0", "linux-x86_64")

    def alter(lines: list[str]) -> None:
        lines[1] = noncanonical(lines[1])

    signature = inner(yard.signer.sign(body, "app.bin", "1.0.0"), alter)
    with pytest.raises(tauri_client.ClientError):
        tauri_client.decode_signature(signature)
    await refused_upload(yard, signature, "line 2 of this signature")


async def test_an_inner_line_with_a_trailing_space_is_refused(yard: Shipyard) -> None:
    """Client rule (minisign-verify): lines are split on newlines and not trimmed, so a
    space after the base64 is a decoding error."""
    body = Shipyard.body("1.0.0", "linux-x86_64")

    def alter(lines: list[str]) -> None:
        lines[3] += " "

    signature = inner(yard.signer.sign(body, "app.bin", "1.0.0"), alter)
    with pytest.raises(tauri_client.ClientError):
        tauri_client.decode_signature(signature)
    await refused_upload(yard, signature, "line 4 of this signature")


async def test_crlf_line_endings_are_accepted_as_the_client_accepts_them(yard: Shipyard) -> None:
    """Client rule (Rust ``str::lines``): a line may end in \\r\\n."""
    release_id = await yard.draft("1.0.0")
    body = Shipyard.body("1.0.0", "linux-x86_64")
    signature = reencode(
        base64.b64decode(yard.signer.sign(body, "app.bin", "1.0.0")).decode().replace("\n", "\r\n")
    )
    uploaded = await yard.upload(release_id, "1.0.0", "linux-x86_64", signature=signature)
    assert uploaded["artifact"]["status"] == "READY", uploaded
    assert (await yard.publish(release_id))["userErrors"] == []
    install = yard.install("linux", "x86_64", "0.9.0")
    assert await install.update() == "1.0.0"


async def test_a_public_key_the_client_cannot_decode_is_refused(
    gql: GraphQL, admin_key: str, yard: Shipyard
) -> None:
    """The same gate for ``publicKey``: the client decodes it with base64 STANDARD and
    minisign-verify's strict line decoder."""
    key = yard.signer.public_key
    lines = base64.b64decode(key).decode().split("\n")
    spaced = reencode("\n".join([lines[0], lines[1] + " ", *lines[2:]]))
    cases = [key.rstrip("=") if key.endswith("=") else key[:-1], spaced]
    if key.endswith("="):
        cases.append(noncanonical(key))
    for bad in cases:
        with pytest.raises(tauri_client.ClientError):
            tauri_client.decode_public_key(bad)
        body = await gql(
            APP_UPDATE, {"id": yard.app_id, "input": {"publicKey": bad}}, key=admin_key
        )
        [error] = payload_of(body, "appUpdate")["userErrors"]
        assert (error["field"], error["code"]) == (["input", "publicKey"], "INVALID_INPUT"), error
        assert "updater can decode" in error["message"]


@pytest.mark.skipif(
    not TAURI_CLI.exists() and os.environ.get("CI") != "true",
    reason="the Tauri CLI is installed by scripts/test",
)
async def test_a_file_name_with_u2028_signed_by_the_tauri_cli_is_accepted(
    client: httpx.AsyncClient, gql: GraphQL, admin_key: str, tmp_path: Path
) -> None:
    """Client rule (Rust ``str::lines``): only \\n splits lines, so a signed file name with
    U+2028 (a line separator to Python) is one trusted comment, and verifies."""

    def tauri(*args: str) -> None:
        subprocess.run(
            [str(TAURI_CLI), "signer", *args], cwd=tmp_path, check=True, capture_output=True
        )

    tauri("generate", "--ci", "-w", "app.key", "-p", "")
    public_key = (tmp_path / "app.key.pub").read_text()
    yard = await Shipyard.open(client, gql, admin_key, "u2028", publicKey=public_key)
    name = "Notes\u2028App_1.0.0_amd64.AppImage"
    (tmp_path / name).write_bytes(Shipyard.body("1.0.0", "linux-x86_64"))
    tauri("sign", "-f", "app.key", "-p", "", "--app-version", "1.0.0", name)
    signature = (tmp_path / f"{name}.sig").read_text()
    release_id = await yard.draft("1.0.0")
    uploaded = await yard.upload(
        release_id, "1.0.0", "linux-x86_64", signature=signature, filename=name
    )
    assert uploaded["userErrors"] == [], uploaded
    assert uploaded["artifact"]["status"] == "READY", uploaded
    assert uploaded["artifact"]["signedVersion"] == "1.0.0"
    assert (await yard.publish(release_id))["userErrors"] == []
    install = yard.install("linux", "x86_64", "0.9.0")
    update = await install.check()
    assert update is not None
    tauri_client.download_and_verify(update, await install.download(update), public_key, True)


# --- 3. signatures that name no version ---------------------------------------------------


async def test_whether_a_signature_names_its_version_is_recorded_and_explained(
    yard: Shipyard,
) -> None:
    """Client rule (reference §3.4 step 6): a signature without ``version:`` is refused by
    clients configured with requireSignedVersion, after the check announced the update."""
    release_id = await yard.draft("1.0.0")
    signed = await yard.upload(release_id, "1.0.0", "linux-x86_64")
    unsigned = await yard.upload(release_id, "1.0.0", "darwin-aarch64", signed_version=None)
    assert signed["artifact"]["signedVersion"] == "1.0.0"
    assert unsigned["artifact"]["signedVersion"] is None
    assert unsigned["artifact"]["status"] == "READY"
    assert (await yard.publish(release_id))["userErrors"] == []
    listed = await yard.gql(RELEASE_ARTIFACTS, {"id": release_id}, key=yard.key)
    assert {a["platform"]: a["signedVersion"] for a in listed["data"]["node"]["artifacts"]} == {
        "darwin-aarch64": None,
        "linux-x86_64": "1.0.0",
    }
    result = await preview(yard, "darwin", "0.9.0", arch="aarch64")
    assert result["status"] == 200
    assert any("darwin-aarch64 names no version" in note for note in result["notes"])
    linux = await preview(yard, "linux", "0.9.0", arch="x86_64")
    assert not any("names no version" in note for note in linux["notes"])
    # What such a client does with it: the check offers it, the download is refused.
    install = yard.install("darwin", "aarch64", "0.9.0")
    update = await install.check()
    assert update is not None
    data = await install.download(update)
    tauri_client.download_and_verify(update, data, yard.signer.public_key)
    with pytest.raises(tauri_client.ClientError):
        tauri_client.download_and_verify(update, data, yard.signer.public_key, True)


async def test_require_signed_version_refuses_what_such_clients_refuse(yard: Shipyard) -> None:
    """With the app's requireSignedVersion on, no check announces an update its clients
    would refuse at download: unsigned uploads are refused, and a release published
    before the switch is no longer offered."""
    await yard.release("1.0.0", ["linux-x86_64"])
    release_id = await yard.draft("1.1.0")
    uploaded = await yard.upload(release_id, "1.1.0", "linux-x86_64", signed_version=None)
    assert uploaded["artifact"]["signedVersion"] is None
    assert (await yard.publish(release_id))["userErrors"] == []
    install = yard.install("linux", "x86_64", "1.0.0")
    offered = await install.check()
    assert offered is not None
    assert str(offered.version) == "1.1.0"

    switched = await yard.gql(
        APP_UPDATE, {"id": yard.app_id, "input": {"requireSignedVersion": True}}, key=yard.key
    )
    assert payload_of(switched, "appUpdate")["app"]["requireSignedVersion"] is True
    assert await install.check() is None  # 1.1.0 is unsigned: not announced
    result = await preview(yard, "linux", "1.0.0", arch="x86_64")
    assert [(s["release"]["version"], s["reason"]) for s in result["skipped"]] == [
        ("1.1.0", "UNSIGNED_VERSION")
    ]

    draft = await yard.draft("1.2.0")
    refused = await yard.upload(draft, "1.2.0", "linux-x86_64", signed_version=None)
    [error] = refused["userErrors"]
    assert error["field"] == ["signature"]
    assert "requireSignedVersion" in error["message"]
    accepted = await yard.upload(draft, "1.2.0", "linux-x86_64")
    assert accepted["artifact"]["status"] == "READY"
    assert (await yard.publish(draft))["userErrors"] == []
    assert await install.update(require_signed_version=True) == "1.2.0"


# --- 5. installer-only keys ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "bundle", "plugin", "served"),
    [
        ("arch", None, "new", "nsis"),  # the {{target}}/{{arch}} form, no bundle type
        ("platform", None, "new", "nsis"),  # the seed's {os}-{arch} form
        ("arch", "unknown", "new", "nsis"),  # `tauri dev`, or no bundle marker
        ("arch", "msi", "new", "msi"),
        ("arch", "nsis", "new", "nsis"),
        ("target", None, "new", "nsis"),  # the static document's plain key
        ("target", None, "2024", "nsis"),  # plugin 2.0 looks up only windows-x86_64
        ("target", "msi", "new", "msi"),  # windows-x86_64-msi, then windows-x86_64
    ],
)
async def test_installer_only_keys_answer_checks_without_a_bundle_type(
    yard: Shipyard, form: str, bundle: str | None, plugin: str, served: str
) -> None:
    """Client rule (reference §2.3): without a usable bundle type the client looks up only
    ``{os}-{arch}``; tauri-action names Windows files ``-nsis``/``-msi`` only. The plain
    key falls back to the OS's default installer (NSIS on Windows)."""
    await yard.release("1.1.0", ["windows-x86_64-nsis", "windows-x86_64-msi"])
    install = yard.install("windows", "x86_64", "1.0.0", bundle, plugin)
    update = await install.check(form)
    assert update is not None
    data = await install.download(update)
    assert data == Shipyard.body("1.1.0", f"windows-x86_64-{served}")
    tauri_client.download_and_verify(update, data, yard.signer.public_key, True)


async def test_update_preview_names_the_installer_fallback(yard: Shipyard) -> None:
    await yard.release("1.1.0", ["linux-x86_64-appimage", "linux-x86_64-deb"])
    result = await preview(yard, "linux", "1.0.0", arch="x86_64")
    assert (result["platformKey"], result["servedKey"]) == ("linux-x86_64", "linux-x86_64-appimage")
    assert any("default installer" in note for note in result["notes"])
    deb = await preview(yard, "linux", "1.0.0", arch="x86_64", bundle="deb")
    assert (deb["platformKey"], deb["servedKey"], deb["notes"]) == (
        "linux-x86_64-deb",
        "linux-x86_64-deb",
        [],
    )
