"""Rollout schedules through GraphQL: setting one (listed steps or PHASED), its checks and
permissions, pausing, resuming, cancelling, and a hand-set percentage ending it.

The schedule's steps being taken over time are tested with the runner, in
``tests/test_ramp_runner.py``.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ferryman.models import AuditEvent, Ramp, Release
from ferryman.models.actor import KeyScope
from ferryman.models.ramp import MAX_STEPS
from tests.conftest import GraphQL, make_key
from tests.support.api import create_app, create_release, payload_of, update_app
from tests.support.database import snapshot
from tests.support.documents import (
    RELEASE_ARCHIVE,
    RELEASE_DELETE,
    RELEASE_ROLLBACK,
    RELEASE_ROLLOUT,
    RELEASE_ROLLOUT_PAUSE,
    RELEASE_ROLLOUT_RESUME,
    RELEASE_ROLLOUT_SCHEDULE,
    RELEASE_ROLLOUT_SCHEDULE_CANCEL,
    RELEASE_SCHEDULE,
)
from tests.support.refusals import top_error, user_error
from tests.support.rows import published_release

LATER = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


def at(hours: float) -> str:
    return (LATER + timedelta(hours=hours)).isoformat()


async def live(gql: GraphQL, key: str) -> str:
    """A published release of a new app my-app."""
    return await published_release(gql, key, await create_app(gql, key), "1.0.0")


async def call(gql: GraphQL, key: str, document: str, name: str, **variables: Any) -> Any:
    return payload_of(await gql(document, variables, key=key), name)


async def scheduled(gql: GraphQL, key: str, release_id: str, **variables: Any) -> Any:
    payload = await call(
        gql, key, RELEASE_ROLLOUT_SCHEDULE, "releaseRolloutSchedule", id=release_id, **variables
    )
    assert payload["userErrors"] == [], payload
    return payload["release"]


async def test_phased_starts_at_1_percent_now_with_a_step_a_day(
    gql: GraphQL, admin_key: str
) -> None:
    release_id = await live(gql, admin_key)
    before = datetime.now(UTC)

    release = await scheduled(gql, admin_key, release_id, preset="PHASED", reason="new sync")

    schedule = release["rolloutSchedule"]
    assert release["rolloutPercent"] == 1
    assert [s["percent"] for s in schedule["steps"]] == [1, 2, 5, 10, 20, 50, 100]
    times = [datetime.fromisoformat(s["notBefore"]) for s in schedule["steps"]]
    assert before - timedelta(seconds=1) <= times[0] <= datetime.now(UTC)
    assert {b - a for a, b in itertools.pairwise(times)} == {timedelta(hours=24)}
    assert schedule["reached"] == 1
    assert schedule["steps"][0]["reachedAt"] is not None
    assert schedule["nextStep"]["position"] == 2
    assert not schedule["finished"]
    assert not schedule["paused"]
    event = await AuditEvent.get(target_id=release_id, action="release.rollout_schedule")
    assert "7 steps" in event.summary
    assert "now at 1%" in event.summary
    assert event.summary.endswith(": new sync")


async def test_listed_steps_in_the_future_hold_the_release_at_0_percent(
    gql: GraphQL, admin_key: str
) -> None:
    release_id = await live(gql, admin_key)
    steps = [{"percent": 10, "notBefore": at(0)}, {"percent": 100, "notBefore": at(2)}]

    release = await scheduled(gql, admin_key, release_id, steps=steps)

    assert release["rolloutPercent"] == 0
    schedule = release["rolloutSchedule"]
    assert schedule["reached"] == 0
    assert schedule["nextStep"] == {"position": 1, "percent": 10, "notBefore": at(0)}
    assert [s["reachedAt"] for s in schedule["steps"]] == [None, None]


FAR = [{"percent": 100, "notBefore": at(0)}]
REFUSED = [
    ({}, ["steps"], "either steps"),
    ({"steps": FAR, "preset": "PHASED"}, ["steps"], "not both"),
    ({"steps": FAR, "start": at(0)}, ["start"], "start goes with a preset"),
    ({"steps": []}, ["steps"], f"1 to {MAX_STEPS} steps, got 0"),
    (
        {"steps": [{"percent": p, "notBefore": at(0)} for p in range(1, MAX_STEPS + 2)]},
        ["steps"],
        f"got {MAX_STEPS + 1}",
    ),
    ({"steps": [{"percent": 0, "notBefore": at(0)}]}, ["steps", "0", "percent"], "1 to 100"),
    (
        {"steps": [{"percent": 5, "notBefore": at(0)}, {"percent": 101, "notBefore": at(1)}]},
        ["steps", "1", "percent"],
        "got 101",
    ),
    (
        {"steps": [{"percent": 5, "notBefore": at(0)}, {"percent": 5, "notBefore": at(1)}]},
        ["steps", "1", "percent"],
        "rise strictly",
    ),
    (
        {"steps": [{"percent": 5, "notBefore": at(1)}, {"percent": 9, "notBefore": at(0)}]},
        ["steps", "1", "notBefore"],
        "may not go back",
    ),
    (
        {"steps": [{"percent": 5, "notBefore": "0001-01-01T00:00:00+00:00"}]},
        ["steps", "0", "notBefore"],
        "must lie between",
    ),
    ({"preset": "PHASED", "reason": "  "}, ["reason"], "not blank"),
]


@pytest.mark.parametrize(("variables", "field", "said"), REFUSED)
async def test_a_bad_schedule_is_refused_naming_its_field(
    gql: GraphQL, admin_key: str, variables: dict[str, Any], field: list[str], said: str
) -> None:
    release_id = await live(gql, admin_key)
    before = await snapshot()

    payload = await call(
        gql,
        admin_key,
        RELEASE_ROLLOUT_SCHEDULE,
        "releaseRolloutSchedule",
        id=release_id,
        **variables,
    )

    assert said in user_error(payload, "INVALID_INPUT", field)
    assert await snapshot() == before


async def test_an_archived_release_takes_no_schedule(gql: GraphQL, admin_key: str) -> None:
    release_id = await live(gql, admin_key)
    await gql(RELEASE_ARCHIVE, {"id": release_id}, key=admin_key)

    payload = await call(
        gql,
        admin_key,
        RELEASE_ROLLOUT_SCHEDULE,
        "releaseRolloutSchedule",
        id=release_id,
        preset="PHASED",
    )

    assert "archived" in user_error(payload, "INVALID_STATE", ["id"])
    assert not await Ramp.exists()


async def test_pause_resume_and_cancel_keep_who_and_why(gql: GraphQL, admin_key: str) -> None:
    release_id = await live(gql, admin_key)
    await scheduled(gql, admin_key, release_id, preset="PHASED")
    admin_id = (await AuditEvent.get(action="release.rollout_schedule")).key_id

    paused = await call(
        gql,
        admin_key,
        RELEASE_ROLLOUT_PAUSE,
        "releaseRolloutPause",
        id=release_id,
        reason="crashes",
    )
    again = await call(
        gql, admin_key, RELEASE_ROLLOUT_PAUSE, "releaseRolloutPause", id=release_id, reason="more"
    )
    resumed = await call(
        gql, admin_key, RELEASE_ROLLOUT_RESUME, "releaseRolloutResume", id=release_id
    )
    not_paused = await call(
        gql, admin_key, RELEASE_ROLLOUT_RESUME, "releaseRolloutResume", id=release_id
    )
    cancelled = await call(
        gql,
        admin_key,
        RELEASE_ROLLOUT_SCHEDULE_CANCEL,
        "releaseRolloutScheduleCancel",
        id=release_id,
    )
    none_left = await call(
        gql,
        admin_key,
        RELEASE_ROLLOUT_SCHEDULE_CANCEL,
        "releaseRolloutScheduleCancel",
        id=release_id,
    )

    shown = paused["release"]["rolloutSchedule"]
    assert shown["paused"]
    assert shown["pauseReason"] == "crashes"
    assert shown["pausedBy"] == admin_id
    assert shown["pausedAt"] is not None
    assert "paused since" in user_error(again, "INVALID_STATE", ["id"])
    assert not resumed["release"]["rolloutSchedule"]["paused"]
    assert resumed["release"]["rolloutSchedule"]["pausedBy"] is None
    assert "not paused" in user_error(not_paused, "INVALID_STATE", ["id"])
    assert cancelled["release"] == {"id": release_id, "rolloutPercent": 1, "rolloutSchedule": None}
    assert "no rollout schedule" in user_error(none_left, "INVALID_STATE", ["id"])
    actions = await AuditEvent.filter(target_id=release_id, action__startswith="release.rollout_")
    assert sorted(e.action for e in actions) == [
        "release.rollout_pause",
        "release.rollout_resume",
        "release.rollout_schedule",
        "release.rollout_schedule_cancel",
    ]


async def test_a_finished_schedule_cannot_be_paused(gql: GraphQL, admin_key: str) -> None:
    release_id = await live(gql, admin_key)
    past = [{"percent": 50, "notBefore": "2020-01-01T00:00:00Z"}]
    release = await scheduled(
        gql,
        admin_key,
        release_id,
        steps=[*past, {"percent": 100, "notBefore": "2020-01-02T00:00:00Z"}],
    )

    payload = await call(
        gql, admin_key, RELEASE_ROLLOUT_PAUSE, "releaseRolloutPause", id=release_id, reason="late"
    )

    assert release["rolloutPercent"] == 100
    assert release["rolloutSchedule"]["finished"]
    assert "last step" in user_error(payload, "INVALID_STATE", ["id"])


async def test_setting_a_percentage_by_hand_ends_the_schedule(gql: GraphQL, admin_key: str) -> None:
    release_id = await live(gql, admin_key)
    await scheduled(gql, admin_key, release_id, preset="PHASED")

    await gql(RELEASE_ROLLOUT, {"id": release_id, "percent": 30}, key=admin_key)
    shown = await gql(RELEASE_SCHEDULE, {"id": release_id}, key=admin_key)

    assert shown["data"]["node"] == {
        "id": release_id,
        "rolloutPercent": 30,
        "rolloutSchedule": None,
    }
    event = await AuditEvent.get(target_id=release_id, action="release.rollout")
    assert event.summary.endswith(
        "30% of installs, ending its rollout schedule (step 1 of 7 reached)"
    )


async def test_a_drafts_schedule_goes_with_the_draft(gql: GraphQL, admin_key: str) -> None:
    draft_id = await create_release(gql, admin_key, await create_app(gql, admin_key), "2.0.0")

    release = await scheduled(gql, admin_key, draft_id, preset="PHASED", start=at(0))
    await gql(RELEASE_DELETE, {"id": draft_id}, key=admin_key)

    assert release["rolloutPercent"] == 0
    assert not await Ramp.exists()


async def test_a_ci_key_schedules_only_where_it_may_publish(gql: GraphQL, admin_key: str) -> None:
    release_id = await live(gql, admin_key)
    app_id = (await Release.get(id=release_id)).app_id
    ci_key = await make_key(KeyScope.CI, app_id, name="ci")
    before = await snapshot()

    refused = [
        await gql(RELEASE_ROLLOUT_SCHEDULE, {"id": release_id, "preset": "PHASED"}, key=ci_key),
        await gql(RELEASE_ROLLOUT_PAUSE, {"id": release_id, "reason": "r"}, key=ci_key),
        await gql(RELEASE_ROLLOUT_RESUME, {"id": release_id}, key=ci_key),
        await gql(RELEASE_ROLLOUT_SCHEDULE_CANCEL, {"id": release_id}, key=ci_key),
    ]
    assert await snapshot() == before
    await update_app(gql, admin_key, app_id, ciMayPublish=True)
    allowed = await call(
        gql,
        ci_key,
        RELEASE_ROLLOUT_SCHEDULE,
        "releaseRolloutSchedule",
        id=release_id,
        preset="PHASED",
    )

    for result in refused:
        assert "admin key" in top_error(result, "FORBIDDEN")["message"]
    assert allowed["userErrors"] == []
    assert allowed["release"]["rolloutPercent"] == 1


async def test_another_apps_key_can_neither_see_nor_change_a_schedule(
    gql: GraphQL, admin_key: str
) -> None:
    release_id = await live(gql, admin_key)
    await scheduled(gql, admin_key, release_id, preset="PHASED")
    other_app = await create_app(gql, admin_key, slug="other")
    other_key = await make_key(KeyScope.ADMIN, other_app, name="other admin")
    before = await snapshot()

    seen = await gql(RELEASE_SCHEDULE, {"id": release_id}, key=other_key)
    paused = await call(
        gql, other_key, RELEASE_ROLLOUT_PAUSE, "releaseRolloutPause", id=release_id, reason="r"
    )
    cancelled = await call(
        gql,
        other_key,
        RELEASE_ROLLOUT_SCHEDULE_CANCEL,
        "releaseRolloutScheduleCancel",
        id=release_id,
    )

    assert seen["data"]["node"] is None
    assert "not found" in user_error(paused, "NOT_FOUND", ["id"])
    assert "not found" in user_error(cancelled, "NOT_FOUND", ["id"])
    assert await snapshot() == before


async def test_rolling_back_to_a_scheduled_release_ends_its_schedule(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    older = await published_release(gql, admin_key, app_id, "1.0.0")
    await scheduled(gql, admin_key, older, preset="PHASED")
    await published_release(gql, admin_key, app_id, "1.1.0")

    rolled = await call(
        gql, admin_key, RELEASE_ROLLBACK, "releaseRollback", appId=app_id, channel="stable"
    )
    shown = await gql(RELEASE_SCHEDULE, {"id": older}, key=admin_key)

    assert rolled["userErrors"] == []
    assert shown["data"]["node"] == {"id": older, "rolloutPercent": 100, "rolloutSchedule": None}
