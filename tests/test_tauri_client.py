"""The Tauri client model (tests/tauri_client.py) against known vectors and the client's rules.

Vectors come from the protocol reference (§ numbers), the minisign-verify unit tests and the
plugin's own signed-version tests; the rest are signed here with a throw-away key.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests import tauri_client as tc

# §5 item 6: generated with the Tauri CLI 2.12.5 (prehashed `ED`, trusted comment with version).
CLI_PAYLOAD = b"payload bytes\n"
CLI_PUBKEY = (
    "dW50cnVzdGVkIGNvbW1lbnQ6IG1pbmlzaWduIHB1YmxpYyBrZXk6IDVEMTRGODM5QkE1MkNCQjYKUldTMnkxSzZPZmdV"
    "WFlFQWxTTGxtdExjamhWeHBKak9kRmswd1RyNVpQOHNiblpEb1VuUzB5TnkK"
)
CLI_SIGNATURE = (
    "dW50cnVzdGVkIGNvbW1lbnQ6IHNpZ25hdHVyZSBmcm9tIHRhdXJpIHNlY3JldCBrZXkKUlVTMnkxSzZPZmdVWFR1akY2"
    "U1FsTVdadzJZS0Zub2JUZG9mUUZaSEYvWnVSa0psV0pWNkRhd1cxbEVQZ283OFhBenU2MzdaaWczdlhZSXpZY0JBNDZM"
    "QU52QXBQOXdoTFFNPQp0cnVzdGVkIGNvbW1lbnQ6IHRpbWVzdGFtcDoxNzk1Nzk5MzQ5CWZpbGU6TXlBcHBfMS4yLjNf"
    "YW1kNjQuQXBwSW1hZ2UJdmVyc2lvbjoxLjIuMwpIeExSKzE0c09td0xCUW1rc3UxZ3pMdzVIOC9DTWplL05Obm1TOGlv"
    "YVlSQnJxeDdsemF1bVl3am95bDAzQ0dTN3JoMTI5dTFld0NrVlJESXFpQk9EZz09Cg=="
)
CLI_COMMENT = "timestamp:1795799349\tfile:MyApp_1.2.3_amd64.AppImage\tversion:1.2.3"

# §5 item 3: minisign-verify's unit tests (message b"test"), wrapped in base64 the way Tauri
# stores keys and signatures.
MINISIGN_KEY = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"
MINISIGN_LEGACY = (
    "RWQf6LRCGA9i59SLOFxz6NxvASXDJeRtuZykwQepbDEGt87ig1BNpWaVWuNrm73YiIiJbq71Wi+dP9eKL8OC351vwIa"
    "sSSbXxwA=",
    "timestamp:1555779966\tfile:test",
    "QtKMXWyYcwdpZAlPF7tE2ENJkRd1ujvKjlj1m9RtHTBnZPa5WKU5uWRs5GoP5M/VqE81QFuMKI5k/SfNQUaOAA==",
)
MINISIGN_PREHASHED = (
    "RUQf6LRCGA9i559r3g7V1qNyJDApGip8MfqcadIgT9CuhV3EMhHoN1mGTkUidF/z7SrlQgXdy8ofjb7bNJJylDOocrC"
    "o8KLzZwo=",
    "timestamp:1556193335\tfile:test",
    "y/rUw2y8/hOUYjZU71eHp/Wo1KZ40fGy2VJEDl34XMJM+TX48Ss/17u3IvIfbVR1FkZZSNCisQbuQY+bHwhEBg==",
)

# §5 item 5: the plugin's own signed-version tests.
SIGNED_COMMENT = "timestamp:1700000000\tfile:app_1.2.3_x64.msi.zip\tversion:1.2.3"
UNVERSIONED_COMMENT = "timestamp:1700000000\tfile:app_1.2.3_x64.msi.zip"
TRICKY_COMMENT = "timestamp:1700000000\tfile:app-version:2.zip"

URL = "https://cdn.example.com/MyApp_1.1.0_amd64.AppImage"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def wrap(text: str) -> str:
    """Base64 of a key or signature text, as Tauri stores it."""
    return b64(text.encode())


def minisign_signature(parts: tuple[str, str, str]) -> str:
    line2, comment, line4 = parts
    return wrap(
        f"untrusted comment: signature from minisign secret key\n{line2}\n"
        f"trusted comment: {comment}\n{line4}\n"
    )


def minisign_pubkey() -> str:
    return wrap(f"untrusted comment: minisign public key E7620F1842B4E81F\n{MINISIGN_KEY}\n")


class Key:
    """A throw-away key that signs like ``tauri signer sign``, with knobs for odd encodings."""

    def __init__(self) -> None:
        self.secret = Ed25519PrivateKey.generate()
        self.key_id = secrets.token_bytes(8)
        raw = self.secret.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public = wrap(
            f"untrusted comment: minisign public key: {self.key_id[::-1].hex().upper()}\n"
            f"{b64(b'Ed' + self.key_id + raw)}\n"
        )

    def sign(
        self,
        data: bytes,
        comment: str,
        *,
        newline: str = "\n",
        tag: bytes = b"ED",
        line2_suffix: str = "",
    ) -> str:
        message = hashlib.blake2b(data, digest_size=64).digest() if tag == b"ED" else data
        signature = self.secret.sign(message)
        global_signature = self.secret.sign(signature + comment.encode())
        lines = [
            "untrusted comment: signature from tauri secret key",
            b64(tag + self.key_id + signature) + line2_suffix,
            f"trusted comment: {comment}",
            b64(global_signature),
        ]
        return wrap(newline.join(lines) + newline)


def body(**members: Any) -> bytes:
    return json.dumps(members).encode()


def dynamic(version: str = "1.1.0", **members: Any) -> bytes:
    return body(version=version, url=URL, signature="c2ln", **members)


def static(platforms: dict[str, Any], version: str = "1.1.0") -> bytes:
    return body(version=version, platforms=platforms)


def entry(name: str) -> dict[str, str]:
    return {"url": f"https://cdn.example.com/{name}", "signature": f"sig-{name}"}


def kind_of(error: pytest.ExceptionInfo[tc.ClientError]) -> str:
    return error.value.kind


# --- §5 item 5: the signed version ----------------------------------------------------------


@pytest.mark.parametrize("announced", ["1.2.3", "v1.2.3", "vv1.2.3"])
def test_signed_version_accepts_the_same_version(announced: str) -> None:
    tc.verify_signed_version(SIGNED_COMMENT, announced, require_signed_version=True)
    assert tc.signed_version(SIGNED_COMMENT) == "1.2.3"


@pytest.mark.parametrize("announced", ["9.9.9", "1.2.4", "1.2.3+1", "1.2.3-rc.1"])
def test_signed_version_rejects_another_version(announced: str) -> None:
    with pytest.raises(tc.ClientError) as error:
        tc.verify_signed_version(SIGNED_COMMENT, announced)
    assert kind_of(error) == "SignedVersionMismatch"


@pytest.mark.parametrize("comment", [UNVERSIONED_COMMENT, TRICKY_COMMENT])
def test_a_comment_without_version_passes_unless_required(comment: str) -> None:
    assert tc.signed_version(comment) is None
    tc.verify_signed_version(comment, "2", require_signed_version=False)
    with pytest.raises(tc.ClientError) as error:
        tc.verify_signed_version(comment, "2", require_signed_version=True)
    assert kind_of(error) == "MissingSignedVersion"


def test_signed_version_falls_back_to_literal_comparison() -> None:
    tc.verify_signed_version("version:1.2", "1.2")
    with pytest.raises(tc.ClientError, match="does not match"):
        tc.verify_signed_version("version:v1.2", "1.2")
    assert tc.signed_version("file:x\tversion:1\tversion:2") == "1"


# --- §5 items 3 and 6: real signatures ------------------------------------------------------


@pytest.mark.parametrize("announced", ["1.2.3", "v1.2.3"])
def test_the_cli_vector_verifies(announced: str) -> None:
    tc.verify(CLI_PAYLOAD, CLI_SIGNATURE, CLI_PUBKEY, announced, require_signed_version=True)
    signature = tc.decode_signature(CLI_SIGNATURE)
    assert signature.algorithm == b"ED"
    assert signature.trusted_comment == CLI_COMMENT
    assert tc.decode_public_key(CLI_PUBKEY).key_id[::-1].hex().upper() == "5D14F839BA52CBB6"


def test_the_cli_vector_fails_for_another_announced_version() -> None:
    with pytest.raises(tc.ClientError) as error:
        tc.verify(CLI_PAYLOAD, CLI_SIGNATURE, CLI_PUBKEY, "1.2.4")
    assert kind_of(error) == "SignedVersionMismatch"


@pytest.mark.parametrize("index", [0, 7, len(CLI_PAYLOAD) - 1])
def test_the_cli_vector_fails_with_a_flipped_payload_byte(index: int) -> None:
    data = bytearray(CLI_PAYLOAD)
    data[index] ^= 0x01
    with pytest.raises(tc.ClientError, match="InvalidSignature"):
        tc.verify(bytes(data), CLI_SIGNATURE, CLI_PUBKEY, "1.2.3")


def _cli_text_with(old: str, new: str) -> str:
    text = base64.b64decode(CLI_SIGNATURE).decode()
    assert old in text
    return wrap(text.replace(old, new))


def test_the_cli_vector_fails_with_a_flipped_signature_byte() -> None:
    line2 = base64.b64decode(CLI_SIGNATURE).decode().splitlines()[1]
    raw = bytearray(base64.b64decode(line2))
    raw[20] ^= 0x01
    with pytest.raises(tc.ClientError, match="InvalidSignature"):
        tc.verify(CLI_PAYLOAD, _cli_text_with(line2, b64(bytes(raw))), CLI_PUBKEY, "1.2.3")


def test_a_forged_version_breaks_the_global_signature() -> None:
    forged = _cli_text_with("version:1.2.3", "version:1.2.4")
    with pytest.raises(tc.ClientError, match="InvalidSignature"):
        tc.verify(CLI_PAYLOAD, forged, CLI_PUBKEY, "1.2.4")


def test_a_signature_by_another_key_is_an_unexpected_key_id() -> None:
    with pytest.raises(tc.ClientError, match="UnexpectedKeyId"):
        tc.verify(CLI_PAYLOAD, CLI_SIGNATURE, minisign_pubkey(), "1.2.3")


@pytest.mark.parametrize(
    ("parts", "algorithm"), [(MINISIGN_LEGACY, b"Ed"), (MINISIGN_PREHASHED, b"ED")]
)
def test_minisign_verify_vectors(parts: tuple[str, str, str], algorithm: bytes) -> None:
    signature = minisign_signature(parts)
    assert tc.decode_signature(signature).algorithm == algorithm
    tc.verify(b"test", signature, minisign_pubkey(), "0.1.0", require_signed_version=False)
    with pytest.raises(tc.ClientError, match="InvalidSignature"):
        tc.verify(b"Test", signature, minisign_pubkey(), "0.1.0")
    with pytest.raises(tc.ClientError) as error:
        tc.verify(b"test", signature, minisign_pubkey(), "0.1.0", require_signed_version=True)
    assert kind_of(error) == "MissingSignedVersion"


# --- decoding keys and signatures -----------------------------------------------------------


def test_crlf_line_endings_are_accepted() -> None:
    key = Key()
    signature = key.sign(b"data", "timestamp:1\tversion:1.0.0", newline="\r\n")
    assert "\r\n" in base64.b64decode(signature).decode()
    assert tc.decode_signature(signature).trusted_comment == "timestamp:1\tversion:1.0.0"
    tc.verify(b"data", signature, key.public, "1.0.0", require_signed_version=True)


def test_a_trailing_space_after_the_signature_line_is_refused() -> None:
    key = Key()
    signature = key.sign(b"data", "timestamp:1", line2_suffix=" ")
    with pytest.raises(tc.ClientError, match="InvalidEncoding"):
        tc.decode_signature(signature)


def test_u2028_inside_the_trusted_comment_is_not_a_line_break() -> None:
    key = Key()
    comment = "timestamp:1\tfile:a\u2028b.AppImage\tversion:1.0.0"
    signature = key.sign(b"data", comment)
    text = base64.b64decode(signature).decode()
    assert len(text.splitlines()) > len(tc.rust_lines(text)) == 4
    assert tc.decode_signature(signature).trusted_comment == comment
    tc.verify(b"data", signature, key.public, "1.0.0", require_signed_version=True)


def test_a_legacy_signature_made_here_verifies() -> None:
    key = Key()
    signature = key.sign(b"data", "timestamp:1\tversion:2.0.0", tag=b"Ed")
    assert not tc.decode_signature(signature).prehashed
    tc.verify(b"data", signature, key.public, "2.0.0")


def test_an_unknown_algorithm_tag_is_unsupported() -> None:
    key = Key()
    with pytest.raises(tc.ClientError, match="UnsupportedAlgorithm"):
        tc.decode_signature(key.sign(b"data", "timestamp:1", tag=b"Ex"))


def test_the_trusted_comment_needs_its_prefix() -> None:
    text = base64.b64decode(CLI_SIGNATURE).decode().replace("trusted comment: ", "trusted: ")
    with pytest.raises(tc.ClientError, match="InvalidEncoding"):
        tc.decode_signature(wrap(text))


@pytest.mark.parametrize(
    ("signature", "kind"),
    [
        (CLI_SIGNATURE + "\n", "Base64"),
        (" " + CLI_SIGNATURE, "Base64"),
        (CLI_SIGNATURE.rstrip("="), "Base64"),
        (b64(b"\xff\xfe not utf-8"), "SignatureUtf8"),
        (wrap("untrusted comment: only one line\n"), "Minisign"),
        ("https://example.com/app.sig", "Base64"),
    ],
)
def test_undecodable_signature_strings(signature: str, kind: str) -> None:
    with pytest.raises(tc.ClientError) as error:
        tc.verify(CLI_PAYLOAD, signature, CLI_PUBKEY, "1.2.3")
    assert kind_of(error) == kind


def test_public_key_lines_and_tags() -> None:
    text = base64.b64decode(CLI_PUBKEY).decode()
    line2 = text.splitlines()[1]
    assert tc.decode_public_key(wrap(text.rstrip("\n"))).key == tc.decode_public_key(CLI_PUBKEY).key
    prehashed_tag = b64(b"ED" + base64.b64decode(line2)[2:])
    assert tc.decode_public_key(wrap(f"c\n{prehashed_tag}\n")).algorithm == b"ED"
    with pytest.raises(tc.ClientError, match="InvalidEncoding"):
        tc.decode_public_key(wrap(f"c\n{line2} \n"))
    with pytest.raises(tc.ClientError, match="InvalidEncoding"):
        tc.decode_public_key(wrap(line2))


def test_rust_lines() -> None:
    assert tc.rust_lines("a\nb\r\nc") == ["a", "b", "c"]
    assert tc.rust_lines("a\n") == ["a"]
    assert tc.rust_lines("a\n\n") == ["a", ""]
    assert tc.rust_lines("") == []
    assert tc.rust_lines("a\rb\r\r\n") == ["a\rb\r"]
    assert tc.rust_lines("a\u2028b\x0cc\x85d") == ["a\u2028b\x0cc\x85d"]


# --- base64 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "decoded"), [("QQ==", b"A"), ("QUI=", b"AB"), ("", b"")])
def test_b64_standard_accepts_canonical_text(text: str, decoded: bytes) -> None:
    assert tc.b64_standard(text) == decoded


@pytest.mark.parametrize(
    "text", ["QR==", "QUJ=", "QQ", "QQ=", "QQ===", "Q===", "====", "QU JD", "QUJD\n", "QU\nJD"]
)
def test_b64_standard_refuses(text: str) -> None:
    with pytest.raises(tc.ClientError) as error:
        tc.b64_standard(text)
    assert kind_of(error) == "Base64"


def test_b64_standard_names_a_non_canonical_last_symbol() -> None:
    with pytest.raises(tc.ClientError, match="Invalid last symbol"):
        tc.b64_standard("QR==")


@pytest.mark.parametrize(("text", "decoded"), [("QQ==", b"A"), ("QUJD", b"ABC"), ("", b"")])
def test_minisign_b64_accepts(text: str, decoded: bytes) -> None:
    assert tc.minisign_b64(text) == decoded


@pytest.mark.parametrize("text", ["QR==", "QQ", "QQ=", "QQ===", "QQ== ", "QUJD=", "Q", "QU JD"])
def test_minisign_b64_refuses(text: str) -> None:
    with pytest.raises(tc.ClientError, match="InvalidEncoding"):
        tc.minisign_b64(text)


# --- versions (§2.2, §2.5) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("18446744073709551615.0.0", "18446744073709551615.0.0"),
        ("1.0.0+01", "1.0.0+01"),
        ("v1.2.3", "1.2.3"),
        ("vv1.2.3", "1.2.3"),
        ("0.0.0-0.a-b.0a+build.007.x-y", "0.0.0-0.a-b.0a+build.007.x-y"),
    ],
)
def test_version_parse_accepts(text: str, canonical: str) -> None:
    assert str(tc.parse_version(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("18446744073709551616.0.0", "value of major version number exceeds u64::MAX"),
        ("1.18446744073709551616.0", "value of minor version number exceeds u64::MAX"),
        ("01.0.0", "invalid leading zero in major version number"),
        ("1.0.00", "invalid leading zero in patch version number"),
        ("1.0.0-01", "invalid leading zero in pre-release identifier"),
        ("V1.2.3", "unexpected character 'V' while parsing major version number"),
        ("1.0.0-", "empty identifier segment in pre-release identifier"),
        ("1.0.0-a..b", "empty identifier segment in pre-release identifier"),
        ("1.0.0-a.", "empty identifier segment in pre-release identifier"),
        ("1.0.0+", "empty identifier segment in build metadata"),
        ("\u0661.\u0662.\u0663", "unexpected character '\u0661' while parsing major version"),
        ("1.2.3\n", "unexpected character '\\n' after patch version number"),
        ("1.2.3 ", "unexpected character ' ' after patch version number"),
        (" 1.2.3", "unexpected character ' ' while parsing major version number"),
        ("1.2", "unexpected end of input while parsing minor version number"),
        ("1.0.0-a_b", "unexpected character '_' after pre-release identifier"),
        ("1.0.0+a+b", "unexpected character '+' after build metadata"),
        ("", "unexpected end of input while parsing major version number"),
    ],
)
def test_version_parse_refuses(text: str, message: str) -> None:
    with pytest.raises(tc.ClientError) as error:
        tc.parse_version(text)
    assert kind_of(error) == "Semver"
    assert message in error.value.message


@pytest.mark.parametrize(
    "ascending",
    [
        ["1.0.0-beta.2", "1.0.0-beta.11", "1.0.0", "1.0.0+1", "1.0.0+2"],
        ["1.0.0+0", "1.0.0+00", "1.0.0+1", "1.0.0+01", "1.0.0+001", "1.0.0+2", "1.0.0+10"],
        ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-rc.1"],
        ["1.0.0+9", "1.0.0+a", "1.0.0+a.1", "1.0.0+b"],
        ["0.9.99", "1.0.0-rc.1+5", "1.0.0", "1.0.1", "1.10.0", "2.0.0", "18446744073709551615.0.0"],
    ],
)
def test_order_is_rust_semver_order(ascending: list[str]) -> None:
    versions = [tc.parse_version(text) for text in ascending]
    for lower, higher in itertools.pairwise(versions):
        assert lower < higher, (str(lower), str(higher))
        assert higher > lower
        assert lower != higher
    assert sorted(reversed(versions)) == versions


def test_build_metadata_counts_for_equality() -> None:
    assert tc.parse_version("1.0.0+1") != tc.parse_version("1.0.0")
    assert tc.parse_version("1.0.0+01") != tc.parse_version("1.0.0+1")
    assert tc.parse_version("v1.0.0+1") == tc.parse_version("1.0.0+1")


# --- pub_date (§2.4) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pub_date",
    [
        "2024-01-01T10:00:00Z",
        "2024-10-20T13:38:15.123Z",
        "2024-01-01T10:00:00+02:00",
        "2024-01-01t10:00:00z",
        "2024-01-01 10:00:00Z",
        "2024-01-01T10:00:00.123456789012-23:59",
        "2024-02-29T00:00:00Z",
        "2016-12-31T23:59:60Z",
        "2017-01-01T00:59:60+01:00",
        "0000-01-01T00:00:00Z",
        None,
    ],
)
def test_pub_date_accepted(pub_date: str | None) -> None:
    assert tc.parse_manifest(dynamic(pub_date=pub_date)).pub_date == pub_date


@pytest.mark.parametrize(
    "pub_date",
    [
        "2024-01-01",
        "2024-01-01T10:00:00",
        "2024-01-01T10:00:00+0000",
        "",
        "2024-01-01T10:00:00+24:00",
        "2024-01-01T10:00:00+02:60",
        "2024-01-01T10:00:00.Z",
        "2024-01-01T10:00:00Z ",
        "2023-02-29T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2016-12-31T22:59:60Z",
        "2016-12-30T23:59:60Z",
        "24-01-01T10:00:00Z",
    ],
)
def test_pub_date_refused(pub_date: str) -> None:
    with pytest.raises(tc.ClientError, match="invalid value for `pub_date`"):
        tc.parse_manifest(dynamic(pub_date=pub_date))


# --- the manifest (§2.1, §2.2) --------------------------------------------------------------


def test_dynamic_manifest() -> None:
    manifest = tc.parse_manifest(dynamic("v2.0.0", notes="n", extra={"anything": [1]}))
    assert not manifest.is_static
    assert (str(manifest.version), manifest.url, manifest.notes) == ("2.0.0", URL, "n")


def test_name_is_an_alias_of_version() -> None:
    assert str(tc.parse_manifest(body(name="v2.0.1", url=URL, signature="s")).version) == "2.0.1"
    with pytest.raises(tc.ClientError, match="duplicate field `version`"):
        tc.parse_manifest(body(name="1.0.0", version="1.0.0", url=URL, signature="s"))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "EOF while parsing a value"),
        (b"  \n", "EOF while parsing a value"),
        (b"null", "invalid type: null"),
        (body(version=1, url=URL, signature="s"), "invalid type: integer `1`, expected a string"),
        (body(version="1.0", url=URL, signature="s"), "unexpected end of input"),
        (body(url=URL, signature="s"), "missing field `version`"),
        (body(version="1.0.0", signature="s"), "the `url` field was not set"),
        (body(version="1.0.0", url=URL), "the `signature` field was not set"),
        (body(version="1.0.0", platforms=None, signature="s"), "the `url` field was not set"),
        (body(version="1.0.0", url=URL, signature=None), "the `signature` field was not set"),
        (body(version="1.0.0", url=URL, signature=7), "invalid type: integer `7`"),
        (body(version="1.0.0", url=URL, signature="s", notes=1), "invalid type"),
        (body(version="1.0.0", platforms=[]), "invalid type: sequence, expected a map"),
        (dynamic(pub_date=5), "invalid type: integer `5`"),
    ],
)
def test_manifest_refused(payload: bytes, message: str) -> None:
    with pytest.raises(tc.ClientError) as error:
        tc.parse_manifest(payload)
    assert kind_of(error) == "Serialization"
    assert message in error.value.message


def test_static_manifest_with_one_broken_entry_is_refused_as_a_whole() -> None:
    broken = {"url": "https://cdn.example.com/x.msi"}
    platforms = {"linux-x86_64": entry("a.AppImage"), "windows-x86_64": broken}
    with pytest.raises(tc.ClientError, match="missing field `signature`"):
        tc.parse_manifest(static(platforms))
    assert tc.parse_manifest(static({"linux-x86_64": entry("a.AppImage")})).is_static


@pytest.mark.parametrize("url", ["", "/download/app.AppImage", "cdn.example.com/app.AppImage"])
def test_relative_urls_are_refused(url: str) -> None:
    platforms = {"linux-x86_64": {"url": url, "signature": "s"}}
    with pytest.raises(tc.ClientError, match="relative URL without a base"):
        tc.parse_manifest(static(platforms))
    with pytest.raises(tc.ClientError, match="relative URL without a base"):
        tc.parse_manifest(body(version="1.0.0", url=url, signature="s"))


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/a b.tar.gz?x=1#f",
        "https:cdn.example.com/a",
        "http://127.0.0.1:8080/a",
        "https://[::1]:443/a",
        "  https://cdn.example.com/a\n",
        "https://user:pw@cdn.example.com/a",
        "https://xn--bcher-kva.example/a",
        "s3:bucket/key",
        "file:///tmp/a",
    ],
)
def test_absolute_urls_are_accepted(url: str) -> None:
    assert tc.parse_manifest(body(version="1.0.0", url=url, signature="s")).url == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://", "empty host"),
        ("https://user@/a", "empty host"),
        ("https://exa mple.com/a", "invalid domain character"),
        ("https://example.com:99999/a", "invalid port number"),
        ("https://example.com:8o/a", "invalid port number"),
        ("https://1.2.3.256/a", "invalid IPv4 address"),
        ("https://[::1/a", "invalid IPv6 address"),
        ("https://xn--a/a", "invalid international domain name"),
    ],
)
def test_broken_absolute_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(tc.ClientError, match=message):
        tc.parse_manifest(body(version="1.0.0", url=url, signature="s"))


@pytest.mark.parametrize(
    "payload",
    [
        b'{"version": "1.0.0", "url": "https://a.example/x", "signature": "s", "notes": "\\ud800"}',
        b'{"version": "1.0.0", "url": "https://a.example/x", "signature": "s", "\\udc00": 1}',
        b'{"version": "1.0.0", "url": "https://a.example/x", "signature": "s", "x": NaN}',
        b'{"version": "1.0.0", "url": "https://a.example/x", "signature": "s", "x": 1e999}',
        b'{"version": "1.0.0", "url": "https://a.example/x", "signature": "s\xff"}',
        b'\xef\xbb\xbf{"version": "1.0.0", "url": "https://a.example/x", "signature": "s"}',
        b'{"version": "1.0.0", "url": "https://a.example/x", "signature": "s"} x',
        b'{"version": "1.0.0", "url": "https://a.example/x", "signature": "s",}',
    ],
)
def test_json_serde_refuses(payload: bytes) -> None:
    with pytest.raises(tc.ClientError) as error:
        tc.parse_manifest(payload)
    assert kind_of(error) == "Serialization"


def test_json_details_serde_accepts() -> None:
    paired = b'{"version": "1.0.0", "url": "https://a.example/x", "signature": "s", '
    manifest = tc.parse_manifest(paired + b'"notes": "\\ud83d\\ude80"}')
    assert manifest.notes == "\U0001f680"
    last_wins = b'{"version": "9.0.0", "version": "1.0.0", "url": "https://a.example/x", '
    assert str(tc.parse_manifest(last_wins + b'"signature": "s"}').version) == "1.0.0"
    as_array = json.dumps(["1.0.0", None, None, None, URL, "s"]).encode()
    assert tc.parse_manifest(as_array).url == URL


@pytest.mark.parametrize(("depth", "accepted"), [(127, True), (128, False)])
def test_json_nesting_limit(depth: int, accepted: bool) -> None:
    nested = "[" * (depth - 1) + "]" * (depth - 1)
    payload = f'{{"version": "1.0.0", "url": "{URL}", "signature": "s", "x": {nested}}}'
    if accepted:
        assert tc.parse_manifest(payload.encode()).version == tc.parse_version("1.0.0")
    else:
        with pytest.raises(tc.ClientError, match="recursion limit"):
            tc.parse_manifest(payload.encode())


# --- platform lookup (§2.3) -----------------------------------------------------------------


BOTH = {"linux-x86_64-deb": entry("a.deb"), "linux-x86_64": entry("a.AppImage")}
DEB_ONLY = {"linux-x86_64-deb": entry("a.deb")}


@pytest.mark.parametrize(
    ("bundle", "plugin", "expected"),
    [
        ("deb", "new", "a.deb"),
        ("appimage", "new", "a.AppImage"),
        ("unknown", "new", "a.AppImage"),
        (None, "new", "a.AppImage"),
        ("deb", "2024", "a.AppImage"),
    ],
)
def test_lookup_order(bundle: str | None, plugin: str, expected: str) -> None:
    manifest = tc.parse_manifest(static(BOTH))
    url, signature = tc.lookup(manifest, "linux", "x86_64", bundle, plugin)
    assert (url, signature) == (f"https://cdn.example.com/{expected}", f"sig-{expected}")


def test_lookup_failures_name_the_keys_tried() -> None:
    manifest = tc.parse_manifest(static(DEB_ONLY))
    assert tc.lookup(manifest, "linux", "x86_64", "deb")[0].endswith("a.deb")
    with pytest.raises(tc.ClientError) as new:
        tc.lookup(manifest, "linux", "x86_64", "appimage", "new")
    assert kind_of(new) == "TargetsNotFound"
    assert new.value.message == (
        'None of the fallback platforms `["linux-x86_64-appimage", "linux-x86_64"]` were found '
        "in the response `platforms` object"
    )
    with pytest.raises(tc.ClientError) as old:
        tc.lookup(manifest, "linux", "x86_64", "deb", "2024")
    assert kind_of(old) == "TargetNotFound"
    assert old.value.message == (
        "the platform `linux-x86_64` was not found on the response `platforms` object"
    )


def test_lookup_with_a_custom_target_or_a_dynamic_manifest() -> None:
    manifest = tc.parse_manifest(static(BOTH))
    assert tc.lookup(manifest, "linux", "x86_64", None, target="linux-x86_64-deb")[1] == (
        "sig-a.deb"
    )
    with pytest.raises(tc.ClientError, match="`darwin-universal` was not found"):
        tc.lookup(manifest, "linux", "x86_64", "deb", target="darwin-universal")
    assert tc.lookup(tc.parse_manifest(dynamic()), "darwin", "aarch64", "app") == (URL, "c2ln")


# --- check() and download (§2.1, §2.3, §2.5, §3.4) ------------------------------------------


@pytest.mark.parametrize("plugin", ["new", "2024"])
def test_204_is_no_update_and_other_failures_skip_the_endpoint(plugin: str) -> None:
    assert tc.check(204, b"not json", "1.0.0", "linux", "x86_64", plugin=plugin) is None
    for status in (304, 404, 500):
        with pytest.raises(tc.EndpointSkipped) as error:
            tc.check(status, dynamic(), "1.0.0", "linux", "x86_64", plugin=plugin)
        assert error.value.status == status
    with pytest.raises(tc.ClientError, match="EOF while parsing"):
        tc.check(200, b"", "1.0.0", "linux", "x86_64", plugin=plugin)


def test_an_up_to_date_caller_still_needs_its_key_with_the_new_plugin() -> None:
    payload = static({"windows-x86_64": entry("a.msi")}, version="1.0.0")
    with pytest.raises(tc.ClientError) as error:
        tc.check(200, payload, "1.0.0", "linux", "x86_64", "deb", "new")
    assert kind_of(error) == "TargetsNotFound"
    assert tc.check(200, payload, "1.0.0", "linux", "x86_64", "deb", "2024") is None
    with pytest.raises(tc.ClientError, match="TargetNotFound"):
        tc.check(200, payload, "0.9.0", "linux", "x86_64", "deb", "2024")


def test_an_update_carries_the_canonical_version_and_the_key_used() -> None:
    payload = body(version="v1.1.0", notes="n", pub_date="2024-01-01T00:00:00Z", platforms=BOTH)
    update = tc.check(200, payload, "1.0.0", "linux", "x86_64", "deb")
    assert update is not None
    assert (update.version, update.key, update.notes) == ("1.1.0", "linux-x86_64-deb", "n")
    assert update.url.endswith("a.deb")
    assert update.pub_date == "2024-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("current", "remote", "updates"),
    [
        ("1.0.0", "1.0.1", True),
        ("1.0.0+1", "1.0.0+2", True),
        ("1.0.0", "1.0.0+1", True),
        ("1.0.0+2", "1.0.0+1", False),
        ("1.0.0+1", "v1.0.0+1", False),
        ("1.0.0", "1.0.0-rc.1", False),
        ("1.0.0-beta.2", "1.0.0-beta.11", True),
    ],
)
def test_update_iff_remote_is_greater(current: str, remote: str, updates: bool) -> None:
    for plugin in tc.PLUGINS:
        update = tc.check(200, dynamic(remote), current, "linux", "x86_64", plugin=plugin)
        assert (update is not None) == updates


def test_download_checks_the_signed_version_only_with_the_new_plugin() -> None:
    key = Key()
    data = b"installer bytes"
    signed = key.sign(data, "timestamp:1\tfile:a.AppImage\tversion:1.1.0")
    payload = body(version="v1.1.0", url=URL, signature=signed)
    update = tc.check(200, payload, "1.0.0", "linux", "x86_64", "appimage")
    assert update is not None
    tc.download_and_verify(update, data, key.public, require_signed_version=True)
    with pytest.raises(tc.ClientError, match="InvalidSignature"):
        tc.download_and_verify(update, data + b"!", key.public)

    stale = body(version="1.2.0", url=URL, signature=signed)
    new_update = tc.check(200, stale, "1.0.0", "linux", "x86_64", "appimage", "new")
    old_update = tc.check(200, stale, "1.0.0", "linux", "x86_64", "appimage", "2024")
    assert new_update is not None
    assert old_update is not None
    with pytest.raises(tc.ClientError) as error:
        tc.download_and_verify(new_update, data, key.public)
    assert kind_of(error) == "SignedVersionMismatch"
    tc.download_and_verify(old_update, data, key.public)


def test_download_requires_a_signed_version_when_configured() -> None:
    key = Key()
    data = b"installer bytes"
    payload = body(version="1.1.0", url=URL, signature=key.sign(data, "timestamp:1\tfile:a"))
    update = tc.check(200, payload, "1.0.0", "linux", "x86_64")
    assert update is not None
    tc.download_and_verify(update, data, key.public)
    with pytest.raises(tc.ClientError) as error:
        tc.download_and_verify(update, data, key.public, require_signed_version=True)
    assert kind_of(error) == "MissingSignedVersion"
