"""Signature parsing and verification, on files signed by the real Tauri CLI and minisign."""

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ferryman.models.errors import InvalidInput
from ferryman.signatures import PublicKey, Signature, VerificationFailed, Verifier

DATA = Path(__file__).parent / "data" / "tauri"


def text(name: str) -> str:
    return (DATA / name).read_text()


def verify(key: str, signature: str, payload: bytes, chunk: int = 7) -> Signature:
    sig = Signature.parse(text(signature))
    verifier = Verifier(sig)
    for start in range(0, len(payload), chunk):
        verifier.update(payload[start : start + chunk])
    verifier.verify(PublicKey.parse(text(key)))
    return sig


def test_cli_signature_with_version_verifies() -> None:
    sig = verify(
        "app.pub",
        "MyApp_1.2.3_amd64.AppImage.sig",
        (DATA / "MyApp_1.2.3_amd64.AppImage").read_bytes(),
    )
    assert sig.prehashed
    assert sig.version == "1.2.3"
    assert sig.file == "MyApp_1.2.3_amd64.AppImage"
    assert sig.key_id_hex == PublicKey.parse(text("app.pub")).key_id_hex


def test_cli_signature_without_version_verifies_in_large_chunks() -> None:
    sig = verify(
        "app.pub", "MyApp.app.tar.gz.sig", (DATA / "MyApp.app.tar.gz").read_bytes(), chunk=4096
    )
    assert sig.version is None
    assert sig.file == "MyApp.app.tar.gz"


def test_legacy_signature_verifies() -> None:
    sig = verify("legacy.pub", "legacy.bin.sig", (DATA / "legacy.bin").read_bytes())
    assert not sig.prehashed


def test_key_id_is_printed_like_minisign() -> None:
    header = base64.b64decode(text("app.pub")).decode().splitlines()[0]
    assert header.endswith(PublicKey.parse(text("app.pub")).key_id_hex)


def test_tampered_file_fails() -> None:
    payload = bytearray((DATA / "MyApp_1.2.3_amd64.AppImage").read_bytes())
    payload[0] ^= 1
    with pytest.raises(VerificationFailed, match="does not match its signature"):
        verify("app.pub", "MyApp_1.2.3_amd64.AppImage.sig", bytes(payload))


def test_signature_from_another_key_names_both_keys() -> None:
    other = Signature.parse(text("other-key.AppImage.sig"))
    app = PublicKey.parse(text("app.pub"))
    with pytest.raises(VerificationFailed) as error:
        verify("app.pub", "other-key.AppImage.sig", (DATA / "other-key.AppImage").read_bytes())
    assert str(error.value).startswith(
        f"signature was made by key {other.key_id_hex} but the app's key is {app.key_id_hex}"
    )


def test_forged_trusted_comment_fails() -> None:
    decoded = base64.b64decode(text("MyApp_1.2.3_amd64.AppImage.sig")).decode()
    forged = base64.b64encode(decoded.replace("version:1.2.3", "version:1.2.4").encode()).decode()
    sig = Signature.parse(forged)
    assert sig.version == "1.2.4"
    verifier = Verifier(sig)
    verifier.update((DATA / "MyApp_1.2.3_amd64.AppImage").read_bytes())
    with pytest.raises(VerificationFailed, match="trusted comment was altered"):
        verifier.verify(PublicKey.parse(text("app.pub")))


def test_trailing_newline_is_tolerated_and_dropped() -> None:
    assert Signature.parse(text("MyApp.app.tar.gz.sig") + "\n").text == text("MyApp.app.tar.gz.sig")


def fake_private_key() -> str:
    inner = base64.b64encode(os.urandom(158)).decode()
    return base64.b64encode(
        f"untrusted comment: rsign encrypted secret key\n{inner}\n".encode()
    ).decode()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (fake_private_key(), "this is a private key"),
        ("https://example.com/app.tar.gz.sig", "signature is a URL"),
        ("./target/release/bundle/app.tar.gz.sig", "looks like a file path"),
        ("not base64 at all!", "is not base64"),
        (base64.b64encode(b"hello\nworld\n").decode(), "not a minisign signature"),
        (text("app.pub"), "not a minisign signature"),
        (
            base64.b64encode(b"untrusted comment: x\nAAAA\ntrusted comment: t\nAAAA\n").decode(),
            "not in a format the Tauri updater accepts",
        ),
        ("A" * 5000, "longer than 4096"),
        ("é", "is not base64"),
        ("dW50cnVzdGVk\u200bIGNvbW1lbnQ6", "is not base64"),
        (
            base64.b64encode(
                "untrusted comment: x\nRUQé\ntrusted comment: t\nAAAA\n".encode()
            ).decode(),
            "line 2 of this signature is not base64 the updater can decode",
        ),
    ],
)
def test_bad_signatures_say_what_they_are(value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Signature.parse(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (fake_private_key(), "this is a private key"),
        (text("MyApp.app.tar.gz.sig"), "not a minisign public key"),
        ("RWR8hGq79s2V9rnNB+MQBhhv10xT7r6ZYBZw7qQzR4G13J9NXFqSpE0k", "bare minisign key line"),
        (base64.b64encode(os.urandom(60)).decode(), "decodes to binary data"),
        ("~/.tauri/app.key.pub", "looks like a file path"),
        ("ключ", "is not base64"),
    ],
    ids=["private-key", "signature", "key-line", "binary", "file-path", "not-base64"],
)
def test_bad_public_keys_say_what_they_are(value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        PublicKey.parse(value)


@pytest.mark.skipif(
    shutil.which("minisign") is None and os.environ.get("CI") != "true",
    reason="Debian minisign not installed",
)
def test_minisign_agrees(tmp_path: Path) -> None:
    (tmp_path / "app.pub").write_bytes(base64.b64decode(text("app.pub")))
    (tmp_path / "file.minisig").write_bytes(base64.b64decode(text("MyApp.app.tar.gz.sig")))
    result = subprocess.run(
        [
            "minisign",
            "-V",
            "-p",
            str(tmp_path / "app.pub"),
            "-m",
            str(DATA / "MyApp.app.tar.gz"),
            "-x",
            str(tmp_path / "file.minisig"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    verify("app.pub", "MyApp.app.tar.gz.sig", (DATA / "MyApp.app.tar.gz").read_bytes())


TAURI_CLI = Path(__file__).parent.parent / "var" / "tauri-cli" / "node_modules" / ".bin" / "tauri"


@pytest.mark.skipif(
    not TAURI_CLI.exists() and os.environ.get("CI") != "true",
    reason="the Tauri CLI is installed by scripts/test",
)
def test_a_fresh_key_and_signature_from_the_tauri_cli_verify(tmp_path: Path) -> None:
    def tauri(*args: str) -> None:
        subprocess.run(
            [str(TAURI_CLI), "signer", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            timeout=120,
        )

    tauri("generate", "--ci", "-w", "app.key", "-p", "")
    payload = tmp_path / "Fresh_2.0.0_x64-setup.exe"
    payload.write_bytes(os.urandom(200_000))
    tauri("sign", "-f", "app.key", "-p", "", "--app-version", "2.0.0", payload.name)

    public_key = PublicKey.parse((tmp_path / "app.key.pub").read_text())
    sig = Signature.parse((tmp_path / f"{payload.name}.sig").read_text())
    assert (sig.version, sig.file, sig.prehashed) == ("2.0.0", payload.name, True)
    verifier = Verifier(sig)
    verifier.update(payload.read_bytes())
    verifier.verify(public_key)

    tampered = Verifier(sig)
    tampered.update(payload.read_bytes() + b"!")
    with pytest.raises(VerificationFailed):
        tampered.verify(public_key)
    with pytest.raises(VerificationFailed, match="was made by key"):
        Verifier(sig).verify(PublicKey.parse(text("app.pub")))

    if shutil.which("minisign"):
        (tmp_path / "app.minisign.pub").write_bytes(
            base64.b64decode((tmp_path / "app.key.pub").read_text())
        )
        (tmp_path / "payload.minisig").write_bytes(
            base64.b64decode((tmp_path / f"{payload.name}.sig").read_text())
        )
        checked = subprocess.run(
            [
                "minisign",
                "-V",
                "-p",
                "app.minisign.pub",
                "-m",
                payload.name,
                "-x",
                "payload.minisig",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr
