"""The rollout schedule runner: each step taken when due, once, whatever the number of
runners, seen on the real update route, audited and announced; a pause that does not
count; a new runner continuing where the last stopped; an outage retried.

The runners here have a clock of the test's own, set a year ahead of the wall clock so
that the app's own runner (on the wall clock) finds nothing due.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from tortoise import connections

from ferryman.models import AuditEvent, Notification, Ramp, RampStep, Release
from ferryman.models import ramp as ramps
from ferryman.models import webhook as webhooks
from ferryman.models.actor import Actor
from ferryman.models.offer import bucket
from ferryman.models.ramp import PHASED_EVERY, PHASED_PERCENTS, RampPreset, Step
from ferryman.models.webhook import Event, Kind, WebhookChanges
from ferryman.ramp_runner import RampRunner
from tests.support.fleet import ids, offered_to
from tests.support.shipping import Shipyard

LINUX = ["linux-x86_64"]
START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=365)
FLEET = ids(400)


@dataclasses.dataclass
class Clock:
    """The runners' now, moved by the test."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


async def staged(yard: Shipyard) -> str:
    """1.0.0 to everyone, 1.1.0 published (to be scheduled), and an endpoint hearing its
    rollout changes; returns 1.1.0's id."""
    await yard.release("1.0.0", LINUX)
    release_id = await yard.release("1.1.0", LINUX)
    await webhooks.create(
        Actor.console(),
        yard.app_id,
        Kind.WEBHOOK,
        WebhookChanges(url="https://93.184.215.14/h", events=[Event.RELEASE_ROLLOUT_CHANGED.value]),
        allow_private=False,
    )
    return release_id


async def percent_of(release_id: str) -> int:
    percent: int = (await Release.get(id=release_id)).rollout_percent
    return percent


async def announced(release_id: str) -> list[tuple[int, str]]:
    """The percentages announced for the release, in order, with who acted."""
    found = []
    for message in await Notification.filter(type=Event.RELEASE_ROLLOUT_CHANGED).order_by("id"):
        data = json.loads(message.body)["data"]
        if data["release"]["id"] == release_id:
            found.append((data["release"]["rollout_percent"], data["actor"]["kind"]))
    return found


async def steps_audited(release_id: str) -> list[AuditEvent]:
    return await AuditEvent.filter(target_id=release_id, action="release.rollout_step").order_by(
        "id"
    )


async def test_a_phased_schedule_reaches_its_share_of_installs_step_by_step(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    release_id = await staged(yard)
    clock = Clock()
    runner = RampRunner(clock=clock)
    await ramps.schedule(
        Actor.console(), release_id, preset=RampPreset.PHASED, start=START, now=START
    )

    for position, percent in enumerate(PHASED_PERCENTS):
        due = START + position * PHASED_EVERY
        clock.now = due - timedelta(seconds=1)
        assert await runner.tick() == 0, "no step before its time"
        clock.now = due
        assert await runner.tick() == (1 if position else 0), "step 1 was taken when set"
        assert await runner.tick() == 0, "a step is taken once"
        assert await percent_of(release_id) == percent
        answers = await offered_to(client, FLEET)
        reached = {i for i, version in answers.items() if version == "1.1.0"}
        assert reached == {i for i in FLEET if bucket(i, release_id) < percent}
        assert set(answers.values()) <= {"1.0.0", "1.1.0"}
        if percent == 50:  # roughly its share: 200 ± 5 standard deviations (10 each)
            assert 150 <= len(reached) <= 250, len(reached)

    clock.now += timedelta(days=30)
    assert await runner.tick() == 0
    assert reached == set(FLEET)
    events = await steps_audited(release_id)
    assert [e.summary for e in events] == [
        f"rollout schedule reached step {n} of 7: 1.1.0 to {p}% of installs"
        for n, p in enumerate(PHASED_PERCENTS[1:], start=2)
    ]
    assert {(e.key_id, e.user_id, e.request_id) for e in events} == {
        (None, None, "rollout-schedule")
    }
    assert await announced(release_id) == [(p, "server") for p in PHASED_PERCENTS]
    ramp = await Ramp.get(release_id=release_id)
    assert (ramp.reached, ramp.next_at) == (7, None)


async def test_a_pause_takes_no_step_and_does_not_count(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    release_id = await staged(yard)
    clock = Clock()
    runner = RampRunner(clock=clock)
    hour = timedelta(hours=1)
    steps = [Step(10, START), Step(50, START + hour), Step(100, START + 2 * hour)]
    await ramps.schedule(Actor.console(), release_id, steps, now=START)
    await ramps.pause(Actor.console(), release_id, "crash reports", now=START + hour / 2)

    clock.now = START + 5 * hour
    assert await runner.tick() == 0
    assert await percent_of(release_id) == 10
    ramp = await Ramp.get(release_id=release_id)
    assert (ramp.paused_by, ramp.pause_reason) == ("console", "crash reports")
    await ramps.resume(Actor.console(), release_id, now=START + 5 * hour)

    pending = await RampStep.filter(ramp_id=ramp.id).order_by("position")
    waited = timedelta(hours=4.5)
    assert [s.not_before for s in pending] == [
        START,
        START + hour + waited,
        START + 2 * hour + waited,
    ]
    clock.now = START + hour + waited - timedelta(seconds=1)
    assert await runner.tick() == 0
    clock.now = START + hour + waited
    assert await runner.tick() == 1
    assert await percent_of(release_id) == 50
    resumed = await AuditEvent.get(target_id=release_id, action="release.rollout_resume")
    assert "after 4 h 30 min paused (crash reports)" in resumed.summary
    assert "2 pending steps" in resumed.summary
    answers = await offered_to(client, FLEET)
    assert {i for i, v in answers.items() if v == "1.1.0"} == {
        i for i in FLEET if bucket(i, release_id) < 50
    }


async def test_a_new_runner_goes_on_from_the_stored_schedule(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    release_id = await staged(yard)
    clock = Clock(START + 2 * PHASED_EVERY)  # steps 1 to 3 due
    await ramps.schedule(
        Actor.console(), release_id, preset=RampPreset.PHASED, start=START, now=START
    )
    first = RampRunner(clock=clock, every=0.01)
    first.start()
    for _ in range(500):  # its first tick takes step 3 (steps 2 and 3 at once)
        if await percent_of(release_id) == 5:
            break
        await asyncio.sleep(0.01)
    await first.stop()

    clock.now = START + 4 * PHASED_EVERY  # steps 4 and 5 due
    moved = await RampRunner(clock=clock).tick()

    assert moved == 1
    assert await percent_of(release_id) == 20
    assert [e.summary for e in await steps_audited(release_id)] == [
        "rollout schedule reached steps 2 to 3 (due at once) of 7: 1.1.0 to 5% of installs",
        "rollout schedule reached steps 4 to 5 (due at once) of 7: 1.1.0 to 20% of installs",
    ]
    assert await announced(release_id) == [(1, "server"), (5, "server"), (20, "server")]
    reached = await RampStep.filter(ramp__release_id=release_id, reached_at__not_isnull=True)
    assert sorted(s.position for s in reached) == [1, 2, 3, 4, 5]


async def test_runners_ticking_at_once_take_each_step_once(
    client: httpx.AsyncClient, yard: Shipyard
) -> None:
    release_id = await staged(yard)
    clock = Clock()
    runners = [RampRunner(clock=clock) for _ in range(4)]
    await ramps.schedule(
        Actor.console(), release_id, preset=RampPreset.PHASED, start=START, now=START
    )

    for position in range(1, len(PHASED_PERCENTS)):
        clock.now = START + position * PHASED_EVERY
        moved = await asyncio.gather(*(r.tick() for r in runners))
        assert sum(moved) == 1, moved
        assert await percent_of(release_id) == PHASED_PERCENTS[position]

    assert len(await steps_audited(release_id)) == len(PHASED_PERCENTS) - 1
    assert [p for p, _ in await announced(release_id)] == list(PHASED_PERCENTS)


async def test_an_outage_is_logged_and_the_step_taken_on_a_later_tick(
    client: httpx.AsyncClient, yard: Shipyard, caplog: pytest.LogCaptureFixture
) -> None:
    release_id = await staged(yard)
    clock = Clock(START + PHASED_EVERY)
    runner = RampRunner(clock=clock)
    await ramps.schedule(
        Actor.console(), release_id, preset=RampPreset.PHASED, start=START, now=START
    )
    database = connections.get("default")
    await database.execute_script("ALTER TABLE ramps RENAME TO ramps_away")

    with caplog.at_level(logging.WARNING, logger="ferryman.ramps"):
        missed = await runner.tick()
    await database.execute_script("ALTER TABLE ramps_away RENAME TO ramps")
    taken = await runner.tick()

    assert missed == 0
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["rollout schedules"]
    assert taken == 1
    assert await percent_of(release_id) == 2
