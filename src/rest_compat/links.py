"""Short-lived signed download links, for the releases of LICENSED apps.

A LICENSED app's manifest cannot carry a permanent URL (it would be shareable forever)
nor a per-licence one (every customer of a class shares one cached manifest). So its
URLs are ``/dl/{app id}/...`` links with an expiry and an HMAC over the link's app,
version, platform and expiry: good for at least :data:`LIFETIME` seconds, bound to the
app by its id (so a rename leaves them valid, and another app taking the slug gains
nothing), and needing no header on the download (presigned storage URLs refuse an extra
``Authorization``: plugins-workspace #1634). Links made before apps were named by id
signed the slug in the same place, and are checked the same way.

Expiries are rounded up to :data:`STEP`, so a manifest is rendered once per step rather
than once per request. Every worker must share the secret (``FERRYMAN_LINK_SECRET``,
else one derived from the S3 secret key, which they share anyway).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math

from ferryman.storage import download_path

LIFETIME = 3600
STEP = 600
_TOKEN_BYTES = 24


class DownloadLinks:
    """Signs and checks ``/dl/{app id}/{version}/{platform}?expires=…&token=…``."""

    def __init__(self, secret: str, base_url: str) -> None:
        self._key = hashlib.sha256(b"ferryman download links\0" + secret.encode()).digest()
        self.base_url = base_url.rstrip("/")

    def expiry(self, now: float) -> int:
        """When links made now expire: at least LIFETIME away, on a STEP boundary."""
        return math.ceil((now + LIFETIME) / STEP) * STEP

    def url(self, app_id: str, version: str, platform: str, expires: int) -> str:
        token = self._token(app_id, version, platform, expires)
        path = download_path(app_id, version, platform)
        return f"{self.base_url}{path}?expires={expires}&token={token}"

    def refusal(
        self,
        app: str,
        version: str,
        platform: str,
        expires: str | None,
        token: str | None,
        now: float,
    ) -> str | None:
        """Why this link may not be followed, or None when it is good; ``app`` is the
        link's first segment (the app's id, or the slug of a link made before ids)."""
        if not expires or not token:
            return (
                "downloads of this app need a signed link (expires and token): take the URL "
                "from a fresh update check"
            )
        if not expires.isdigit() or len(expires) > 12:
            return "expires must be a Unix time in seconds"
        if int(expires) < now:
            return "this download link has expired: take the URL from a fresh update check"
        expected = self._token(app, version, platform, int(expires))
        if not hmac.compare_digest(expected, token):
            return "this download link's token does not match it"
        return None

    def _token(self, app: str, version: str, platform: str, expires: int) -> str:
        message = f"{app}\0{version}\0{platform}\0{expires}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:_TOKEN_BYTES]
        return base64.urlsafe_b64encode(digest).decode()
