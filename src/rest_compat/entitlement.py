"""The update check's licence key and install id, read from its headers for the judgement
in :mod:`ferryman.models.entitlement`.

The edge cache judges before its lookup and hands the verdict to the origin in the
request's scope state, which a client cannot write; the licence header itself goes no
further.
"""

from __future__ import annotations

from ferryman import auth
from ferryman.models.entitlement import Presented, Refusal
from ferryman.models.offer import INSTALL_ID, INSTALL_ID_RULE

VERDICT = "ferryman.entitlement"  # the scope state entry the edge fills in
_NOTHING = Presented()  # what most checks present; shared, as it cannot change


def presented(headers: list[tuple[bytes, bytes]]) -> Presented | Refusal:
    """What a check presents, from its raw headers. A malformed install id is refused
    whether or not a rollout is under way, so an app sending bad ids learns it at once; a
    malformed licence key matters only to a LICENSED app, which the judgement knows."""
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
    if authorization is None and license_key is None:
        return _NOTHING if install_id is None else Presented(install_id)
    try:
        key = auth.license_key(authorization, license_key)
    except auth.AuthenticationError as error:
        return Presented(install_id, key_error=str(error))
    return Presented(install_id, None if key is None else auth.hash_key(key))
