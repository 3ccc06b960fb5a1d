"""Turning an origin response into a stored :class:`Entry`, and reading how long it stays fresh.

This is where the origin's headers are interpreted (which cache-control field wins, TTLs, stale
windows, tags, the ETag), once, when a response is filled; the middleware in ``__init__`` only
compares the resulting deadlines and replays the header lists prepared here.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, replace
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = [
    "EDGE_ONLY",
    "Entry",
    "Freshness",
    "RawHeaders",
    "entry_from_response",
    "sizeof",
    "unavailable",
]

RawHeaders = list[tuple[bytes, bytes]]

# Cloudflare consumes these and never passes them on.
EDGE_ONLY = frozenset({b"cloudflare-cdn-cache-control", b"cache-tag"})
# Recomputed by the edge from the stored bytes and its own clock.
_RECOMPUTED = EDGE_ONLY | {b"content-length", b"transfer-encoding", b"age"}
_READ = frozenset(
    {
        b"cloudflare-cdn-cache-control",
        b"cdn-cache-control",
        b"cache-control",
        b"expires",
        b"date",
        b"set-cookie",
        b"vary",
        b"cache-tag",
        b"etag",
        b"age",
    }
)
# What a 304 keeps (RFC 9110 §15.4.5), as Starlette's own NotModifiedResponse does.
_NOT_MODIFIED_KEEP = frozenset(
    {b"cache-control", b"cdn-cache-control", b"content-location", b"date", b"etag", b"expires"}
    | {b"vary"}
)
_STORABLE = frozenset({200, 204, 404})
_NO_STALE = frozenset({"must-revalidate", "proxy-revalidate"})
_NEGATIVE_TTL = 10.0  # a 404 is a fact about the URL, but one a publish can change
_ENTRY_OVERHEAD = 400  # bytes charged per entry beyond its body and headers
_HEADER_OVERHEAD = 64


@dataclass(frozen=True, slots=True)
class Freshness:
    """How long the origin lets the edge serve a response, and how far past that."""

    ttl: float
    swr: float = 0.0  # stale-while-revalidate: serve stale while one refresh runs
    sie: float = 0.0  # stale-if-error: serve stale while the origin fails


@dataclass(slots=True, eq=False)
class Entry:
    """A response ready to replay: its raw header lists are built once, when it is filled."""

    status: int
    headers: RawHeaders  # downstream headers, with Content-Length and ETag
    body: bytes
    etag: bytes | None
    not_modified: RawHeaders  # the headers of a 304 answered from this entry
    freshness: Freshness | None  # None: the origin does not let the edge store it
    tags: tuple[str, ...]
    origin_etag: bool  # the origin chose the ETag, so it can answer If-None-Match with it
    size: int
    started: int = 0  # the purge epoch when the origin fetch started
    checked: int = -1  # the last purge epoch at which none of the tags was found purged
    born: float = 0.0  # when the origin produced it (its Age is counted from here)
    fresh_until: float = 0.0
    swr_until: float = 0.0
    sie_until: float = -math.inf
    age: int = 0  # the last Age sent, and its header, reused within the same second
    age_header: tuple[bytes, bytes] = (b"age", b"0")
    wire: object = None  # a server's own encoding of it, for answering below ASGI

    def settle(self, born: float) -> None:
        """Turn the freshness lifetimes into deadlines on the edge's clock."""
        self.born = born
        fresh = self.freshness or Freshness(0.0)
        self.fresh_until = born + fresh.ttl
        self.swr_until = self.fresh_until + fresh.swr
        self.sie_until = self.fresh_until + fresh.sie if fresh.sie > 0 else -math.inf

    def renewed(self, headers: RawHeaders, now: float, started: int) -> Entry:
        """This entry confirmed by a 304: same body; lifetimes and tags from the 304 if given."""
        probe = entry_from_response(200, headers, b"", now)[0]
        entry = replace(
            self,
            freshness=probe.freshness or self.freshness,
            tags=probe.tags or self.tags,
            started=started,
            checked=-1,
        )
        entry.settle(probe.born)
        return entry


def entry_from_response(
    status: int, headers: RawHeaders, body: bytes, now: float
) -> tuple[Entry, bool, bool]:
    """Build the entry for an origin response, and say (bypass, personal).

    bypass: the origin's headers forbid storing it (BYPASS). personal: it may belong to one
    client (``private``, ``Set-Cookie``, ``Vary`` on a request header), so coalesced requests
    must not be handed it.
    """
    fields: dict[bytes, list[bytes]] = {}
    downstream: RawHeaders = []
    for name, value in headers:
        if name in _READ:
            fields.setdefault(name, []).append(value)
        if name not in _RECOMPUTED:
            downstream.append((name, value))

    def field(name: bytes) -> str | None:
        values = fields.get(name)
        return b",".join(values).decode("latin-1") if values else None

    targeted = True
    policy = field(b"cloudflare-cdn-cache-control")
    if policy is None:
        policy = field(b"cdn-cache-control")
    if policy is None:
        targeted, policy = False, field(b"cache-control") or ""
    directives = _directives(policy)
    personal = (
        b"set-cookie" in fields or "private" in directives or not _vary_supported(field(b"vary"))
    )
    shared_ttl = _seconds(directives.get("s-maxage"))
    ttl = shared_ttl if shared_ttl is not None else _seconds(directives.get("max-age"))
    if ttl is None and not targeted:
        ttl = _expires_ttl(field(b"expires"), field(b"date"))
    bypass = personal or "no-store" in directives or "no-cache" in directives or not ttl
    freshness = None
    if ttl and not bypass and status in _STORABLE:
        if status == 404:
            freshness = Freshness(min(ttl, _NEGATIVE_TTL))
        elif shared_ttl is not None or not _NO_STALE.isdisjoint(directives):
            freshness = Freshness(ttl)  # s-maxage implies proxy-revalidate: no stale serving
        else:
            swr = _seconds(directives.get("stale-while-revalidate")) or 0.0
            sie = _seconds(directives.get("stale-if-error")) or 0.0
            freshness = Freshness(ttl, swr, sie)

    if status in (204, 304) or status < 200:
        body = b""
    etags = fields.get(b"etag")
    etag = etags[0] if etags else None
    if etag is None and status == 200:
        etag = b'"%s"' % hashlib.blake2b(body, digest_size=16).hexdigest().encode()
        downstream.append((b"etag", etag))
    if not (status in (204, 304) or status < 200):
        downstream.append((b"content-length", b"%d" % len(body)))
    not_modified = [(n, v) for n, v in downstream if n in _NOT_MODIFIED_KEEP]
    tags = _tags(field(b"cache-tag"))
    size = len(body) + _ENTRY_OVERHEAD + sum(map(len, tags))
    for name, value in (*downstream, *not_modified):
        size += len(name) + len(value) + _HEADER_OVERHEAD
    entry = Entry(
        status, downstream, body, etag, not_modified, freshness, tags, etags is not None, size
    )
    entry.settle(now - (_seconds(field(b"age")) or 0.0))
    return entry, bypass, personal


def _directives(value: str) -> dict[str, str]:
    """Cache-Control directives by lower-case name (the first occurrence wins)."""
    directives: dict[str, str] = {}
    for part in value.split(","):
        name, _, argument = part.partition("=")
        name = name.strip().lower()
        if name:
            directives.setdefault(name, argument.strip().strip('"'))
    return directives


def _seconds(value: str | None) -> float | None:
    """A delta-seconds value; a malformed one counts as 0 (stale), as RFC 9111 §1.2.2 advises."""
    if value is None:
        return None
    try:
        return float(max(0, int(value)))
    except ValueError:
        return 0.0


def _expires_ttl(expires: str | None, date: str | None) -> float | None:
    """Lifetime from Expires, measured against the response's Date (or the wall clock)."""
    if expires is None:
        return None
    until = _http_date(expires)
    if until is None:
        return 0.0  # an invalid Expires means already expired
    base = _http_date(date) if date is not None else None
    return max(0.0, until - (time.time() if base is None else base))


def _http_date(value: str) -> float | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # "-0000": UTC without a claim about the source
    return moment.timestamp()


def _vary_supported(vary: str | None) -> bool:
    """Only Accept-Encoding may vary: the key cannot tell any other request header apart."""
    if vary is None:
        return True
    return all(part.strip().lower() in ("", "accept-encoding") for part in vary.split(","))


def _tags(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(dict.fromkeys(t.strip().lower() for t in value.split(",") if t.strip()))


def sizeof(entry: Entry) -> float:
    return entry.size


def unavailable() -> Entry:
    body = json.dumps(
        {
            "error": {
                "code": "ORIGIN_UNAVAILABLE",
                "message": "The origin could not answer and no cached copy may be served; "
                "retry shortly.",
            }
        }
    ).encode()
    headers: RawHeaders = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
    return entry_from_response(503, headers, body, 0.0)[0]
