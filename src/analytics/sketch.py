"""How many distinct installs asked, estimated in fixed memory without keeping who asked.

An install is seen as a token: a MAC under a key that is random per UTC day and deleted
when the day ends (``models.daily_key``), so no token can be recomputed afterwards or
linked to the same install's token on another day. Only an :class:`InstallSketch` ever
sees a token, and it keeps only HyperLogLog registers (Apache DataSketches), whose size
depends on ``LG_K`` alone, never on how many installs were added.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import datasketches

# 2^14 registers: a standard error of about 1.04 / sqrt(2^14) = 0.8 %, so the issue's
# ±2 % at 100,000 installs is about 2.5 standard errors (met on about 99 % of days), in at
# most ~8 KiB per sketch. lg_k 15 would miss it one day in 2,000 at twice the bytes; lg_k 12
# would miss it one day in five.
LG_K = 14
# 4 bits a register: the smallest of the three layouts, with the same estimate.
LAYOUT = datasketches.tgt_hll_type.HLL_4
TOKEN_BYTES = 32


def identity(install_id: bytes | None, address: bytes, user_agent: bytes) -> bytes:
    """What tells an install apart, before it is made a :func:`token`.

    The install id when the app sends one; else address and user agent, which over-counts
    installs that move and under-counts those behind one address, but needs no help from
    the app. The prefixes keep the two kinds from ever colliding.
    """
    if install_id is not None:
        return b"install:" + install_id
    return b"peer:" + address + b"\0" + user_agent


class Tokens:
    """The tokens of one day's installs (their :func:`identity`): a keyed BLAKE2b MAC
    under the day's key, which no one can recompute or link to another day once the key
    is gone. BLAKE2b rather than HMAC-SHA256 because it is the same guarantee at a third
    of the cost, and every update check pays it; the keyed state is made once a day and
    copied per token, which halves it again."""

    def __init__(self, day_key: bytes) -> None:
        self._keyed = hashlib.blake2b(key=day_key, digest_size=TOKEN_BYTES)

    def of(self, install: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(install)
        return mac.digest()


def token(day_key: bytes, install: bytes) -> bytes:
    """The token of ``install`` (its :func:`identity`) for the day of ``day_key``."""
    return Tokens(day_key).of(install)


class InstallSketch:
    """A HyperLogLog sketch of install tokens: add, merge, estimate, store.

    Its estimate is a function of the set of tokens alone: adding one twice, in another
    order or in another worker's sketch merged in later changes nothing, so the sketches
    of many workers (or of many days) add up exactly as one.
    """

    def __init__(self, hll: datasketches.hll_sketch | None = None) -> None:
        self._hll = hll if hll is not None else datasketches.hll_sketch(LG_K, LAYOUT)

    def add(self, install_token: bytes) -> None:
        """Count one install by its :func:`token` (anything else is refused, so that no
        raw id, address or user agent can reach a sketch by mistake)."""
        if len(install_token) != TOKEN_BYTES:
            raise ValueError(
                f"an install token is {TOKEN_BYTES} bytes (see token()), got {len(install_token)}"
            )
        # Its first 8 bytes are random enough for the sketch's own hash, and an int is
        # the cheapest thing to hand it.
        self._hll.update(int.from_bytes(install_token[:8], "big", signed=True))

    def merge(self, other: InstallSketch) -> None:
        """Add every install of ``other`` to this sketch (the union: one seen by both
        counts once)."""
        self._hll = InstallSketch.union((self, other))._hll

    @classmethod
    def union(cls, sketches: Iterable[InstallSketch]) -> InstallSketch:
        """One sketch of every install in ``sketches``: the same as merging them one by
        one, at the cost of a single merge (a day's hundreds of rows read at once)."""
        union = datasketches.hll_union(LG_K)
        for sketch in sketches:
            union.update(sketch._hll)
        return cls(union.get_result(LAYOUT))

    def estimate(self) -> int:
        """The estimated number of distinct installs added."""
        estimate: float = self._settled().get_estimate()
        return round(estimate)

    def to_bytes(self) -> bytes:
        """The compact form to store: a few dozen bytes for a few installs, at most about
        8 KiB however many."""
        return bytes(self._settled().serialize_compact())

    @classmethod
    def from_bytes(cls, data: bytes) -> InstallSketch:
        """The sketch that :meth:`to_bytes` stored, or ValueError for anything else."""
        try:
            hll = datasketches.hll_sketch.deserialize(data)
        except (ValueError, RuntimeError) as error:
            raise ValueError(f"not a stored install sketch: {error}") from None
        if hll.lg_config_k != LG_K:
            raise ValueError(f"an install sketch has lg_k {LG_K}, this one {hll.lg_config_k}")
        return cls(hll)

    def _settled(self) -> datasketches.hll_sketch:
        """The sketch as a union leaves it (a union with itself: same registers).

        A sketch fed in one stream estimates from an accumulator that tracks the order of
        its updates (HIP); a merged one can only estimate from its registers. Settling
        every sketch the same way makes the estimate and the bytes depend on the set of
        installs alone, never on how they were split between workers.
        """
        union = datasketches.hll_union(LG_K)
        union.update(self._hll)
        union.update(self._hll)
        return union.get_result(LAYOUT)
