"""Health gates: a fleet of installs updates through the real update route and ``/dl``;
on one platform they keep checking in on their old version. One evaluation later that
platform's rollout is halted (and announced, audited, explained), the other platform's
goes on; an admin lifts it. A healthy fleet completes its schedule under a gate, a small
one holds it, and two runners halt once.

The app's recorder and the test's runners share a clock of the test's, set a year ahead
of the wall clock, so that the app's own runner (on the wall clock) finds nothing due.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from ferryman.analytics.recorder import Recorder
from ferryman.models import AuditEvent, HealthCount, HealthMark, Notification, Ramp, Release, health
from ferryman.models import ramp as ramps
from ferryman.models import webhook as webhooks
from ferryman.models.actor import Actor
from ferryman.models.ramp import Step
from ferryman.models.webhook import Event, Kind, WebhookChanges
from ferryman.notifications.message import headline
from ferryman.ramp_runner import RampRunner
from ferryman.settings import Settings
from tests.support.checks import Clock
from tests.support.database import every_value
from tests.support.documents import UPDATE_PREVIEW
from tests.support.fleet import check_in, download_offered, ids
from tests.support.shipping import Shipyard

PLATFORMS = ["linux-x86_64", "windows-x86_64"]
LINUX, WINDOWS = "linux/x86_64", "windows/x86_64"
LINUX_KEY, WINDOWS_KEY = PLATFORMS
HEALTHY = {"sessions": 10, "crashed": 0}
START = datetime(datetime.now(UTC).year + 1, 6, 15, 12, tzinfo=UTC)
GATE = health.GateInput(max_failure_rate=0.05, min_sample=100)
FLEET = 1_000  # installs on each of the two platforms of the failing fleet


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The fleet asks from one address: no per-address limits."""
    return dataclasses.replace(settings, rate_limit_downloads=0, rate_limit_updates=0)


async def gated(yard: Shipyard, app: Starlette, clock: Clock) -> str:
    """1.0.0 to everyone, 1.1.0 published under a gate, an endpoint hearing every event,
    and the app's recorder on the test's clock; returns 1.1.0's id."""
    await yard.release("1.0.0", PLATFORMS)
    release_id = await yard.release("1.1.0", PLATFORMS)
    await webhooks.create(
        Actor.console(),
        yard.app_id,
        Kind.WEBHOOK,
        WebhookChanges(url="https://93.184.215.14/h"),
        allow_private=False,
    )
    await health.set_gate(Actor.console(), release_id, GATE, now=clock.now)
    recorder(app).use_clock(clock)
    return release_id


def recorder(app: Starlette) -> Recorder:
    found: Recorder = app.state.recorder
    return found


async def settle(app: Starlette, clock: Clock) -> None:
    """Write what the recorder holds, then let the settle time pass."""
    await recorder(app).flush()
    clock.now += health.SETTLE + timedelta(minutes=1)


async def halts_announced(release_id: str) -> list[dict[str, object]]:
    found = []
    for message in await Notification.filter(type=Event.RELEASE_HALTED).order_by("id"):
        data = json.loads(message.body)["data"]
        if data["release"]["id"] == release_id:
            found.append(data)
    return found


async def test_a_platform_whose_installs_do_not_arrive_is_halted_and_the_other_goes_on(
    client: httpx.AsyncClient, yard: Shipyard, app: Starlette
) -> None:
    clock = Clock(START)
    release_id = await gated(yard, app, clock)
    linux, windows = ids(FLEET), ids(FLEET, start=FLEET)

    assert set((await download_offered(client, linux, "1.0.0", LINUX)).values()) == {"1.1.0"}
    assert set((await download_offered(client, windows, "1.0.0", WINDOWS)).values()) == {"1.1.0"}
    await settle(app, clock)
    # Linux installs failed to install it and keep asking on 1.0.0; Windows ones run it.
    assert set((await check_in(client, linux, "1.0.0", LINUX)).values()) == {"1.1.0"}
    assert set((await check_in(client, windows, "1.1.0", WINDOWS)).values()) == {None}
    await recorder(app).flush()

    runner = RampRunner(clock=clock)
    clock.now = START + health.DEFAULT_INTERVAL - timedelta(seconds=1)
    await runner.tick()
    assert await health.halted_platforms(release_id) == [], "not before its interval"
    clock.now = START + health.DEFAULT_INTERVAL
    await runner.tick()

    assert await health.halted_platforms(release_id) == ["linux-x86_64"]
    newcomers = ids(50, start=2 * FLEET)
    assert set((await check_in(client, newcomers, "1.0.0", LINUX)).values()) == {None}
    assert set((await check_in(client, newcomers, "1.0.0", WINDOWS)).values()) == {"1.1.0"}
    assert set((await check_in(client, linux[:50], "1.1.0", LINUX)).values()) == {None}
    read = {p.platform: p for p in await health.read(release_id)}
    assert read["linux-x86_64"].totals == health.Totals(attempts=FLEET, failed=FLEET)
    assert read["windows-x86_64"].totals == health.Totals(attempts=FLEET, arrived=FLEET)
    assert read["linux-x86_64"].halted_at == clock.now
    assert read["windows-x86_64"].halted_at is None

    [announced] = await halts_announced(release_id)
    assert announced["actor"]["kind"] == "server"
    assert announced["halts"] == [
        {
            "platform": "linux-x86_64",
            "reason": f"100 % of {FLEET} installs that downloaded it did not arrive on it; the "
            "gate allows 5 %",
            "attempts": FLEET,
            "failed": FLEET,
            "failure_rate": 1.0,
            "sessions": 0,
            "crash_free_rate": None,
        }
    ]
    assert announced["gate"]["max_failure_rate"] == 0.05
    [message] = await Notification.filter(type=Event.RELEASE_HALTED)
    assert headline(message.message).startswith(
        f"my-app 1.1.0 on stable halted by its health gate on linux-x86_64 (100 % of {FLEET} "
        "installs"
    )
    preview = await yard.gql(
        UPDATE_PREVIEW,
        {"appId": yard.app_id, "target": "linux", "arch": "x86_64", "current": "1.0.0"},
        key=yard.key,
    )
    [skipped] = preview["data"]["updatePreview"]["skipped"]
    assert (skipped["release"]["version"], skipped["reason"]) == ("1.1.0", "HALTED")
    assert skipped["detail"] == (
        f"its health gate halted linux-x86_64 at {clock.now.isoformat()}: 100 % of {FLEET} "
        "installs that downloaded it did not arrive on it; the gate allows 5 %"
    )
    [audited] = await AuditEvent.filter(target_id=release_id, action="release.health_halt")
    assert audited.request_id == "health-gate"
    assert audited.summary.startswith("halted 1.1.0 on linux-x86_64 at 100%: linux-x86_64: 100 %")

    await health.lift(Actor.console(), release_id, "linux-x86_64", "fixed the installer")
    assert await health.halted_platforms(release_id) == []
    assert set((await check_in(client, newcomers, "1.0.0", LINUX)).values()) == {"1.1.0"}
    lifted = {p.platform: p for p in await health.read(release_id)}["linux-x86_64"]
    assert lifted.totals == health.Totals(), "the gate judges what comes after the lift"
    clock.now += health.DEFAULT_INTERVAL
    await runner.tick()
    assert await health.halted_platforms(release_id) == []


async def test_marks_are_gone_once_the_day_is_over_and_keep_no_install_id(
    client: httpx.AsyncClient, yard: Shipyard, app: Starlette
) -> None:
    clock = Clock(START)
    await gated(yard, app, clock)
    fleet = ids(20)
    await download_offered(client, fleet, "1.0.0", LINUX)
    await recorder(app).flush()

    marks = await HealthMark.all()
    assert len(marks) == 20
    stored = {bytes(m.token) for m in marks}
    assert all(len(token) == health.TOKEN_BYTES for token in stored)
    assert not any(install.encode() in token for install in fleet for token in stored)
    sent = [*fleet, "python-httpx"]  # the ids and the user agent (test_privacy: addresses)
    assert not [
        (table, column)
        for table, column, value in await every_value()
        if any(text in str(value) for text in sent)
    ]

    clock.now = START + timedelta(days=1)
    await recorder(app).flush()  # ends the batch begun yesterday
    await recorder(app).flush()  # the first of the new day's: yesterday's key goes
    assert await HealthMark.all().count() == 0
    assert [(c.platform, c.attempts) for c in await HealthCount.all()] == [("linux-x86_64", 20)]


async def test_a_healthy_fleet_completes_its_schedule_and_a_small_one_holds_it(
    client: httpx.AsyncClient, yard: Shipyard, app: Starlette
) -> None:
    clock = Clock(START)
    release_id = await gated(yard, app, clock)
    steps = [Step(50, START), Step(100, START + timedelta(hours=1))]
    await ramps.schedule(Actor.console(), release_id, steps, now=START)
    fleet = ids(400)

    # Too few have downloaded it when the second step falls due: the schedule holds.
    few = [i for i, v in (await check_in(client, fleet[:120], "1.0.0", LINUX)).items() if v]
    await download_offered(client, few[:40], "1.0.0", LINUX)
    await settle(app, clock)
    runner = RampRunner(clock=clock)
    clock.now = START + timedelta(hours=1)
    await runner.tick()
    ramp = await Ramp.get(release_id=release_id)
    assert (await Release.get(id=release_id)).rollout_percent == 50
    assert ramp.paused_by == "health-gate"
    assert ramp.pause_reason == (
        "health gate inconclusive: 40 of 100 installs needed have downloaded it"
    )

    # More of the half offered it download it and arrive on it; resumed, it completes.
    offered = await download_offered(client, fleet, "1.0.0", LINUX)
    reached = [i for i, v in offered.items() if v == "1.1.0"]
    assert len(reached) >= 100, len(reached)
    await settle(app, clock)
    await check_in(client, reached, "1.1.0", LINUX)
    await recorder(app).flush()
    await ramps.resume(Actor.console(), release_id, now=clock.now)
    clock.now += timedelta(hours=2)
    await runner.tick()
    assert (await Release.get(id=release_id)).rollout_percent == 100
    assert await health.halted_platforms(release_id) == []


async def test_two_runners_at_once_halt_once(
    client: httpx.AsyncClient, yard: Shipyard, app: Starlette
) -> None:
    clock = Clock(START)
    release_id = await gated(yard, app, clock)
    fleet = ids(150)
    await download_offered(client, fleet, "1.0.0", LINUX)
    await settle(app, clock)
    await check_in(client, fleet, "1.0.0", LINUX)
    await recorder(app).flush()

    clock.now = START + health.DEFAULT_INTERVAL
    await asyncio.gather(*(RampRunner(clock=clock).tick() for _ in range(2)))

    assert await health.halted_platforms(release_id) == ["linux-x86_64"]
    assert len(await halts_announced(release_id)) == 1
    assert await AuditEvent.filter(action="release.health_halt").count() == 1


async def test_beacons_of_crashing_sessions_halt_a_platform_with_a_crash_free_floor(
    client: httpx.AsyncClient, yard: Shipyard, app: Starlette
) -> None:
    clock = Clock(START)
    release_id = await gated(yard, app, clock)
    floor = dataclasses.replace(GATE, min_crash_free_rate=0.99)
    await health.set_gate(Actor.console(), release_id, floor, now=START)
    beacons = [
        (WINDOWS_KEY, {"sessions": 100, "crashed": 0}),
        (WINDOWS_KEY, {"sessions": 100, "crashed": 1}),
        (LINUX_KEY, {"sessions": 150, "crashed": 15}),
    ]
    for platform, body in beacons:
        sent = await client.post(f"/health/{yard.app_id}/1.1.0/{platform}", json=body)
        assert sent.status_code == 204, sent.text
    await recorder(app).flush()

    clock.now = START + health.DEFAULT_INTERVAL
    await RampRunner(clock=clock).tick()

    read = {p.platform: p for p in await health.read(release_id)}
    assert read[WINDOWS_KEY].totals == health.Totals(sessions=200, crashed=1)
    assert read[WINDOWS_KEY].halted_at is None
    assert read[LINUX_KEY].halt_reason == (
        "90 % of 150 sessions were crash-free; the gate needs 99 %"
    )


async def test_a_beacon_out_of_bounds_is_refused_saying_what_is_accepted(
    client: httpx.AsyncClient, yard: Shipyard, app: Starlette
) -> None:
    await yard.release("1.0.0", PLATFORMS)
    await yard.release("1.1.0", PLATFORMS, publish=False)  # a draft takes no beacons
    url = f"/health/{yard.app_id}/1.0.0/{LINUX_KEY}"

    answers = [
        (await client.post(url, json=body)).json()["error"]["message"]
        for body in (
            [],
            {"sessions": 1},
            {"sessions": 1, "crashed": 0, "user": "x"},
            {"sessions": -1, "crashed": 0},
            {"sessions": 1.5, "crashed": 0},
            {"sessions": True, "crashed": 0},
            {"sessions": 10_001, "crashed": 0},
            {"sessions": 1, "crashed": 2},
        )
    ]
    not_json = await client.post(url, content=b"sessions=1")
    unknown = await client.post(f"/health/{yard.app_id}/1.1.0/{LINUX_KEY}", json=HEALTHY)
    bad_platform = await client.post(f"/health/{yard.app_id}/1.0.0/plan9", json=HEALTHY)
    too_big = await client.post(url, content=b" " * 2000 + b"{}")
    await recorder(app).flush()

    whole = 'the body is a JSON object {"sessions": n, "crashed": m}, nothing else'
    assert answers == [
        whole,
        whole,
        whole,
        "sessions is a whole number from 0 to 10000, got -1",
        "sessions is a whole number from 0 to 10000, got 1.5",
        "sessions is a whole number from 0 to 10000, got True",
        "sessions is a whole number from 0 to 10000, got 10001",
        "crashed (2) counts sessions, so at most sessions (1)",
    ]
    assert not_json.status_code == 400
    assert (unknown.status_code, bad_platform.status_code, too_big.status_code) == (404, 400, 413)
    assert await HealthCount.all().count() == 0
