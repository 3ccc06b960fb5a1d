"""Tauri updater signatures: parse keys and ``.sig`` files, and verify them as the client does.

A Tauri public key is base64 of a minisign public-key file; a signature is base64 of a
minisign signature file. The client refuses an update whose signature does not verify
against the key built into the app, so Ferryman checks the same thing at upload time:
a bad signature is caught by the person uploading it, not by every installed app.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import string

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ferryman.metrics import VERIFICATIONS
from ferryman.models.errors import InvalidInput

_PREHASHED = b"ED"
_LEGACY = b"Ed"
_TRUSTED_PREFIX = "trusted comment: "
_SECRET_KEY_LENGTH = 158
_MAX_TEXT = 4_096
_ALPHABET = frozenset(string.ascii_letters + string.digits + "+/")
# A legacy signature signs the raw file, which must then be held whole until the end.
LEGACY_MAX_BYTES = 16 * 1024 * 1024


class VerificationFailed(Exception):
    """The file does not verify; the message says why in words a person can act on."""


@dataclasses.dataclass(frozen=True, slots=True)
class PublicKey:
    """An app's updater public key."""

    key_id: bytes
    key: bytes

    @property
    def key_id_hex(self) -> str:
        return key_id_hex(self.key_id)

    @classmethod
    def parse(cls, text: str, field: tuple[str, ...] = ("publicKey",)) -> PublicKey:
        """Parse the content of the ``.pub`` file ``tauri signer generate`` wrote."""
        lines = _decoded_lines(text, field, what="public key", file=".pub")
        if _is_secret_key(lines):
            raise InvalidInput(
                "this is a private key: never share it; paste the content of the .pub file instead",
                field,
            )
        blob = _line_bytes(lines, 1, field, "public key")
        if len(blob) != 42 or blob[:2] not in (_PREHASHED, _LEGACY):
            raise InvalidInput(
                "this is not a minisign public key: paste the content of the .pub file that "
                "`tauri signer generate` wrote (it starts with dW50cnVzdGVkIGNvbW1lbnQ6)",
                field,
            )
        return cls(key_id=blob[2:10], key=blob[10:])


@dataclasses.dataclass(frozen=True, slots=True)
class Signature:
    """A parsed ``.sig``: what was signed with which key, and the signed comment."""

    text: str
    prehashed: bool
    key_id: bytes
    signature: bytes
    trusted_comment: str
    global_signature: bytes

    @property
    def key_id_hex(self) -> str:
        return key_id_hex(self.key_id)

    def field(self, name: str) -> str | None:
        """The first tab-separated ``name:value`` field of the trusted comment, read as the
        updater reads ``version:`` (so ``file:app-version:2.zip`` is no version)."""
        prefix = f"{name}:"
        return next(
            (
                part[len(prefix) :]
                for part in self.trusted_comment.split("\t")
                if part.startswith(prefix)
            ),
            None,
        )

    @property
    def version(self) -> str | None:
        return self.field("version")

    @property
    def file(self) -> str | None:
        return self.field("file")

    @classmethod
    def parse(cls, text: str, field: tuple[str, ...] = ("signature",)) -> Signature:
        """Parse the content of a ``.sig`` file, refusing the usual things pasted by mistake."""
        stripped = text.strip()
        if re.match(r"https?://", stripped):
            raise InvalidInput(
                "signature is a URL: paste the content of the .sig file, not its address", field
            )
        lines = _decoded_lines(stripped, field, what="signature", file=".sig")
        if _is_secret_key(lines):
            raise InvalidInput(
                "this is a private key, not a signature: revoke it if it was shared, and paste "
                "the content of the .sig file instead",
                field,
            )
        if len(lines) < 4 or not lines[2].startswith(_TRUSTED_PREFIX):
            raise InvalidInput(
                "this is not a minisign signature: paste the content of the .sig file that "
                "`tauri signer sign` or `tauri build` wrote",
                field,
            )
        blob = _line_bytes(lines, 1, field, "signature")
        global_signature = _line_bytes(lines, 3, field, "signature")
        if len(blob) != 74 or blob[:2] not in (_PREHASHED, _LEGACY) or len(global_signature) != 64:
            raise InvalidInput(
                "this signature is not in a format the Tauri updater accepts (an Ed25519 "
                "minisign signature)",
                field,
            )
        return cls(
            text=stripped,
            prehashed=blob[:2] == _PREHASHED,
            key_id=blob[2:10],
            signature=blob[10:],
            trusted_comment=lines[2][len(_TRUSTED_PREFIX) :],
            global_signature=global_signature,
        )


class Verifier:
    """Checks a file against a signature while it streams past, chunk by chunk.

    Prehashed signatures (what every current Tauri CLI writes) need only a running
    BLAKE2b-512. Legacy ones (``Ed``, Tauri 2020-21) sign the raw bytes, so the file is
    kept until the end, but only up to :data:`LEGACY_MAX_BYTES`: past that the bytes are
    dropped and the file is refused, so memory stays flat whatever is sent. Both limits
    that need no bytes at all (:meth:`key_failure`, :meth:`size_failure`) can be asked
    before reading.
    """

    def __init__(self, signature: Signature) -> None:
        self.signature = signature
        self._hash = hashlib.blake2b(digest_size=64)
        self._raw: bytearray | None = None if signature.prehashed else bytearray()
        self._size = 0

    @classmethod
    def for_upload(cls, text: str) -> Verifier:
        """A verifier for the signature an uploader pasted (InvalidInput when it is none)."""
        return cls(Signature.parse(text, ("input", "signature")))

    @property
    def signed_version(self) -> str | None:
        return self.signature.version

    @property
    def signed_file(self) -> str | None:
        return self.signature.file

    @property
    def key_id(self) -> str:
        return self.signature.key_id_hex

    def update(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self.signature.prehashed:
            self._hash.update(chunk)
        elif self._raw is not None:
            if self._size > LEGACY_MAX_BYTES:
                self._raw = None  # refused at the end: nothing more is kept
            else:
                self._raw.extend(chunk)

    def key_failure(self, public_key: str) -> str | None:
        """Why no file can verify against the app's key text (it is not a key, or the
        signature was made by another), or None; needs no bytes."""
        try:
            self._check_key(PublicKey.parse(public_key))
        except (VerificationFailed, InvalidInput) as error:
            VERIFICATIONS.labels("failed").inc()
            return str(error)
        return None

    def size_failure(self, size: int) -> str | None:
        """Why a file of ``size`` bytes cannot be verified against this signature, or None."""
        if self.signature.prehashed or size <= LEGACY_MAX_BYTES:
            return None
        VERIFICATIONS.labels("failed").inc()
        return _legacy_too_large(size)

    def verify(self, public_key: PublicKey) -> None:
        """Raise VerificationFailed unless the Tauri client would accept this file."""
        self._check_key(public_key)
        if not self.signature.prehashed and self._raw is None:
            raise VerificationFailed(_legacy_too_large(self._size))
        key = Ed25519PublicKey.from_public_bytes(public_key.key)
        message = self._hash.digest() if self._raw is None else self._raw
        try:
            key.verify(self.signature.signature, message)
        except InvalidSignature:
            raise VerificationFailed(
                "the file does not match its signature: it changed after signing, or the "
                "signature belongs to another build"
            ) from None
        try:
            key.verify(
                self.signature.global_signature,
                self.signature.signature + self.signature.trusted_comment.encode(),
            )
        except InvalidSignature:
            raise VerificationFailed(
                "the signature's trusted comment was altered after signing"
            ) from None

    def failure(self, public_key: str) -> str | None:
        """None when the bytes verify against the app's key text, else why not."""
        try:
            self.verify(PublicKey.parse(public_key))
        except (VerificationFailed, InvalidInput) as error:
            VERIFICATIONS.labels("failed").inc()
            return str(error)
        VERIFICATIONS.labels("verified").inc()
        return None

    def _check_key(self, public_key: PublicKey) -> None:
        if self.signature.key_id != public_key.key_id:
            raise VerificationFailed(
                f"signature was made by key {self.signature.key_id_hex} but the app's key is "
                f"{public_key.key_id_hex}: sign with the private key that matches the app's "
                "public key"
            )


def _legacy_too_large(size: int) -> str:
    return (
        f"this is a legacy signature (Tauri 2020-21: Ed25519 over the whole file, not its "
        f"hash), which Ferryman checks only on files up to {LEGACY_MAX_BYTES // 2**20} MiB, "
        f"and the file is {size} bytes: re-sign it with a current Tauri CLI "
        "(`tauri signer sign`, or `tauri build` with TAURI_SIGNING_PRIVATE_KEY set)"
    )


def key_id_hex(key_id: bytes) -> str:
    """Key ids as minisign and Tauri print them: upper-case hex, bytes reversed."""
    return key_id[::-1].hex().upper()


def _decoded_lines(text: str, field: tuple[str, ...], *, what: str, file: str) -> list[str]:
    stripped = text.strip()
    if len(stripped) > _MAX_TEXT:
        raise InvalidInput(f"{what} is longer than {_MAX_TEXT} characters", field)
    if not stripped:
        raise InvalidInput(f"{what} is empty: paste the content of the {file} file", field)
    defect = _base64_defect(stripped)
    if defect is not None:
        hint = " (it looks like a file path)" if "/" in stripped or stripped.endswith(file) else ""
        raise InvalidInput(
            f"{what} is not base64 the updater can decode{hint}: {defect}; paste the content "
            f"of the {file} file, one line without spaces",
            field,
        )
    raw = base64.b64decode(stripped)
    if len(raw) == 42 and raw[:2] == _LEGACY:
        raise InvalidInput(
            f"this is a bare minisign key line; Tauri expects the whole {file} file as "
            "`tauri signer generate` writes it (base64, starting with dW50cnVzdGVkIGNvbW1lbnQ6)",
            field,
        )
    try:
        return _lines(raw.decode())
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{what} decodes to binary data, not to a minisign file: paste the content of the "
            f"{file} file",
            field,
        ) from None


def _lines(text: str) -> list[str]:
    """Split as Rust's ``str::lines`` does, which minisign-verify uses: only at ``\n``
    (dropping one ``\r`` before it), never at U+2028 or the other breaks Python knows."""
    parts = text.split("\n")
    last = parts.pop()
    lines = [part.removesuffix("\r") for part in parts]
    if last:
        lines.append(last)
    return lines


def _base64_defect(text: str) -> str | None:
    """Why the client's base64 decoder refuses ``text``, or None when it accepts it.

    Both the updater (the Rust ``base64`` crate's STANDARD engine) and minisign-verify
    accept only the canonical form: the standard alphabet, ``=`` padding to a multiple of
    four, nothing else, and zero bits after the last byte. Python's decoder is laxer.
    """
    if not text:
        return "it is empty"
    body = text.rstrip("=")
    odd = next((ch for ch in body if ch not in _ALPHABET), None)
    if odd is not None:
        return f"it contains {odd!r}, which is not a base64 character"
    if len(text) % 4 or len(text) - len(body) > 2:
        return "it is not padded with '=' to a multiple of four characters"
    try:
        decoded = base64.b64decode(text, validate=True)
    except ValueError:
        return "its '=' padding does not match its length"
    canonical = base64.b64encode(decoded).decode()
    if canonical != text:
        position = len(body) - 1
        return (
            f"its last symbol {text[position]!r} carries bits beyond the data (non-canonical "
            f"base64; the canonical form ends in {canonical[position]!r})"
        )
    return None


def _is_secret_key(lines: list[str]) -> bool:
    # A minisign secret key file: its second line holds the 158-byte encrypted key.
    try:
        return len(base64.b64decode(lines[1].strip(), validate=True)) == _SECRET_KEY_LENGTH
    except (IndexError, ValueError):
        return False


def _line_bytes(lines: list[str], index: int, field: tuple[str, ...], what: str) -> bytes:
    if index >= len(lines):
        raise InvalidInput(
            f"this {what} is incomplete or damaged: it has {len(lines)} line(s) and needs at "
            f"least {index + 1}; paste the whole file content",
            field,
        )
    line = lines[index]
    defect = _base64_defect(line)
    if defect is not None:
        raise InvalidInput(
            f"line {index + 1} of this {what} is not base64 the updater can decode: {defect} "
            "(the updater refuses it: Invalid encoding in minisign data); paste the file "
            "content exactly as it was written",
            field,
        )
    return base64.b64decode(line)
