"""An independent model of the Tauri v2 updater client, used by tests as the judge.

It answers one question: would the real ``tauri-plugin-updater`` accept what the server sent?
Two client generations are modelled:

* ``plugin="new"``: tauri-plugin-updater 2.13.x ("P-new", plugins-workspace
  ``plugins/updater/src/updater.rs``), with minisign-verify 0.3 and base64 0.22;
* ``plugin="2024"``: tauri-plugin-updater 2.0.x ("P-2024"), which has no bundle-specific
  platform keys, looks the platform up only when an update is needed and does not check the
  ``version:`` field of the signature.

Section numbers (§) refer to the project's Tauri updater protocol reference. Rust names
(``verify_signature``, ``get_urls``, ``Version::from_str``, ...) are the client's own functions
whose rules a Python function here follows. The model is written from those rules, not from the
server's code: it must never import ``ferryman``.

Known approximations: error messages follow the client's wording where the source gives it and
are close paraphrases elsewhere; URL host validation follows the WHATWG rules that ``url``
implements but uses Python's IDNA 2003 codec for non-ASCII host names; Ed25519 verification is
OpenSSL's (through ``cryptography``) plus minisign-verify's refusal of the identity key.
"""

from __future__ import annotations

import codecs
import encodings.idna
import hashlib
import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import total_ordering
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

Plugin = Literal["new", "2024"]
PLUGINS: tuple[str, ...] = ("new", "2024")

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class ClientError(Exception):
    """A failure the real client would report; ``kind`` names the client rule or error variant.

    Kinds used: ``Semver``, ``Base64``, ``SignatureUtf8``, ``Minisign``, ``SignedVersionMismatch``,
    ``MissingSignedVersion``, ``Serialization``, ``TargetNotFound``, ``TargetsNotFound``,
    ``EndpointSkipped``.
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class EndpointSkipped(ClientError):
    """A non-2xx answer: the client logs it and tries its next endpoint (§2.1).

    With no endpoint left and nothing parsed, ``check()`` then fails with ``ReleaseNotFound``.
    """

    def __init__(self, status: int) -> None:
        super().__init__(
            f"the endpoint answered {status}, so the client tries its next one; with none left: "
            "Could not fetch a valid release JSON from the remote",
            "EndpointSkipped",
        )
        self.status = status


# --------------------------------------------------------------------------------------------
# Rust string helpers
# --------------------------------------------------------------------------------------------


def rust_lines(text: str) -> list[str]:
    """Rust ``str::lines()``: split on ``\\n``; a ``\\r`` right before a ``\\n`` is dropped.

    No empty last line after a final ``\\n``; a bare ``\\r`` at the very end stays (Rust >= 1.77);
    U+2028, U+0085, form feeds and the like are NOT line breaks (unlike ``str.splitlines``).
    Lines are not trimmed.
    """
    pieces = text.split("\n")
    lines = [piece.removesuffix("\r") for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def _rust_char(char: str) -> str:
    """A char as Rust's ``{:?}`` prints it, quotes included (semver error messages)."""
    escapes = {"\0": "\\0", "\t": "\\t", "\n": "\\n", "\r": "\\r", "'": "\\'", "\\": "\\\\"}
    if char in escapes:
        return f"'{escapes[char]}'"
    if not char.isprintable():
        return f"'\\u{{{ord(char):x}}}'"
    return f"'{char}'"


# --------------------------------------------------------------------------------------------
# semver 1.x: Version::from_str and the derived Ord (§2.2, §2.5)
# --------------------------------------------------------------------------------------------

U64_MAX = 2**64 - 1
_MAJOR, _MINOR, _PATCH = "major version number", "minor version number", "patch version number"
_PRE, _BUILD = "pre-release identifier", "build metadata"


def _semver_error(message: str) -> ClientError:
    return ClientError(message, "Semver")


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _is_ident_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "-")


def _numeric_identifier(text: str, pos: str) -> tuple[int, str]:
    """semver ``numeric_identifier``: ASCII digits, no leading zero, at most ``u64::MAX``."""
    length = 0
    value = 0
    while length < len(text) and _is_digit(text[length]):
        if value == 0 and length > 0:
            raise _semver_error(f"invalid leading zero in {pos}")
        value = value * 10 + int(text[length])
        if value > U64_MAX:
            raise _semver_error(f"value of {pos} exceeds u64::MAX")
        length += 1
    if length:
        return value, text[length:]
    if text:
        raise _semver_error(f"unexpected character {_rust_char(text[0])} while parsing {pos}")
    raise _semver_error(f"unexpected end of input while parsing {pos}")


def _dot(text: str, pos: str) -> str:
    """semver ``dot``: the ``.`` after major and minor."""
    if text.startswith("."):
        return text[1:]
    if text:
        raise _semver_error(f"unexpected character {_rust_char(text[0])} after {pos}")
    raise _semver_error(f"unexpected end of input while parsing {pos}")


def _identifier(text: str, pos: str) -> tuple[str, str]:
    """semver ``identifier``: dot-separated ``[0-9A-Za-z-]+`` segments, no empty segment.

    Numeric pre-release segments may not have a leading zero; build segments may. Parsing
    stops at the first other character, which the caller then reports.
    """
    accumulated = 0
    segment = 0
    has_nondigit = False
    while True:
        index = accumulated + segment
        char = text[index] if index < len(text) else None
        if char is not None and _is_ident_char(char):
            segment += 1
            has_nondigit = has_nondigit or not _is_digit(char)
            continue
        if segment == 0:
            if accumulated == 0 and char != ".":
                return "", text
            raise _semver_error(f"empty identifier segment in {pos}")
        if pos == _PRE and segment > 1 and not has_nondigit and text[accumulated] == "0":
            raise _semver_error(f"invalid leading zero in {pos}")
        accumulated += segment
        if char != ".":
            return text[:accumulated], text[accumulated:]
        accumulated += 1
        segment = 0
        has_nondigit = False


def _cmp(left: Any, right: Any) -> int:
    return (left > right) - (left < right)


def _cmp_prerelease(left: str, right: str) -> int:
    """semver ``impl Ord for Prerelease``: a release (empty) sorts above any pre-release.

    Per identifier: all-digit ones compare numerically (by length, then text) and sort below
    the others; the others compare in ASCII order; a longer list wins a tie.
    """
    if left == right:
        return 0
    if not left or not right:
        return 1 if not left else -1
    return _cmp_parts(left.split("."), right.split("."), _cmp_pre_part)


def _cmp_pre_part(left: str, right: str) -> int:
    left_num, right_num = left.isascii() and left.isdigit(), right.isascii() and right.isdigit()
    if left_num and right_num:
        return _cmp(len(left), len(right)) or _cmp(left, right)
    if left_num != right_num:
        return -1 if left_num else 1
    return _cmp(left.encode(), right.encode())


def _cmp_build(left: str, right: str) -> int:
    """semver ``impl Ord for BuildMetadata``: empty is lowest; then per dot-separated part.

    Two all-digit parts compare by value, then the one with fewer leading zeros is smaller
    (``0 < 00 < 1 < 01 < 001 < 2 < 10``); all-digit sorts below the rest; the rest compare in
    ASCII order; more parts win a tie (§2.5).
    """
    if left == right:
        return 0
    if not left or not right:
        return -1 if not left else 1
    return _cmp_parts(left.split("."), right.split("."), _cmp_build_part)


def _cmp_build_part(left: str, right: str) -> int:
    left_num, right_num = left.isascii() and left.isdigit(), right.isascii() and right.isdigit()
    if left_num and right_num:
        left_value, right_value = left.lstrip("0"), right.lstrip("0")
        return (
            _cmp(len(left_value), len(right_value))
            or _cmp(left_value, right_value)
            or _cmp(len(left), len(right))
        )
    if left_num != right_num:
        return -1 if left_num else 1
    return _cmp(left.encode(), right.encode())


def _cmp_parts(left: list[str], right: list[str], part_cmp: Callable[[str, str], int]) -> int:
    for left_part, right_part in zip(left, right, strict=False):
        if result := part_cmp(left_part, right_part):
            return result
    return _cmp(len(left), len(right))


@total_ordering
@dataclass(frozen=True)
class RustVersion:
    """``semver::Version``: equality over all five fields, order as its derived ``Ord``.

    ``(major, minor, patch, pre, build)`` in that order, build metadata included (§2.5).
    """

    major: int
    minor: int
    patch: int
    pre: str = ""
    build: str = ""

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += f"-{self.pre}"
        if self.build:
            text += f"+{self.build}"
        return text

    def compare(self, other: RustVersion) -> int:
        """-1, 0 or 1, exactly as ``Ord::cmp``."""
        return (
            _cmp(
                (self.major, self.minor, self.patch),
                (other.major, other.minor, other.patch),
            )
            or _cmp_prerelease(self.pre, other.pre)
            or _cmp_build(self.build, other.build)
        )

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, RustVersion):
            return NotImplemented
        return self.compare(other) < 0


def parse_semver(text: str) -> RustVersion:
    """``semver::Version::from_str`` exactly, without any ``v`` stripping (semver ``parse.rs``)."""
    major, rest = _numeric_identifier(text, _MAJOR)
    rest = _dot(rest, _MAJOR)
    minor, rest = _numeric_identifier(rest, _MINOR)
    rest = _dot(rest, _MINOR)
    patch, rest = _numeric_identifier(rest, _PATCH)
    pos, pre, build = _PATCH, "", ""
    if rest.startswith("-"):
        pos = _PRE
        pre, rest = _identifier(rest[1:], _PRE)
        if not pre:
            raise _semver_error(f"empty identifier segment in {_PRE}")
    if rest.startswith("+"):
        pos = _BUILD
        build, rest = _identifier(rest[1:], _BUILD)
        if not build:
            raise _semver_error(f"empty identifier segment in {_BUILD}")
    if rest:
        raise _semver_error(f"unexpected character {_rust_char(rest[0])} after {pos}")
    return RustVersion(major, minor, patch, pre, build)


def parse_version(text: str) -> RustVersion:
    """The manifest's ``version``: ``Version::from_str(text.trim_start_matches('v'))``.

    P-new ``parse_version`` (the ``deserialize_with`` of ``RemoteRelease.version``); every
    leading lower-case ``v`` goes, so ``vv1.2.3`` passes and ``V1.2.3`` does not (§2.2).
    """
    return parse_semver(text.lstrip("v"))


# --------------------------------------------------------------------------------------------
# base64: the crate's STANDARD engine and minisign-verify's own decoder (§3.2)
# --------------------------------------------------------------------------------------------

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_SYMBOL = {symbol: value for value, symbol in enumerate(_ALPHABET)}


def _base64_error(message: str) -> ClientError:
    return ClientError(message, "Base64")


def _pack_symbols(symbols: bytes) -> tuple[bytes, int, int]:
    """Decode alphabet symbols; returns (bytes, leftover bit count, leftover bit value)."""
    out = bytearray()
    acc = 0
    acc_len = 0
    for symbol in symbols:
        acc = ((acc << 6) | _SYMBOL[symbol]) & 0xFFFF
        acc_len += 6
        if acc_len >= 8:
            acc_len -= 8
            out.append((acc >> acc_len) & 0xFF)
    return bytes(out), acc_len, acc & ((1 << acc_len) - 1)


def b64_standard(text: str) -> bytes:
    """base64 0.22 ``general_purpose::STANDARD.decode`` (``base64_to_string``'s first step).

    Only ``A-Za-z0-9+/`` and final ``=``; canonical padding required (length a multiple of 4,
    exactly the needed ``=``); the unused bits of the last symbol must be zero ("Invalid last
    symbol"); no whitespace or newline anywhere. The empty string decodes to no bytes.
    """
    raw = text.encode()
    for offset, byte in enumerate(raw):
        if byte not in _SYMBOL and byte != ord("="):
            raise _base64_error(f"Invalid symbol {byte}, offset {offset}.")
    data = raw.rstrip(b"=")
    if b"=" in data:
        raise _base64_error(f"Invalid symbol {ord('=')}, offset {data.index(b'=')}.")
    if len(data) % 4 == 1:
        raise _base64_error(f"Invalid input length: {len(raw)}")
    if len(raw) - len(data) != (-len(data)) % 4:
        raise _base64_error("Invalid padding")
    decoded, _, leftover = _pack_symbols(data)
    if leftover:
        raise _base64_error(f"Invalid last symbol {data[-1]}, offset {len(data) - 1}.")
    return decoded


def _minisign_error(kind: str = "InvalidEncoding") -> ClientError:
    messages = {
        "InvalidEncoding": "Invalid encoding in minisign data",
        "InvalidSignature": "The signature verification failed",
        "UnexpectedKeyId": "The signature was created with a different key than the one provided",
        "UnsupportedAlgorithm": "This signature algorithm is not supported by this implementation",
    }
    return ClientError(f"{messages[kind]} ({kind})", "Minisign")


def minisign_b64(text: str) -> bytes:
    """minisign-verify's own ``Base64::decode`` (``src/base64.rs``), used inside the key/sig text.

    Symbols are read up to the first byte outside the alphabet. A single leftover symbol (6
    bits) or non-zero leftover bits is an error. What follows must be exactly the ``=`` padding
    the symbol count needs and nothing else (no trailing space, no extra ``=``); without a
    stop byte, no padding may be needed. Errors are ``InvalidEncoding``.
    """
    raw = text.encode()
    stop = next((i for i, byte in enumerate(raw) if byte not in _SYMBOL), len(raw))
    decoded, leftover_len, leftover = _pack_symbols(raw[:stop])
    if leftover_len > 4 or leftover:
        raise _minisign_error()
    if raw[stop:] != b"=" * (leftover_len // 2):
        raise _minisign_error()
    return decoded


def base64_to_string(text: str) -> str:
    """P-new ``base64_to_string``: STANDARD decode, then strict UTF-8 (``SignatureUtf8``)."""
    decoded = b64_standard(text)
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise ClientError(
            f"The signature {text} could not be decoded, please check if it is a valid base64 "
            "string. The signature must be the contents of the `.sig` file generated by the "
            "Tauri bundler, as a string.",
            "SignatureUtf8",
        ) from None


# --------------------------------------------------------------------------------------------
# minisign-verify: keys, signatures, verification (§3.3, §3.4)
# --------------------------------------------------------------------------------------------

LEGACY, PREHASHED = b"Ed", b"ED"
TRUSTED_PREFIX = "trusted comment: "


@dataclass(frozen=True)
class PublicKey:
    """``minisign_verify::PublicKey``: algorithm tag, 8-byte key id, 32-byte Ed25519 key."""

    untrusted_comment: str
    algorithm: bytes
    key_id: bytes
    key: bytes


@dataclass(frozen=True)
class Signature:
    """``minisign_verify::Signature``; ``trusted_comment_line`` keeps the ``trusted comment: ``."""

    untrusted_comment: str
    algorithm: bytes
    key_id: bytes
    signature: bytes
    trusted_comment_line: str
    global_signature: bytes

    @property
    def trusted_comment(self) -> str:
        """``Signature::trusted_comment``: the line after its 17-byte prefix."""
        return self.trusted_comment_line[len(TRUSTED_PREFIX) :]

    @property
    def prehashed(self) -> bool:
        return self.algorithm == PREHASHED


def _line(lines: list[str], index: int) -> str:
    if index >= len(lines):
        raise _minisign_error()
    return lines[index]


def decode_public_key(text_b64: str) -> PublicKey:
    """``base64_to_string(pub_key)`` then ``PublicKey::decode`` (P-new ``verify_signature``).

    Line 1 is the untrusted comment (anything), line 2 must hold exactly 42 bytes in
    minisign base64: tag ``Ed`` or ``ED`` (else ``UnsupportedAlgorithm``), key id, key. Later
    lines are ignored.
    """
    lines = rust_lines(base64_to_string(text_b64))
    comment = _line(lines, 0)
    blob = minisign_b64(_line(lines, 1))
    if len(blob) != 42:
        raise _minisign_error()
    if blob[:2] not in (LEGACY, PREHASHED):
        raise _minisign_error("UnsupportedAlgorithm")
    return PublicKey(comment, blob[:2], blob[2:10], blob[10:])


def decode_signature(text_b64: str) -> Signature:
    """``base64_to_string(signature)`` then ``Signature::decode`` (minisign-verify 0.3 order).

    Line 2: 74 bytes (tag, key id, signature); line 3: the trusted comment, which must start
    with ``trusted comment: ``; line 4: 64 bytes (global signature); tag ``Ed`` (legacy) or
    ``ED`` (prehashed), else ``UnsupportedAlgorithm``. Lines come from ``str::lines()``, so
    CRLF works and a U+2028 stays inside its line; later lines are ignored.
    """
    lines = rust_lines(base64_to_string(text_b64))
    comment = _line(lines, 0)
    first = minisign_b64(_line(lines, 1))
    if len(first) != 74:
        raise _minisign_error()
    trusted = _line(lines, 2)
    second = minisign_b64(_line(lines, 3))
    if len(second) != 64:
        raise _minisign_error()
    if not trusted.startswith(TRUSTED_PREFIX):
        raise _minisign_error()
    if first[:2] not in (LEGACY, PREHASHED):
        raise _minisign_error("UnsupportedAlgorithm")
    return Signature(comment, first[:2], first[2:10], first[10:], trusted, second)


def _ed25519_verifies(key: bytes, signature: bytes, message: bytes) -> bool:
    """Ed25519 as minisign-verify's ``ed25519::verify``: S < L, never the all-zero/identity key."""
    if not any(key) or key == b"\x01" + bytes(31):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_minisign(data: bytes, signature: Signature, public_key: PublicKey) -> None:
    """``PublicKey::verify(data, &signature, true)`` (legacy allowed, as Tauri calls it).

    Key ids must match (``UnexpectedKeyId``); the signed message is BLAKE2b-512 of the data for
    ``ED`` and the data itself for ``Ed``; then the global signature over signature bytes +
    trusted comment (after the prefix) must verify. Either failure is ``InvalidSignature``.
    """
    if public_key.key_id != signature.key_id:
        raise _minisign_error("UnexpectedKeyId")
    message = hashlib.blake2b(data, digest_size=64).digest() if signature.prehashed else data
    if not _ed25519_verifies(public_key.key, signature.signature, message):
        raise _minisign_error("InvalidSignature")
    signed_comment = signature.signature + signature.trusted_comment.encode()
    if not _ed25519_verifies(public_key.key, signature.global_signature, signed_comment):
        raise _minisign_error("InvalidSignature")


def signed_version(trusted_comment: str) -> str | None:
    """P-new ``signed_version``: the first tab-separated field that starts with ``version:``."""
    for field in trusted_comment.split("\t"):
        if field.startswith("version:"):
            return field[len("version:") :]
    return None


def _try_semver(text: str) -> RustVersion | None:
    try:
        return parse_version(text)
    except ClientError:
        return None


def verify_signed_version(
    trusted_comment: str, announced_version: str, require_signed_version: bool = False
) -> None:
    """P-new ``verify_signed_version`` (§3.4 step 6; not in P-2024).

    No ``version:`` field: fine unless required (``MissingSignedVersion``). Otherwise both
    sides are compared as semver after ``trim_start_matches('v')`` (build metadata included)
    when both parse, else as literal strings; a difference is ``SignedVersionMismatch``.
    """
    signed = signed_version(trusted_comment)
    if signed is None:
        if require_signed_version:
            raise ClientError("the signature carries no signed version", "MissingSignedVersion")
        return
    signed_parsed, announced_parsed = _try_semver(signed), _try_semver(announced_version)
    if signed_parsed is not None and announced_parsed is not None:
        matches = signed_parsed == announced_parsed
    else:
        matches = signed == announced_version
    if not matches:
        raise ClientError(
            f"signed version {signed!r} does not match the announced version {announced_version!r}",
            "SignedVersionMismatch",
        )


def verify(
    data: bytes,
    signature_b64: str,
    pubkey_b64: str,
    announced_version: str,
    require_signed_version: bool = False,
) -> None:
    """P-new ``verify_signature``: decode the key, decode the signature, minisign-verify the
    data, and only then check the (now trusted) ``version:`` field against the announcement.
    """
    public_key = decode_public_key(pubkey_b64)
    signature = decode_signature(signature_b64)
    verify_minisign(data, signature, public_key)
    verify_signed_version(signature.trusted_comment, announced_version, require_signed_version)


# --------------------------------------------------------------------------------------------
# serde_json: the body as reqwest's json() reads it into a serde_json::Value (§2.1)
# --------------------------------------------------------------------------------------------

JSON_DEPTH_LIMIT = 128  # serde_json's recursion limit: 127 nested arrays/objects are the most


def _json_error(message: str) -> ClientError:
    return ClientError(message, "Serialization")


def _json_int(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value <= U64_MAX and math.isinf(_to_float(text)):
        raise ValueError("number out of range")
    return value


def _to_float(text: str) -> float:
    try:
        return float(text)
    except OverflowError:
        return math.inf


def _json_float(text: str) -> float:
    value = _to_float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def _json_constant(name: str) -> Any:
    raise ValueError(f"expected value (serde_json has no {name})")


def _json_depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _check_no_surrogates(value: Any) -> None:
    strings: list[str] = []
    if isinstance(value, str):
        strings = [value]
    elif isinstance(value, dict):
        strings = list(value)
        for item in value.values():
            _check_no_surrogates(item)
    elif isinstance(value, list):
        for item in value:
            _check_no_surrogates(item)
    for string in strings:
        if any(0xD800 <= ord(char) <= 0xDFFF for char in string):
            raise _json_error(
                "lone leading surrogate in hex escape (or: unexpected end of hex escape)"
            )


def parse_json_value(body: bytes) -> Any:
    """``serde_json::from_slice::<Value>`` as reqwest's ``Response::json`` calls it.

    Strict UTF-8 (no BOM, no other encodings); the JSON grammar only (no NaN/Infinity); numbers
    that overflow f64 are errors; strings with lone surrogate escapes are errors; at most 127
    nested arrays/objects; duplicate object keys are allowed and the last one wins. An empty
    body is "EOF while parsing a value".
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _json_error(f"invalid unicode code point ({error.reason})") from None
    if not text.strip(" \t\n\r"):
        raise _json_error("EOF while parsing a value")
    if _json_depth(text) >= JSON_DEPTH_LIMIT:
        raise _json_error("recursion limit exceeded")
    try:
        value = json.loads(
            text,
            parse_int=_json_int,
            parse_float=_json_float,
            parse_constant=_json_constant,
        )
    except (ValueError, RecursionError) as error:
        raise _json_error(str(error)) from None
    _check_no_surrogates(value)
    return value


def _unexpected(value: Any) -> str:
    """How serde names a JSON value in "invalid type: ..." messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f"string {json.dumps(value, ensure_ascii=False)}"
    return "sequence" if isinstance(value, list) else "map"


def _invalid_type(value: Any, expected: str) -> ClientError:
    return _json_error(f"invalid type: {_unexpected(value)}, expected {expected}")


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid_type(value, "a string")
    return value


def _optional_string(value: Any) -> str | None:
    return None if value is None else _string(value)


def _struct_fields(
    value: Any, name: str, fields: tuple[str, ...], aliases: dict[str, str]
) -> dict[str, Any]:
    """A serde-derived struct read from a ``Value``: a map, or a sequence of every field in order.

    Unknown keys are ignored; an alias and its field together are a duplicate field. The map
    is visited in key order (serde_json's ``Map`` is a ``BTreeMap``).
    """
    if isinstance(value, dict):
        found: dict[str, Any] = {}
        for key in sorted(value):
            field = aliases.get(key, key)
            if field not in fields:
                continue
            if field in found:
                raise _json_error(f"duplicate field `{field}`")
            found[field] = value[key]
        return found
    if isinstance(value, list):
        if len(value) < len(fields):
            raise _json_error(
                f"invalid length {len(value)}, expected struct {name} with {len(fields)} elements"
            )
        if len(value) > len(fields):
            raise _json_error(f"invalid length {len(value)}, expected fewer elements in array")
        return dict(zip(fields, value, strict=True))
    raise _invalid_type(value, f"struct {name}")


# --------------------------------------------------------------------------------------------
# time: OffsetDateTime::parse(.., &Rfc3339) (§2.4)
# --------------------------------------------------------------------------------------------


def _time_error(message: str) -> ClientError:
    return _json_error(f"invalid value for `pub_date`: {message}")


def _component(name: str) -> ClientError:
    return _time_error(f"the '{name}' component could not be parsed")


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + (3 if shifted_month < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


class _Cursor:
    """Reads the ASCII bytes of a date-time the way the ``time`` combinators do."""

    def __init__(self, text: str) -> None:
        self.data = text.encode()
        self.pos = 0

    def digits(self, count: int, name: str) -> int:
        chunk = self.data[self.pos : self.pos + count]
        if len(chunk) != count or not all(48 <= byte <= 57 for byte in chunk):
            raise _component(name)
        self.pos += count
        return int(chunk)

    def take(self, allowed: bytes) -> int | None:
        if self.pos < len(self.data) and self.data[self.pos] in allowed:
            self.pos += 1
            return self.data[self.pos - 1]
        return None

    def literal(self, char: bytes) -> None:
        if self.take(char) is None:
            raise _time_error("a character literal was not valid")

    def at_end(self) -> bool:
        return self.pos >= len(self.data)


def _offset_minutes(cursor: _Cursor) -> int:
    if cursor.take(b"Zz") is not None:
        return 0
    sign = cursor.take(b"+-")
    if sign is None:
        raise _component("offset hour")
    hours = cursor.digits(2, "offset hour")
    if hours > 23:
        raise _component("offset hour")
    cursor.literal(b":")
    minutes = cursor.digits(2, "offset minute")
    if minutes > 59:
        raise _time_error("offset minute must be in the range -59..=59")
    return -(hours * 60 + minutes) if sign == ord("-") else hours * 60 + minutes


def _subsecond_nanos(cursor: _Cursor) -> int:
    if cursor.take(b".") is None:
        return 0
    nanos = cursor.digits(1, "subsecond") * 100_000_000
    multiplier = 10_000_000
    while (digit := cursor.take(b"0123456789")) is not None:
        nanos += (digit - 48) * multiplier
        multiplier //= 10
    return nanos


def _check_ranges(year: int, month: int, day: int, hour: int, minute: int, second: int) -> None:
    if not 1 <= month <= 12:
        raise _time_error("month must be in the range 1..=12")
    if not 1 <= day <= _days_in_month(year, month):
        raise _time_error("day must be in the range 1..=31 given values of other parameters")
    if hour > 23 or minute > 59 or second > 59:
        raise _time_error("hour, minute or second out of range")


def _is_leap_second_stand_in(
    year: int, month: int, day: int, hour: int, minute: int, offset: int
) -> bool:
    """``OffsetDateTime::is_valid_leap_second_stand_in``: 23:59:59 UTC on a month's last day."""
    utc_minutes = _days_from_civil(year, month, day) * 1440 + hour * 60 + minute - offset
    utc_year, utc_month, utc_day = _civil_from_days(utc_minutes // 1440)
    return utc_minutes % 1440 == 23 * 60 + 59 and utc_day == _days_in_month(utc_year, utc_month)


def parse_rfc3339(text: str) -> tuple[int, int, int, int, int, int, int, int]:
    """``OffsetDateTime::parse(text, &Rfc3339)`` (time-rs ``parsable.rs``), as in ``RemoteRelease``.

    ``YYYY-MM-DD``, any one separator byte, ``HH:MM:SS``, optional ``.`` + 1 or more digits,
    then ``Z``/``z`` or ``±HH:MM`` (hour <= 23); nothing after. Second 60 only as a real leap
    second (23:59:60 UTC on the last day of a month). Returns (year, month, day, hour, minute,
    second, nanosecond, offset in minutes); errors read "invalid value for `pub_date`: ...".
    """
    cursor = _Cursor(text)
    year = cursor.digits(4, "year")
    cursor.literal(b"-")
    month = cursor.digits(2, "month")
    cursor.literal(b"-")
    day = cursor.digits(2, "day")
    if cursor.at_end():
        raise _component("separator")
    cursor.pos += 1
    hour = cursor.digits(2, "hour")
    cursor.literal(b":")
    minute = cursor.digits(2, "minute")
    cursor.literal(b":")
    second = cursor.digits(2, "second")
    nanos = _subsecond_nanos(cursor)
    offset = _offset_minutes(cursor)
    if not cursor.at_end():
        raise _time_error("unexpected trailing characters; the end of input was expected")
    leap = second == 60
    if leap:
        second, nanos = 59, 999_999_999
    _check_ranges(year, month, day, hour, minute, second)
    if leap and not _is_leap_second_stand_in(year, month, day, hour, minute, offset):
        raise _time_error("second must be in the range 0..=59 given values of other parameters")
    return year, month, day, hour, minute, second, nanos, offset


# --------------------------------------------------------------------------------------------
# url: Url::parse as the manifest's `url` members are deserialised (§2.2)
# --------------------------------------------------------------------------------------------

_SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "file"})
_FORBIDDEN_HOST = frozenset("\0\t\n\r #/:<>?@[\\]^|")
_FORBIDDEN_DOMAIN = _FORBIDDEN_HOST | frozenset(map(chr, range(0x20))) | {"%", "\x7f"}
_C0_OR_SPACE = "".join(map(chr, range(0x21)))


def _url_error(text: str, reason: str) -> ClientError:
    return _json_error(f"invalid value: string {json.dumps(text)}, expected {reason}")


def _percent_decode(text: str) -> str:
    out = bytearray()
    raw = text.encode()
    index = 0
    while index < len(raw):
        chunk = raw[index + 1 : index + 3]
        if raw[index] == ord("%") and re.fullmatch(rb"[0-9A-Fa-f]{2}", chunk):
            out.append(int(chunk, 16))
            index += 3
        else:
            out.append(raw[index])
            index += 1
    return out.decode("utf-8", errors="replace")


def _ipv4_number(part: str) -> int | None:
    """WHATWG "IPv4 number parser": decimal, 0x-hex or 0-octal; None when invalid."""
    if not part:
        return None
    radix = 10
    if part[:2].lower() == "0x":
        part, radix = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        part, radix = part[1:], 8
    if not part:
        return 0
    try:
        return int(part, radix) if part.isascii() and part.isalnum() else None
    except ValueError:
        return None


def _ends_in_number(domain: str) -> bool:
    parts = domain.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    last = parts[-1]
    return bool(last) and ((last.isascii() and last.isdigit()) or _ipv4_number(last) is not None)


def _check_ipv4(domain: str) -> bool:
    parts = domain.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    numbers = [_ipv4_number(part) for part in parts]
    if len(parts) > 4 or any(number is None for number in numbers):
        return False
    values = [number for number in numbers if number is not None]
    return all(value <= 255 for value in values[:-1]) and values[-1] < 256 ** (5 - len(values))


def _valid_a_label(label: str) -> bool:
    """An ``xn--`` label must decode to a valid non-ASCII label that encodes back to itself."""
    try:
        decoded = codecs.decode(label[4:].encode(), "punycode")
        return not decoded.isascii() and encodings.idna.ToASCII(decoded).decode() == label
    except (UnicodeError, ValueError):
        return False


def _domain_to_ascii(domain: str) -> str | None:
    """UTS #46 ToASCII, approximated: ASCII labels lower-cased (``xn--`` ones must be valid)."""
    labels = []
    for label in domain.split("."):
        if label.isascii():
            label = label.lower()
            if label.startswith("xn--") and not _valid_a_label(label):
                return None
            labels.append(label)
            continue
        try:
            labels.append(encodings.idna.ToASCII(label).decode())
        except UnicodeError:
            return None
    return ".".join(labels)


def _check_host(host: str, special: bool, text: str) -> None:
    """WHATWG host parser as ``url`` runs it: IPv6 in brackets, domains, IPv4, opaque hosts."""
    if host.startswith("["):
        inner = host[1:-1] if host.endswith("]") else None
        try:
            if inner is None or "%" in inner:
                raise ValueError(host)
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise _url_error(text, "invalid IPv6 address") from None
        return
    if not special:
        if any(char in _FORBIDDEN_HOST for char in host):
            raise _url_error(text, "invalid domain character")
        return
    domain = _domain_to_ascii(_percent_decode(host))
    if domain is None:
        raise _url_error(text, "invalid international domain name")
    if any(char in _FORBIDDEN_DOMAIN for char in domain):
        raise _url_error(text, "invalid domain character")
    if _ends_in_number(domain) and not _check_ipv4(domain):
        raise _url_error(text, "invalid IPv4 address")


def _split_host_port(hostport: str) -> tuple[str, str | None]:
    brackets = 0
    for index, char in enumerate(hostport):
        brackets += (char == "[") - (char == "]")
        if char == ":" and brackets == 0:
            return hostport[:index], hostport[index + 1 :]
    return hostport, None


def _check_authority(authority: str, special: bool, text: str) -> None:
    has_userinfo = "@" in authority
    hostport = authority.rpartition("@")[2]
    if has_userinfo and not hostport:
        raise _url_error(text, "empty host")
    host, port = _split_host_port(hostport)
    if not host and (special or port is not None):
        raise _url_error(text, "empty host")
    if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise _url_error(text, "invalid port number")
    if host:
        _check_host(host, special, text)


def parse_url(text: str) -> str:
    """``Url::parse`` (WHATWG URL, no base) as serde reads a ``url::Url``; returns ``text``.

    Leading/trailing C0 controls and spaces are dropped and tabs/newlines removed; a scheme
    ``[A-Za-z][A-Za-z0-9+.-]*:`` is required ("relative URL without a base"). Special schemes
    other than ``file`` need a valid non-empty host (any number of ``/`` or ``\\`` may precede
    it); ``scheme://`` authorities of other schemes are checked too; ports are 0-65535.
    """
    cleaned = re.sub("[\t\n\r]", "", text.strip(_C0_OR_SPACE))
    match = re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", cleaned)
    if match is None:
        raise _url_error(text, "relative URL without a base")
    scheme = match.group()[:-1].lower()
    rest = cleaned[match.end() :]
    if scheme == "file":
        return text
    if scheme in _SPECIAL_SCHEMES:
        authority = re.split(r"[/\\?#]", rest.lstrip("/\\"), maxsplit=1)[0]
        _check_authority(authority, True, text)
    elif rest.startswith("//"):
        authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
        _check_authority(authority, False, text)
    return text


# --------------------------------------------------------------------------------------------
# The check response: RemoteRelease (§2.2)
# --------------------------------------------------------------------------------------------

_RELEASE_FIELDS = ("version", "notes", "pub_date", "platforms", "url", "signature")
_PLATFORM_FIELDS = ("url", "signature")


@dataclass(frozen=True)
class ReleasePlatform:
    """``ReleaseManifestPlatform``: an absolute ``url`` and a ``signature`` string."""

    url: str
    signature: str


@dataclass(frozen=True)
class Manifest:
    """A parsed ``RemoteRelease``: static when ``platforms`` is set, dynamic otherwise."""

    version: RustVersion
    notes: str | None
    pub_date: str | None
    platforms: dict[str, ReleasePlatform] | None
    url: str | None
    signature: str | None
    raw: Any

    @property
    def is_static(self) -> bool:
        return self.platforms is not None


def _missing(field: str) -> ClientError:
    return _json_error(f"missing field `{field}`")


def _parse_platform(value: Any) -> ReleasePlatform:
    """``ReleaseManifestPlatform`` deserialize: both members required, url must be absolute."""
    fields = _struct_fields(value, "ReleaseManifestPlatform", _PLATFORM_FIELDS, {})
    url = parse_url(_string(fields["url"])) if "url" in fields else None
    signature = _string(fields["signature"]) if "signature" in fields else None
    if url is None:
        raise _missing("url")
    if signature is None:
        raise _missing("signature")
    return ReleasePlatform(url, signature)


def _parse_platforms(value: Any) -> dict[str, ReleasePlatform] | None:
    """``Option<HashMap<String, ReleaseManifestPlatform>>``: null is None; every entry counts."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid_type(value, "a map")
    return {key: _parse_platform(value[key]) for key in sorted(value)}


def _release_field(name: str, value: Any) -> Any:
    if name == "version":
        try:
            return parse_version(_string(value))
        except ClientError as error:
            raise _json_error(error.message) from None
    if name == "platforms":
        return _parse_platforms(value)
    if name == "url":
        return None if value is None else parse_url(_string(value))
    return _optional_string(value)


def parse_manifest(body: bytes) -> Manifest:
    """P-new ``impl Deserialize for RemoteRelease`` applied to ``serde_json::Value`` (§2.2).

    The JSON object (or, as serde allows, a 6-element array) is read field by field:
    ``version`` (alias ``name``; both present is a duplicate field) a string for
    ``parse_version``; ``notes`` and ``pub_date`` strings or null; ``platforms`` a map or null,
    every entry deserialised; ``url`` an absolute URL or null; ``signature`` a string or null.
    Then ``pub_date`` must parse as RFC 3339, and without ``platforms`` both ``url`` and
    ``signature`` are required. Unknown members are ignored.
    """
    raw = parse_json_value(body)
    fields = _struct_fields(raw, "InnerRemoteRelease", _RELEASE_FIELDS, {"name": "version"})
    values = {name: _release_field(name, value) for name, value in fields.items()}
    if "version" not in values:
        raise _missing("version")
    pub_date = values.get("pub_date")
    if pub_date is not None:
        parse_rfc3339(pub_date)
    platforms = values.get("platforms")
    url, signature = values.get("url"), values.get("signature")
    if platforms is None:
        if url is None:
            raise _json_error("the `url` field was not set on the updater response")
        if signature is None:
            raise _json_error("the `signature` field was not set on the updater response")
    return Manifest(
        values["version"], values.get("notes"), pub_date, platforms, url, signature, raw
    )


# --------------------------------------------------------------------------------------------
# Platform lookup, check and download (§2.1, §2.3, §3)
# --------------------------------------------------------------------------------------------

INSTALLERS = frozenset({"appimage", "deb", "rpm", "app", "msi", "nsis"})


def _check_plugin(plugin: str) -> None:
    if plugin not in PLUGINS:
        raise ValueError(f"plugin must be one of {PLUGINS}, not {plugin!r}")


def lookup_keys(os: str, arch: str, bundle: str | None, plugin: str = "new") -> list[str]:
    """The platform keys the client tries, in order (P-new ``get_urls``; P-2024 ``{os}-{arch}``).

    P-new adds ``{os}-{arch}-{bundle}`` first when the bundle is a known installer
    (``Installer::name``); ``unknown`` or no bundle means only ``{os}-{arch}``.
    """
    _check_plugin(plugin)
    keys = [f"{os}-{arch}"]
    if plugin == "new" and bundle in INSTALLERS:
        keys.insert(0, f"{os}-{arch}-{bundle}")
    return keys


def _rust_debug_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def _find_entry(
    manifest: Manifest, os: str, arch: str, bundle: str | None, plugin: str, target: str | None
) -> tuple[str | None, str, str]:
    """(platform key or None for dynamic, url, signature); raises the client's lookup error."""
    if manifest.platforms is None:
        assert manifest.url is not None
        assert manifest.signature is not None
        return None, manifest.url, manifest.signature
    keys = [target] if target is not None else lookup_keys(os, arch, bundle, plugin)
    for key in keys:
        if key in manifest.platforms:
            entry = manifest.platforms[key]
            return key, entry.url, entry.signature
    if target is not None or plugin == "2024":
        raise ClientError(
            f"the platform `{keys[0]}` was not found on the response `platforms` object",
            "TargetNotFound",
        )
    raise ClientError(
        f"None of the fallback platforms `{_rust_debug_list(keys)}` were found in the response "
        "`platforms` object",
        "TargetsNotFound",
    )


def lookup(
    manifest: Manifest,
    os: str,
    arch: str,
    bundle: str | None,
    plugin: str = "new",
    *,
    target: str | None = None,
) -> tuple[str, str]:
    """(url, signature) for the caller (§2.3): ``get_urls`` in P-new, the P-2024 lookup.

    Dynamic manifests need no lookup. A custom ``target`` is looked up alone
    (``TargetNotFound``). Otherwise P-new tries ``{os}-{arch}-{bundle}`` then ``{os}-{arch}``
    (``TargetsNotFound`` lists both) and P-2024 tries ``{os}-{arch}`` (``TargetNotFound``).
    """
    _check_plugin(plugin)
    _, url, signature = _find_entry(manifest, os, arch, bundle, plugin, target)
    return url, signature


@dataclass(frozen=True)
class Update:
    """The client's ``Update``: ``version`` is ``release.version.to_string()`` (no ``v``)."""

    version: str
    current_version: str
    url: str
    signature: str
    notes: str | None
    pub_date: str | None
    key: str | None
    plugin: str
    raw: Any


def check(
    status: int,
    body: bytes,
    current: str,
    os: str,
    arch: str,
    bundle: str | None = None,
    plugin: str = "new",
    *,
    target: str | None = None,
) -> Update | None:
    """One endpoint's answer as ``Updater::check`` treats it (§2.1, §2.3, §2.5).

    204: no update (body ignored). Other non-2xx: ``EndpointSkipped``. Other 2xx: the body
    must parse (``parse_manifest``). P-new then runs the platform lookup whatever the versions,
    P-2024 only when an update is needed. Update iff remote > current in Rust semver order.
    """
    _check_plugin(plugin)
    if status == 204:
        return None
    if not 200 <= status <= 299:
        raise EndpointSkipped(status)
    manifest = parse_manifest(body)
    current_version = parse_version(current)
    should_update = manifest.version > current_version
    if plugin == "2024" and not should_update:
        return None
    key, url, signature = _find_entry(manifest, os, arch, bundle, plugin, target)
    if not should_update:
        return None
    return Update(
        version=str(manifest.version),
        current_version=str(current_version),
        url=url,
        signature=signature,
        notes=manifest.notes,
        pub_date=manifest.pub_date,
        key=key,
        plugin=plugin,
        raw=manifest.raw,
    )


def download_and_verify(
    update: Update, data: bytes, pubkey_b64: str, require_signed_version: bool = False
) -> None:
    """``Update::download``'s final step: ``verify_signature`` over the downloaded bytes (§3.4).

    The announced version is the update's canonical version string. P-2024 has no
    signed-version check, so for it only the minisign verification runs.
    """
    if update.plugin == "2024":
        public_key = decode_public_key(pubkey_b64)
        verify_minisign(data, decode_signature(update.signature), public_key)
        return
    verify(data, update.signature, pubkey_b64, update.version, require_signed_version)
