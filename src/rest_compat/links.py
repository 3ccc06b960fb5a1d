"""Short-lived signed download links, for the releases of LICENSED apps.

A LICENSED app's manifest cannot carry a permanent URL (it would be shareable forever)
nor a per-licence one (every customer of a class shares one cached manifest). So its
URLs are ``/dl/...`` links with an expiry and an HMAC over the file and the expiry:
good for at least :data:`LIFETIME` seconds, and needing no header on the download
(presigned storage URLs refuse an extra ``Authorization``: plugins-workspace #1634).

Expiries are rounded up to :data:`STEP`, so a manifest is rendered once per step rather
than once per request. Every worker must share the secret (``FERRYMAN_LINK_SECRET``,
else one derived from the S3 secret key, which they share anyway).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from urllib.parse import quote

LIFETIME = 3600
STEP = 600
_TOKEN_BYTES = 24


class DownloadLinks:
    """Signs and checks ``/dl/{slug}/{version}/{platform}?expires=…&token=…``."""

    def __init__(self, secret: str, base_url: str) -> None:
        self._key = hashlib.sha256(b"ferryman download links\0" + secret.encode()).digest()
        self.base_url = base_url.rstrip("/")

    def expiry(self, now: float) -> int:
        """When links made now expire: at least LIFETIME away, on a STEP boundary."""
        return math.ceil((now + LIFETIME) / STEP) * STEP

    def url(self, slug: str, version: str, platform: str, expires: int) -> str:
        token = self._token(slug, version, platform, expires)
        path = f"/dl/{slug}/{quote(version, safe='')}/{platform}"
        return f"{self.base_url}{path}?expires={expires}&token={token}"

    def refusal(
        self,
        slug: str,
        version: str,
        platform: str,
        expires: str | None,
        token: str | None,
        now: float,
    ) -> str | None:
        """Why this link may not be followed, or None when it is good."""
        if not expires or not token:
            return (
                "downloads of this app need a signed link (expires and token): take the URL "
                "from a fresh update check"
            )
        if not expires.isdigit() or len(expires) > 12:
            return "expires must be a Unix time in seconds"
        if int(expires) < now:
            return "this download link has expired: take the URL from a fresh update check"
        expected = self._token(slug, version, platform, int(expires))
        if not hmac.compare_digest(expected, token):
            return "this download link's token does not match it"
        return None

    def _token(self, slug: str, version: str, platform: str, expires: int) -> str:
        message = f"{slug}\0{version}\0{platform}\0{expires}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:_TOKEN_BYTES]
        return base64.urlsafe_b64encode(digest).decode()
