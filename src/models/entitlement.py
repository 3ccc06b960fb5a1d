"""What one install may be offered: its licence and install id judged into the releases it
may not have, or a refusal.

The one judgement the update route, the edge cache in front of it and ``updatePreview``
all call; each door only reads what the install presented and words the verdict. Installs
with equal exclusions get equal answers, so the exclusions (never the licence key) are
what a cache may key on; for an OPEN app without a partial rollout they are empty for
every install.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Protocol

from ferryman.models.license import Held
from ferryman.models.license import find as find_license
from ferryman.models.offer import OfferIndex


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """A check that gets no answer: 401 (no usable licence), 403 (a licence that is
    suspended or revoked) or 400; never cached."""

    status: int
    code: str
    message: str


@dataclasses.dataclass(frozen=True, slots=True)
class Standing:
    """What an install may not have, and why: releases its licence does not cover, and
    partial rollouts its install id is outside of."""

    uncovered: frozenset[str] = frozenset()
    outside: frozenset[str] = frozenset()
    held: Held | None = None  # the licence it presented, when the app asks for one

    @property
    def excluded(self) -> frozenset[str]:
        return self.uncovered | self.outside


Verdict = Standing | Refusal
EVERYTHING = Standing()


class Licences(Protocol):
    """Where the judgement finds an app's licences (the route keeps them in memory)."""

    async def license(self, key_hash: str) -> Held | None: ...

    def remembered(self, key_hash: str) -> Held | None:
        """The licence when it is at hand without a lookup (None: look it up)."""
        ...

    def uncovered(self, held: Held, now: datetime) -> frozenset[str]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Presented:
    """What a check carries that decides what it may have: its install id, and the hash of
    its licence key or why the key it sent is not one."""

    install_id: str | None = None
    key_hash: str | None = None
    key_error: str | None = None


async def judge(
    index: OfferIndex, presented: Presented, licences: Licences, now: datetime
) -> Verdict:
    """The releases an install that presented this may not be offered, or its refusal."""
    verdict = judge_now(index, presented, licences, now)
    if verdict is not None:
        return verdict
    assert presented.key_hash is not None  # judge_now waits for nothing else
    held = await licences.license(presented.key_hash)
    if held is None:
        return Refusal(401, "UNAUTHENTICATED", f"this key is not a licence of {index.slug}")
    return _holding(index, presented, held, licences, now)


def judge_now(
    index: OfferIndex, presented: Presented, licences: Licences, now: datetime
) -> Verdict | None:
    """:func:`judge`'s verdict when it needs no lookup; None when the licence presented is
    not at hand (for a server answering without waiting)."""
    if index.shared:
        return EVERYTHING
    if not index.terms.licensed:
        return Standing(outside=index.outside(presented.install_id))
    if presented.key_error is not None:
        return Refusal(401, "UNAUTHENTICATED", presented.key_error)
    if presented.key_hash is None:
        return Refusal(
            401,
            "UNAUTHENTICATED",
            f"updates of {index.slug} need a licence: send 'Authorization: Bearer lk_…' "
            "or 'X-License-Key: lk_…'",
        )
    held = licences.remembered(presented.key_hash)
    return None if held is None else _holding(index, presented, held, licences, now)


def _holding(
    index: OfferIndex, presented: Presented, held: Held, licences: Licences, now: datetime
) -> Verdict:
    if held.refused is not None:
        return Refusal(403, "FORBIDDEN", held.refused)
    return Standing(licences.uncovered(held, now), index.outside(presented.install_id), held)


@dataclasses.dataclass(frozen=True, slots=True)
class Fresh:
    """An app's licences read from the database each time (for one-off judgements)."""

    index: OfferIndex

    async def license(self, key_hash: str) -> Held | None:
        return await find_license(self.index.app_id, key_hash)

    def remembered(self, key_hash: str) -> Held | None:
        return None  # read fresh, every time

    def uncovered(self, held: Held, now: datetime) -> frozenset[str]:
        return self.index.uncovered(self.index.terms.coverage(held), now)
