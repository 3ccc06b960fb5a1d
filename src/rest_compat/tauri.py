"""The update check the Tauri updater makes, answered exactly as its client expects.

Two routes: ``/{app}/update/{target}/{arch}/{current_version}`` (recommended, with an
optional ``?bundle_type=``) and the original ``/{app}/update/{target}/{current_version}``,
where ``target`` is a platform key (``darwin-aarch64``) or a bare OS (``darwin``, which
gets the static format listing every platform of that OS). 204 means "no update"; any
non-2xx makes the client try its next endpoint.

A LICENSED app's checks carry a licence key (401 without a usable one, 403 when it is
suspended or revoked), and any check may carry ``X-Install-Id`` for staged rollouts:
:mod:`ferryman.models.entitlement` judges both into what the install may not have.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Hashable
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from ferryman.metrics import NO_UPDATE, OFFER_HEADER, PRIVATE_OFFER
from ferryman.models.app import SLUG_PATTERN
from ferryman.models.channel import NAME as CHANNEL_NAME
from ferryman.models.entitlement import Refusal, Verdict, judge, judge_now
from ferryman.models.platform import ARCHITECTURES, INSTALLERS, OPERATING_SYSTEMS
from ferryman.models.registry import UNAVAILABLE
from ferryman.rest_compat.entitlement import VERDICT, presented
from ferryman.rest_compat.errors import error_response
from ferryman.rest_compat.links import LIFETIME
from ferryman.rest_compat.manifest import Manifests, Resolver
from ferryman.versions import InvalidVersion, Version

BUNDLE_TYPES = ("appimage", "deb", "rpm", "app", "msi", "nsis", "unknown")


# What the edge hands the origin: the class of installs it keys on (the releases they may
# not have), or the refusal of the check.
Judged = frozenset[str] | Refusal


class BadCheck(ValueError):
    """The check's URL is malformed; the message says what is accepted."""


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    """One update check, normalised: equal checks get equal answers."""

    slug: str
    os: str
    arch: str | None  # None: a bare-OS check, answered in the static format
    bundle: str | None
    channel: str | None  # None: the app's most stable channel
    current: Version
    raw_path: bytes  # canonical, percent-encoded: what the origin sees behind the edge
    decoded_path: str
    query: bytes
    key: Hashable

    @classmethod
    def parse(cls, path: str, query: str) -> Check:
        """Read a check from its raw path and query string (percent-encoded)."""
        parts = path.strip("/").split("/")
        if len(parts) not in (4, 5) or parts[1] != "update":
            raise BadCheck("not an update check path")
        slug, target, raw_version = parts[0], parts[2], parts[-1]
        if not SLUG_PATTERN.fullmatch(slug):
            raise BadCheck(f"{slug[:64]!r} is not an app slug")
        if len(parts) == 5:
            os, arch = target, parts[3]
        else:
            os, _, arch = target.partition("-")
        arch_or_none = arch or None
        _check_target(os, arch_or_none)
        try:
            current = Version.parse(unquote(raw_version))
        except InvalidVersion as error:
            raise BadCheck(f"current version: {error}") from None
        bundle = _bundle(os, query)
        channel = _channel(query)
        version = quote(str(current), safe="")
        if len(parts) == 5:
            canonical = f"/{slug}/update/{os}/{arch}/{version}"
        else:
            canonical = f"/{slug}/update/{target}/{version}"
        return cls(
            slug=slug,
            os=os,
            arch=arch_or_none,
            bundle=bundle,
            channel=channel,
            current=current,
            raw_path=canonical.encode(),
            decoded_path=unquote(canonical),
            query="&".join(
                f"{name}={value}"
                for name, value in (("bundle_type", bundle), ("channel", channel))
                if value
            ).encode(),
            key=(slug, os, arch_or_none, bundle, channel, str(current), len(parts)),
        )


# Most checks repeat the same few URLs: parse each once. Bounded, so odd URLs only evict.
_parse = functools.lru_cache(maxsize=16_384)(Check.parse)


def check_of(raw_path: bytes | None, path: str, query: bytes) -> Check:
    """The check a request's ``raw_path`` (else ``path``) and ``query_string`` make, or
    BadCheck. The path as sent, still percent-encoded, so 1.0.0%2B5 is read exactly once."""
    return _parse(raw_path.decode("latin-1") if raw_path else quote(path), query.decode("latin-1"))


@dataclasses.dataclass(frozen=True, slots=True)
class CachePolicy:
    """How long the edge may keep an answer (the client's own cache gets a minute).

    A LICENSED app's answers carry links that expire, so they are kept (even stale)
    well within a link's lifetime.
    """

    ttl: int

    def headers(self, slug: str, status: int, licensed: bool = False) -> dict[str, str]:
        ttl = self.ttl if status in (200, 204) else min(self.ttl, 60)
        stale = 86400
        if licensed:
            ttl, stale = min(ttl, LIFETIME // 4), LIFETIME // 4
        return {
            "Cloudflare-CDN-Cache-Control": (
                f"max-age={ttl}, stale-while-revalidate=60, stale-if-error={stale}"
            ),
            "Cache-Control": "private, max-age=60",
            "Cache-Tag": f"app:{slug}",
        }


async def check(request: Request) -> Response:
    """Answer one update check: 200 with a manifest, 204, or a JSON 4xx."""
    try:
        parsed = _check_of(request.scope)
    except BadCheck as error:
        return _refused(Refusal(400, "INVALID_INPUT", str(error)))
    resolver: Resolver = request.app.state.resolver
    policy: CachePolicy = request.app.state.cache_policy
    manifests = await resolver.manifests(parsed.slug)
    if manifests is None:
        response = error_response(404, "NOT_FOUND", f"no app has the slug {parsed.slug!r}")
        response.headers.update(policy.headers(parsed.slug, 404))
        return response
    # Behind the edge cache the verdict was reached there, from headers the origin never
    # gets to see; without one, it is reached here.
    judged: Judged | None = request.scope.get("state", {}).get(VERDICT)
    # An answer that depends on the install's headers may only be kept by a cache that
    # keyed on what they entitle to: ours, not a CDN keyed on the URL.
    shared = manifests.index.shared or judged is not None
    if judged is None:
        carried = presented(request.scope["headers"])
        verdict = (
            carried
            if isinstance(carried, Refusal)
            else await judge(manifests.index, carried, manifests, datetime.now(UTC))
        )
        judged = verdict if isinstance(verdict, Refusal) else verdict.excluded
    if isinstance(judged, Refusal):
        return _refused(judged)
    return _answer(parsed, manifests, judged, shared, policy)


def _answer(
    parsed: Check,
    manifests: Manifests,
    excluded: frozenset[str],
    shared: bool,
    policy: CachePolicy,
) -> Response:
    """The answer to a check whose install may not have ``excluded``; ``shared``: a cache
    keyed on the URL may keep it."""
    index = manifests.view(excluded)
    rank = index.rank(parsed.channel)
    if rank is None:
        response = error_response(
            400,
            "INVALID_INPUT",
            f"channel {parsed.channel!r} is not one of this app's channels: "
            f"{', '.join(index.order)}",
        )
        response.headers.update(policy.headers(parsed.slug, 400))
        return response
    if parsed.arch is None:
        choice = index.for_os(parsed.os, parsed.current, rank)
    else:
        choice = index.for_platform(parsed.os, parsed.arch, parsed.bundle, parsed.current, rank)
    headers = policy.headers(parsed.slug, 200, index.terms.licensed)
    if not shared:
        headers["Cloudflare-CDN-Cache-Control"] = "no-store"
    if choice is None:
        headers[OFFER_HEADER] = NO_UPDATE
    else:
        private = PRIVATE_OFFER if index.terms.licensed else ""
        headers[OFFER_HEADER] = f"{private}{choice.offer.version}"
    if choice is None:
        return Response(status_code=204, headers=headers)
    return Response(
        manifests.body(choice), status_code=200, media_type="application/json", headers=headers
    )


class CheckRule:
    """The edge cache's view of a check: its key, and the canonical request for the origin.

    Anything that is not a well-formed check is not cacheable (and is answered by the
    route itself); unknown query parameters and headers never reach the key or the origin.
    The licence and install id are judged here, before the lookup: the key holds the
    verdict (what the install may not have), never the licence key, and the origin gets
    the verdict instead of the headers. A refused check is passed on uncached.
    """

    def __init__(self, resolver: Resolver, policy: CachePolicy) -> None:
        self.resolver = resolver
        self.policy = policy

    async def __call__(self, scope: Scope) -> tuple[Hashable | None, Scope] | None:
        try:
            parsed = _check_of(scope)
        except BadCheck:
            return None
        origin = dict(scope)
        origin["path"] = parsed.decoded_path
        origin["raw_path"] = parsed.raw_path
        origin["query_string"] = parsed.query
        origin["headers"] = [header for header in scope["headers"] if header[0] == b"host"]
        carried = presented(scope["headers"])
        try:
            manifests = self.resolver.loaded(parsed.slug) or await self.resolver.manifests(
                parsed.slug
            )
            if manifests is None:
                return parsed.key, origin
            if isinstance(carried, Refusal):
                verdict: Verdict = carried
            elif manifests.index.shared:  # the common case, kept cheap: no state to pass
                return parsed.key, origin
            else:
                verdict = await judge(manifests.index, carried, manifests, datetime.now(UTC))
        except UNAVAILABLE:
            # The origin will answer 503 too: where installs all got the same answers, the
            # edge may serve its stale one instead; a licence cannot be judged, so no other.
            return (parsed.key, origin) if self.resolver.was_shared(parsed.slug) else None
        # The origin answers the whole class the edge keys on: it gets the class (what the
        # install may not have), never which licence was presented.
        judged = verdict if isinstance(verdict, Refusal) else verdict.excluded
        origin["state"] = {**scope.get("state", {}), VERDICT: judged}
        if isinstance(judged, Refusal):
            return None, origin
        return (parsed.key, judged) if judged else parsed.key, origin

    def settled(self, scope: Scope) -> Hashable | None:
        """The key :meth:`__call__` would give, when it is known without waiting
        (:meth:`judged_now`); None otherwise. For answering HITs below ASGI."""
        judged = self.judged_now(scope)
        if judged is None:
            return None
        parsed, _, excluded = judged
        return (parsed.key, excluded) if excluded else parsed.key

    def answered(self, scope: Scope) -> Response | None:
        """The origin's answer, when it is known without waiting (:meth:`judged_now`);
        None otherwise. For answering below ASGI without the edge cache."""
        judged = self.judged_now(scope)
        if judged is None:
            return None
        parsed, manifests, excluded = judged
        return _answer(parsed, manifests, excluded, manifests.index.shared, self.policy)

    def judged_now(self, scope: Scope) -> tuple[Check, Manifests, frozenset[str]] | None:
        """A well-formed check of an app whose index is in memory, judged without a
        lookup into what the install may not have; None when that needs waiting or the
        check is refused (the ASGI path then answers, in its words)."""
        try:
            parsed = _check_of(scope)
        except BadCheck:
            return None
        manifests = self.resolver.loaded(parsed.slug)
        if manifests is None:
            return None
        carried = presented(scope["headers"])
        if isinstance(carried, Refusal):
            return None
        if manifests.index.shared:  # the common case, kept cheap
            return parsed, manifests, frozenset()
        verdict = judge_now(manifests.index, carried, manifests, datetime.now(UTC))
        if verdict is None or isinstance(verdict, Refusal):
            return None
        return parsed, manifests, verdict.excluded


def _refused(refusal: Refusal) -> Response:
    response = error_response(refusal.status, refusal.code, refusal.message)
    response.headers["Cache-Control"] = "no-store"
    if refusal.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="updates"'
    return response


def _check_of(scope: Scope) -> Check:
    return check_of(scope.get("raw_path"), scope["path"], scope.get("query_string", b""))


def _check_target(os: str, arch: str | None) -> None:
    if os not in OPERATING_SYSTEMS or (arch is not None and arch not in ARCHITECTURES):
        raise BadCheck(
            f"target {os}{'-' + arch if arch else ''} is not one the updater sends: OS one of "
            f"{', '.join(OPERATING_SYSTEMS)}; arch one of {', '.join(ARCHITECTURES)}"
        )


def _channel(query: str) -> str | None:
    values = parse_qs(query, keep_blank_values=True).get("channel", [])
    if not values or values[-1] == "":
        return None
    channel = values[-1]
    if not CHANNEL_NAME.fullmatch(channel):
        raise BadCheck(
            f"channel {channel[:40]!r} is not a channel name: lowercase letters, digits and "
            "dashes, starting with a letter (for example beta)"
        )
    return channel


def _bundle(os: str, query: str) -> str | None:
    values = parse_qs(query, keep_blank_values=True).get("bundle_type", [])
    if not values or values[-1] in ("", "unknown"):
        return None
    bundle = values[-1]
    if bundle not in BUNDLE_TYPES:
        raise BadCheck(f"bundle_type {bundle[:32]!r} is not one of {', '.join(BUNDLE_TYPES)}")
    if bundle not in INSTALLERS[os]:
        raise BadCheck(f"bundle_type {bundle} is not an installer for {os}")
    return bundle
