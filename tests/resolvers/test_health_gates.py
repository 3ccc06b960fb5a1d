"""Health gates through GraphQL: setting, changing and removing one, its checks and
permissions, and lifting a halt (admins only, with a reason).

The gate's verdicts on a fleet of installs are tested with the runner, in
``tests/test_health_gates.py``.
"""

from __future__ import annotations

from typing import Any

from ferryman.models import Artifact, AuditEvent, HealthGate, HealthState, Release
from ferryman.models.actor import KeyScope
from tests.conftest import GraphQL, make_key
from tests.support.api import create_app, payload_of, update_app
from tests.support.database import snapshot
from tests.support.documents import (
    RELEASE_HALT_LIFT,
    RELEASE_HEALTH,
    RELEASE_HEALTH_GATE_REMOVE,
    RELEASE_HEALTH_GATE_SET,
)
from tests.support.health import REASON, halt
from tests.support.refusals import top_error, user_error
from tests.support.rows import published_release

LINUX = "linux-x86_64"
GATE = {"maxFailureRate": 0.05, "minSample": 200}


async def live(gql: GraphQL, key: str) -> str:
    return await published_release(gql, key, await create_app(gql, key), "1.0.0")


async def call(gql: GraphQL, key: str, document: str, name: str, **variables: Any) -> Any:
    return payload_of(await gql(document, variables, key=key), name)


async def test_a_gate_is_set_changed_shown_and_removed(gql: GraphQL, admin_key: str) -> None:
    release_id = await live(gql, admin_key)

    made = await call(
        gql, admin_key, RELEASE_HEALTH_GATE_SET, "releaseHealthGateSet", id=release_id, input=GATE
    )
    changed = await call(
        gql,
        admin_key,
        RELEASE_HEALTH_GATE_SET,
        "releaseHealthGateSet",
        id=release_id,
        input={**GATE, "minCrashFreeRate": 0.99, "intervalMinutes": 5, "failureLimit": 2},
    )
    removed = await call(
        gql, admin_key, RELEASE_HEALTH_GATE_REMOVE, "releaseHealthGateRemove", id=release_id
    )

    gate = made["release"]["healthGate"]
    assert (gate["maxFailureRate"], gate["minSample"], gate["minCrashFreeRate"]) == (
        0.05,
        200,
        None,
    )
    assert (gate["intervalMinutes"], gate["failureLimit"]) == (15, 1)
    gate = changed["release"]["healthGate"]
    assert (gate["minCrashFreeRate"], gate["intervalMinutes"], gate["failureLimit"]) == (0.99, 5, 2)
    assert made["release"]["health"] == []
    assert removed["userErrors"] == []
    assert removed["release"]["healthGate"] is None
    summaries = [
        e.summary
        for e in await AuditEvent.filter(target_id=release_id, action__startswith="release.health")
    ]
    assert summaries == [
        "set a health gate of 1.0.0: failure rate at most 5 %, judged on at least 200 installs "
        "every 15 min, halting after 1 breach in a row",
        "changed the health gate of 1.0.0: failure rate at most 5 %, crash-free sessions at "
        "least 99 %, judged on at least 200 installs every 5 min, halting after 2 breaches in "
        "a row",
        "removed the health gate of 1.0.0",
    ]


# Each field out of bounds, and what the refusal says is accepted.
OUT_OF_BOUNDS = [
    ({"maxFailureRate": 1.0}, "maxFailureRate", "from 0 (none may fail) to below 1"),
    ({"maxFailureRate": -0.1}, "maxFailureRate", "from 0 (none may fail) to below 1"),
    ({"minCrashFreeRate": 0.0}, "minCrashFreeRate", "above 0 up to 1, or null"),
    ({"minSample": 0}, "minSample", "from 1 to 10000000"),
    ({"intervalMinutes": 0}, "intervalMinutes", "from 1 to 1440"),
    ({"failureLimit": 101}, "failureLimit", "from 1 to 100"),
]


async def test_a_gate_out_of_bounds_is_refused_naming_its_field(
    gql: GraphQL, admin_key: str
) -> None:
    release_id = await live(gql, admin_key)
    before = await snapshot()

    for changes, field, accepted in OUT_OF_BOUNDS:
        refused = await call(
            gql,
            admin_key,
            RELEASE_HEALTH_GATE_SET,
            "releaseHealthGateSet",
            id=release_id,
            input={**GATE, **changes},
        )
        assert accepted in user_error(refused, "INVALID_INPUT", ["input", field])
    assert await snapshot() == before


async def test_a_ci_key_gates_only_where_it_may_publish_and_never_lifts(
    gql: GraphQL, admin_key: str
) -> None:
    release_id = await live(gql, admin_key)
    app_id = (await Release.get(id=release_id)).app_id
    ci_key = await make_key(KeyScope.CI, app_id, name="ci")
    await halt(release_id, LINUX)
    before = await snapshot()

    refused = await gql(RELEASE_HEALTH_GATE_SET, {"id": release_id, "input": GATE}, key=ci_key)
    await update_app(gql, admin_key, app_id, ciMayPublish=True)
    allowed = await call(
        gql, ci_key, RELEASE_HEALTH_GATE_SET, "releaseHealthGateSet", id=release_id, input=GATE
    )
    lift = {"id": release_id, "platform": LINUX, "reason": "fixed"}
    not_lifted = await gql(RELEASE_HALT_LIFT, lift, key=ci_key)

    assert "admin key" in top_error(refused, "FORBIDDEN")["message"]
    assert before != await snapshot()  # the allowed gate
    assert allowed["userErrors"] == []
    assert "admin key" in top_error(not_lifted, "FORBIDDEN")["message"]
    assert await HealthState.filter(halted_at__isnull=False).count() == 1


async def test_an_admin_lifts_a_halt_with_a_reason(gql: GraphQL, admin_key: str) -> None:
    release_id = await live(gql, admin_key)
    await halt(release_id, LINUX)

    shown = (await gql(RELEASE_HEALTH, {"id": release_id}, key=admin_key))["data"]["node"]
    no_reason = await call(
        gql,
        admin_key,
        RELEASE_HALT_LIFT,
        "releaseHaltLift",
        id=release_id,
        platform=LINUX,
        reason=" ",
    )
    not_halted = await call(
        gql,
        admin_key,
        RELEASE_HALT_LIFT,
        "releaseHaltLift",
        id=release_id,
        platform="windows-x86_64",
        reason="fixed",
    )
    lifted = await call(
        gql,
        admin_key,
        RELEASE_HALT_LIFT,
        "releaseHaltLift",
        id=release_id,
        platform=LINUX,
        reason="the installer is fixed",
    )

    [platform] = shown["health"]
    assert (platform["platform"], platform["halted"], platform["haltReason"]) == (
        LINUX,
        True,
        REASON,
    )
    assert no_reason["userErrors"][0]["field"] == ["reason"]
    assert "halted: linux-x86_64" in user_error(not_halted, "INVALID_STATE", ["platform"])
    [platform] = lifted["release"]["health"]
    assert (platform["halted"], platform["liftReason"]) == (False, "the installer is fixed")
    assert await Artifact.filter(halted_at__isnull=False).count() == 0
    [event] = await AuditEvent.filter(action="release.health_halt_lift")
    assert event.summary == (
        f"lifted the halt of 1.0.0 on linux-x86_64 ({REASON}): the installer is fixed"
    )


async def test_another_apps_key_can_neither_see_nor_change_a_gate(
    gql: GraphQL, admin_key: str
) -> None:
    release_id = await live(gql, admin_key)
    other_key = await make_key(KeyScope.ADMIN, await create_app(gql, admin_key, "other"), "o")
    before = await snapshot()

    refused = await call(
        gql, other_key, RELEASE_HEALTH_GATE_SET, "releaseHealthGateSet", id=release_id, input=GATE
    )

    assert "not found" in user_error(refused, "NOT_FOUND", ["id"])
    assert not await HealthGate.exists()
    assert await snapshot() == before
