"""A throw-away Tauri updater key that signs as ``tauri signer sign`` does: a minisign
prehashed (BLAKE2b-512) Ed25519 signature plus a signed trusted comment.

For tests and benchmarks that need files of their own making, signed for real.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

CHUNK = 1024 * 1024


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Signer:
    """One key pair; ``public_key`` is the content of the ``.pub`` file, as apps hold it."""

    def __init__(self) -> None:
        self.secret = Ed25519PrivateKey.generate()
        self.key_id = os.urandom(8)
        raw = self.secret.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        pub = (
            f"untrusted comment: minisign public key: {self.key_id[::-1].hex().upper()}\n"
            f"{b64(b'Ed' + self.key_id + raw)}\n"
        )
        self.public_key = b64(pub.encode())

    def sign(self, body: bytes, filename: str, version: str | None = None) -> str:
        """The content of the ``.sig`` file for ``body``."""
        return self._signature(hashlib.blake2b(body, digest_size=64), filename, version)

    def sign_file(self, path: Path, version: str | None = None) -> str:
        """The same for a file on disk, read a chunk at a time."""
        digest = hashlib.blake2b(digest_size=64)
        with path.open("rb") as file:
            while chunk := file.read(CHUNK):
                digest.update(chunk)
        return self._signature(digest, path.name, version)

    def _signature(self, digest: hashlib.blake2b, filename: str, version: str | None) -> str:
        signature = self.secret.sign(digest.digest())
        comment = f"timestamp:{int(time.time())}\tfile:{filename}"
        if version is not None:
            comment += f"\tversion:{version}"
        signed_comment = self.secret.sign(signature + comment.encode())
        text = (
            "untrusted comment: signature from tauri secret key\n"
            f"{b64(b'ED' + self.key_id + signature)}\n"
            f"trusted comment: {comment}\n"
            f"{b64(signed_comment)}\n"
        )
        return b64(text.encode())
