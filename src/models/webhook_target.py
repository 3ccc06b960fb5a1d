"""Which URLs a notification may be sent to.

A webhook URL is chosen by an admin, but the request is made by the server, from inside
its network: a target on a private, loopback or link-local address would let an admin
reach what only the server can (a cloud metadata service, a database's HTTP port). Such
targets are refused unless the operator allows them. The rule is applied when an
endpoint is saved and again before every delivery, since a name may resolve elsewhere
later.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from ferryman.models.errors import InvalidInput
from ferryman.models.text import reject_text

URL_MAX = 2_000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The target may not be reached; the message says why."""


async def require_public_url(url: str, field: tuple[str, ...], *, allow_private: bool) -> str:
    """``url``, stripped, when notifications may be sent to it; else InvalidInput."""
    url = url.strip()
    reject_text(url, field)
    if len(url) > URL_MAX:
        raise InvalidInput(f"the URL may be at most {URL_MAX} characters", field)
    try:
        await check(url, allow_private=allow_private)
    except TargetRefused as error:
        raise InvalidInput(str(error), field) from None
    return url


async def check(url: str, *, allow_private: bool) -> None:
    """Raise TargetRefused unless ``url`` is http(s) and every address its host resolves
    to is public (or ``allow_private``)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefused(f"{url[:100]!r} is not a URL ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(f"{url[:100]!r} is not an http:// or https:// URL with a host")
    host = parts.hostname
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(f"the host {host[:100]!r} does not resolve ({error})") from None
    if allow_private:
        return
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if not _public(address):
            raise TargetRefused(
                f"{host[:100]} resolves to {address}, an internal address; notifications go "
                "to public addresses only (an operator may allow internal ones with "
                "FERRYMAN_WEBHOOKS_ALLOW_PRIVATE)"
            )


def _public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast
