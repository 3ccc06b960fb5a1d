"""A release halted on a platform as a health gate would leave it, written directly: for
tests of what reads or lifts a halt (the gate's own halts are tested with a fleet)."""

from __future__ import annotations

from datetime import UTC, datetime

from ferryman.models import Artifact, HealthState

REASON = "100 % of 200 installs that downloaded it did not arrive on it; the gate allows 5 %"


async def halt(release_id: str, platform: str, at: datetime | None = None) -> None:
    at = at or datetime.now(UTC)
    await HealthState.create(
        release_id=release_id, platform=platform, halted_at=at, halt_reason=REASON
    )
    await Artifact.filter(release_id=release_id, platform=platform).update(halted_at=at)
