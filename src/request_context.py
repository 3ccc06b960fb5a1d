"""Who asked, and under which id: set once per HTTP request, before anything else runs.

* The request id is echoed in ``X-Request-ID``, put on every log line and kept in the
  audit trail. A well-formed id from a trusted proxy in front of Ferryman is kept
  (``X-Request-ID``, else Cloudflare's ``CF-Ray``), so one id follows the request through
  every log; anyone else's is replaced by a fresh one, so a client cannot choose what the
  audit trail says about its request.
* The client's address is the peer's, unless the peer is a trusted proxy
  (``FERRYMAN_TRUSTED_PROXIES``): then ``CF-Connecting-IP``, else the nearest untrusted
  hop of ``X-Forwarded-For``. Anyone else can write those headers, so they are ignored.

Both go into ``scope["state"]``, which the edge cache passes on to the origin.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ferryman import logs
from ferryman.settings import Network

HEADER = b"x-request-id"
_CF_RAY = b"cf-ray"
_CF_CONNECTING_IP = b"cf-connecting-ip"
_FORWARDED_FOR = b"x-forwarded-for"
_ACCEPTED = re.compile(rb"[A-Za-z0-9._:-]{8,64}")
UNKNOWN_CLIENT = "unknown"
_IPV4_MAPPED = "::ffff:"


class RequestContext:
    """Pure ASGI middleware: sets ``request_id`` and ``client_ip`` in the scope's state,
    the log context, and the response header."""

    def __init__(self, app: ASGIApp, trusted_proxies: Sequence[Network] = ()) -> None:
        self.app = app
        self.trusted = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name == _FORWARDED_FOR and name in headers:
                headers[name] += b"," + value  # several lines are one list, in order
            elif name in (HEADER, _CF_RAY, _CF_CONNECTING_IP, _FORWARDED_FOR):
                headers[name] = value
        peer = self.peer_address(scope.get("client"))
        trusted = bool(self.trusted) and self._is_trusted(peer)
        request_id = (
            next(
                (
                    headers[name]
                    for name in (HEADER, _CF_RAY)
                    if name in headers and _ACCEPTED.fullmatch(headers[name])
                ),
                None,
            )
            if trusted
            else None
        ) or secrets.token_hex(13).encode()  # 104 random bits; cheap on every request
        text = request_id.decode()
        state = scope.setdefault("state", {})
        state["request_id"] = text
        state["client_ip"] = self.forwarded_for(headers, peer) if trusted else peer
        token = logs.request_id.set(text)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (HEADER, request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.request_id.reset(token)

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
