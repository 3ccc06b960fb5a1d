"""What one update check is entitled to: the licence and install id it carries, turned
into the set of releases it may not be offered, or a refusal.

Installs with equal sets get equal answers, so the set (never the licence key) is what
the edge cache keys on; for an OPEN app without a partial rollout it is empty for every
install. The edge works it out before its lookup and hands it to the origin in the
request's scope state, which a client cannot write; the licence header itself goes no
further.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from ferryman import auth
from ferryman.models.offer import INSTALL_ID, INSTALL_ID_RULE
from ferryman.rest_compat.manifest import Manifests

VERDICT = "ferryman.entitlement"  # the scope state entry the edge fills in
EVERYTHING: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """A check that gets no answer: 401 (no usable licence), 403 (a licence that is
    suspended or revoked) or 400; never cached."""

    status: int
    code: str
    message: str


Verdict = frozenset[str] | Refusal


@dataclasses.dataclass(frozen=True, slots=True)
class Presented:
    """What a check carries that decides what it may have."""

    authorization: str | None = None
    license_key: str | None = None
    install_id: str | None = None

    @classmethod
    def read(cls, headers: list[tuple[bytes, bytes]]) -> Presented | Refusal:
        """From raw request headers; a malformed install id is refused whether or not a
        rollout is under way, so an app sending bad ids learns it at once."""
        authorization = license_key = install_id = None
        for name, value in headers:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-license-key":
                license_key = value.decode("latin-1")
            elif name == b"x-install-id":
                install_id = value.decode("latin-1").strip() or None  # blank: none sent
        if install_id is not None and not INSTALL_ID.fullmatch(install_id):
            return Refusal(400, "INVALID_INPUT", f"X-Install-Id {INSTALL_ID_RULE}")
        return cls(authorization, license_key, install_id)


async def judge(manifests: Manifests, presented: Presented) -> Verdict:
    """The releases a check that presented this may not be offered."""
    index = manifests.index
    if index.shared:
        return EVERYTHING
    outside = index.outside(presented.install_id)
    if not index.terms.licensed:
        return outside
    try:
        key = auth.license_key(presented.authorization, presented.license_key)
    except auth.AuthenticationError as error:
        return Refusal(401, "UNAUTHENTICATED", str(error))
    if key is None:
        return Refusal(
            401,
            "UNAUTHENTICATED",
            f"updates of {index.slug} need a licence: send 'Authorization: Bearer lk_…' "
            "or 'X-License-Key: lk_…'",
        )
    held = await manifests.license(key)
    if held is None:
        return Refusal(401, "UNAUTHENTICATED", f"this key is not a licence of {index.slug}")
    if held.refused is not None:
        return Refusal(403, "FORBIDDEN", held.refused)
    return manifests.uncovered(held, datetime.now(UTC)) | outside
