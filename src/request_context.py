"""Who asked, and under which id: read once per HTTP request by the front layer
(:mod:`ferryman.front`), before anything else runs.

* The request id is echoed in ``X-Request-ID``, put on every log line and kept in the
  audit trail. A well-formed id from a trusted proxy in front of Ferryman is kept
  (``X-Request-ID``, else Cloudflare's ``CF-Ray``), so one id follows the request through
  every log; anyone else's is replaced by a fresh one, so a client cannot choose what the
  audit trail says about its request.
* The client's address is the peer's, unless the peer is a trusted proxy
  (``FERRYMAN_TRUSTED_PROXIES``): then ``CF-Connecting-IP``, else the nearest untrusted
  hop of ``X-Forwarded-For``. Anyone else can write those headers, so they are ignored.
  So is ``CF-IPCountry``, the visitor's country, which analytics believes only from a
  trusted proxy (:func:`country`).
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import secrets
from collections.abc import Mapping, Sequence

from starlette.types import Scope

from ferryman.settings import Network

HEADER = b"x-request-id"
_CF_RAY = b"cf-ray"
_CF_CONNECTING_IP = b"cf-connecting-ip"
_FORWARDED_FOR = b"x-forwarded-for"
_CF_IPCOUNTRY = "cf-ipcountry"
PROXIED = "proxied"  # in the scope's state: the peer is a trusted proxy
_ACCEPTED = re.compile(rb"[A-Za-z0-9._:-]{8,64}")
UNKNOWN_CLIENT = "unknown"
_IPV4_MAPPED = "::ffff:"


class RequestIds:
    """Fresh request ids: a random prefix per process and a counter, 26 hex digits.

    Unique across processes and restarts (64 random bits each), cheap on every request,
    and not secret: an id names a request, it grants nothing.
    """

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self._prefix = secrets.token_hex(8).encode()
        self._counter = itertools.count()

    def next(self) -> bytes:
        return b"%s%010x" % (self._prefix, next(self._counter))


_IDS = RequestIds()
os.register_at_fork(after_in_child=_IDS.restart)  # a forked worker is another process


class RequestContext:
    """Reads who asked and names the request: ``request_id`` and ``client_ip`` go into the
    scope's state (which the edge cache passes on to the origin)."""

    def __init__(self, trusted_proxies: Sequence[Network] = ()) -> None:
        self.trusted = tuple(trusted_proxies)

    def enter(self, scope: Scope) -> bytes:
        """Set the scope's ``request_id`` and ``client_ip``; the id, for the response header."""
        peer = self.peer_address(scope.get("client"))
        state = scope.setdefault("state", {})
        if not self.trusted or not self._is_trusted(peer):
            request_id = _IDS.next()
            state["request_id"] = request_id.decode()
            state["client_ip"] = peer
            return request_id
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name == _FORWARDED_FOR and name in headers:
                headers[name] += b"," + value  # several lines are one list, in order
            elif name in (HEADER, _CF_RAY, _CF_CONNECTING_IP, _FORWARDED_FOR):
                headers[name] = value
        request_id = (
            next(
                (
                    headers[name]
                    for name in (HEADER, _CF_RAY)
                    if name in headers and _ACCEPTED.fullmatch(headers[name])
                ),
                None,
            )
            or _IDS.next()
        )
        state["request_id"] = request_id.decode()
        state["client_ip"] = self.forwarded_for(headers, peer)
        state[PROXIED] = True
        return request_id

    @staticmethod
    def peer_address(peer: tuple[str, int] | None) -> str:
        """The connecting peer's address (an IPv4 client of a dual-stack listener as IPv4)."""
        address = peer[0] if peer else UNKNOWN_CLIENT
        if address.startswith(_IPV4_MAPPED):  # parsing every address would cost each request
            address = _address(address) or address
        return address

    def forwarded_for(self, headers: dict[bytes, bytes], address: str) -> str:
        """The client behind a trusted proxy at ``address``, from the headers it wrote."""
        connecting = _address(headers.get(_CF_CONNECTING_IP, b"").decode("latin-1").strip())
        if connecting:
            return connecting
        hops = headers.get(_FORWARDED_FOR, b"").decode("latin-1").split(",")
        for hop in reversed(hops):
            hop_address = _address(hop.strip())
            if hop_address is None:
                break  # a malformed hop: trust nothing before it
            if not self._is_trusted(hop_address):
                return hop_address
            address = hop_address
        return address

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)


def country(scope: Scope, headers: Mapping[str, str]) -> str | None:
    """The ISO 3166 alpha-2 country a trusted proxy named for the client (Cloudflare's
    ``CF-IPCountry``, upper case, ``T1`` for Tor), or None: from anyone else, or unknown
    (``XX``)."""
    if not scope.get("state", {}).get(PROXIED):
        return None
    value = headers.get(_CF_IPCOUNTRY, "").strip().upper()
    if len(value) == 2 and value.isascii() and value.isalnum() and value != "XX":
        return value
    return None


def _address(text: str) -> str | None:
    """``text`` as a canonical IP address, or None when it is not one. An IPv4 client of a
    dual-stack listener (``::ffff:192.0.2.1``) is its IPv4 address."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)
