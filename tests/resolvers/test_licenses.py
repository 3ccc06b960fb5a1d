"""licenseCreate / licenseRenew / licenseSuspend / licenseReactivate / licenseRevoke,
App.licenses and node(id:) for licences, and who may use them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ferryman import auth
from ferryman.models import AuditEvent, CoveragePeriod, License
from ferryman.models.actor import KeyScope
from ferryman.models.status import LicenseStatus
from tests.conftest import GraphQL, QueryCounter, make_key
from tests.support.api import create_app
from tests.support.database import snapshot
from tests.support.documents import (
    LICENSE_CREATE,
    LICENSE_REACTIVATE,
    LICENSE_RENEW,
    LICENSE_REVOKE,
    LICENSE_SUSPEND,
    NODE,
    VIEWER,
)
from tests.support.refusals import top_error, user_error

APP_LICENSES = """
query ($id: ID!, $first: Int, $after: String) {
  app(id: $id) {
    licenses(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id customer expiresAt periods { startsAt endsAt } } }
    }
  }
}
"""

UNKNOWN_LICENSE = "lic_01ARZ3NDEKTSV4RRFFQ69G5FAV"
UNKNOWN_APP = "app_01ARZ3NDEKTSV4RRFFQ69G5FAV"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def _create(gql: GraphQL, key: str, **input: Any) -> dict[str, Any]:
    result = await gql(LICENSE_CREATE, {"input": input}, key=key)
    payload: dict[str, Any] = result["data"]["licenseCreate"]
    return payload


async def create_license(gql: GraphQL, key: str, app_id: str, **input: Any) -> str:
    """A licence of ``app_id`` through the API; returns its id."""
    payload = await _create(gql, key, appId=app_id, **input)
    assert payload["userErrors"] == [], payload
    license_id: str = payload["license"]["id"]
    return license_id


async def _renew(gql: GraphQL, key: str, license_id: str, **arguments: Any) -> dict[str, Any]:
    result = await gql(LICENSE_RENEW, {"id": license_id, **arguments}, key=key)
    payload: dict[str, Any] = result["data"]["licenseRenew"]
    return payload


# --- licenseCreate ----------------------------------------------------------------


async def test_license_create_shows_the_key_once_and_stores_its_hash(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key, slug="my-app")
    starts, ends = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)

    payload = await _create(
        gql, admin_key, appId=app_id, customer="  Acme Ltd ", startsAt=iso(starts), endsAt=iso(ends)
    )

    assert payload["userErrors"] == []
    key = payload["key"]
    assert key.startswith("lk_")
    assert auth.LICENSE_PATTERN.fullmatch(key)
    license = payload["license"]
    assert license["id"].startswith("lic_")
    assert license["prefix"] == key[:7]
    assert license["customer"] == "Acme Ltd"
    assert license["status"] == "ACTIVE"
    assert license["statusReason"] is None
    assert license["app"] == {"id": app_id, "slug": "my-app"}
    assert [(at(p["startsAt"]), at(p["endsAt"])) for p in license["periods"]] == [(starts, ends)]
    assert at(license["expiresAt"]) == ends

    # Stored: the SHA-256 of the key and its prefix, never the key itself.
    row = await License.get(id=license["id"])
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert (row.app_id, row.prefix, row.status) == (app_id, key[:7], LicenseStatus.ACTIVE)
    assert key not in repr(await snapshot())
    fields = await gql('{ __type(name: "License") { fields { name } } }', key=admin_key)
    names = {f["name"] for f in fields["data"]["__type"]["fields"]}
    assert not names & {"key", "secret", "keyHash"}, names
    listing = await gql(APP_LICENSES, {"id": app_id}, key=admin_key)
    assert key not in repr(listing)


async def test_license_create_defaults_to_a_year_from_now(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    before = datetime.now(UTC)

    payload = await _create(gql, admin_key, appId=app_id)

    after = datetime.now(UTC)
    assert payload["userErrors"] == []
    (period,) = payload["license"]["periods"]
    starts, ends = at(period["startsAt"]), at(period["endsAt"])
    assert before <= starts <= after
    assert ends == starts.replace(year=starts.year + 1)
    assert at(payload["license"]["expiresAt"]) == ends
    assert payload["license"]["customer"] is None


async def test_license_create_with_only_an_end_starts_now(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    ends = datetime.now(UTC) + timedelta(days=30)

    payload = await _create(gql, admin_key, appId=app_id, endsAt=iso(ends))

    (period,) = payload["license"]["periods"]
    assert abs(at(period["startsAt"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert at(period["endsAt"]) == ends


@pytest.mark.parametrize(
    ("input", "code", "field", "expected"),
    [
        (
            {"startsAt": "2025-02-01T00:00:00Z", "endsAt": "2025-01-01T00:00:00Z"},
            "INVALID_INPUT",
            ["input", "endsAt"],
            "must be later than startsAt",
        ),
        (
            {"startsAt": "2025-01-01T00:00:00Z", "endsAt": "2025-01-01T00:00:00Z"},
            "INVALID_INPUT",
            ["input", "endsAt"],
            "must be later than startsAt",
        ),
        (
            {"startsAt": "2025-01-01T00:00:00Z", "endsAt": "2200-01-01T00:00:00Z"},
            "INVALID_INPUT",
            ["input", "endsAt"],
            "at most 100 years",
        ),
        (
            {"startsAt": "9999-06-01T00:00:00Z"},
            "INVALID_INPUT",
            ["input", "startsAt"],
            "must lie between 1970-01-01 and 9000-01-01",
        ),
        (
            {"endsAt": "0001-01-01T00:00:00+01:00"},
            "INVALID_INPUT",
            ["input", "endsAt"],
            "must lie between",
        ),
        ({"customer": "c" * 201}, "INVALID_INPUT", ["input", "customer"], "200 characters"),
        ({"customer": "nul\x00"}, "INVALID_INPUT", ["input", "customer"], "NUL"),
        ({"appId": UNKNOWN_APP}, "NOT_FOUND", ["input", "appId"], "not found"),
        ({"appId": "my-app"}, "INVALID_INPUT", ["input", "appId"], "app_"),
    ],
)
async def test_license_create_refuses_bad_input(
    gql: GraphQL,
    admin_key: str,
    input: dict[str, str],
    code: str,
    field: list[str],
    expected: str,
) -> None:
    app_id = await create_app(gql, admin_key, slug="my-app")
    before = await snapshot()

    payload = await _create(gql, admin_key, **{"appId": app_id, **input})

    assert payload["license"] is None
    assert payload["key"] is None
    assert expected in user_error(payload, code, field)
    assert await snapshot() == before


async def test_a_date_time_without_an_offset_is_utc(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)

    payload = await _create(
        gql, admin_key, appId=app_id, startsAt="2025-01-01T00:00:00", endsAt="2025-06-01T12:00:00"
    )

    assert payload["userErrors"] == []
    stored = await CoveragePeriod.get(license_id=payload["license"]["id"])
    assert stored.starts_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert stored.ends_at == datetime(2025, 6, 1, 12, tzinfo=UTC)


# --- licenseRenew -----------------------------------------------------------------


async def test_renewing_a_current_licence_continues_its_period(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    now = datetime.now(UTC).replace(microsecond=0)
    first_end = now + timedelta(days=30)
    license_id = await create_license(
        gql, admin_key, app_id, startsAt=iso(now - timedelta(days=335)), endsAt=iso(first_end)
    )

    payload = await _renew(gql, admin_key, license_id)

    assert payload["userErrors"] == []
    periods = [(at(p["startsAt"]), at(p["endsAt"])) for p in payload["license"]["periods"]]
    assert periods[1] == (first_end, first_end.replace(year=first_end.year + 1))
    assert at(payload["license"]["expiresAt"]) == periods[1][1]
    assert await CoveragePeriod.filter(license_id=license_id).count() == 2


async def test_renewing_after_a_lapse_starts_now_and_leaves_the_gap(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    now = datetime.now(UTC).replace(microsecond=0)
    lapsed_at = now - timedelta(days=40)
    license_id = await create_license(
        gql, admin_key, app_id, startsAt=iso(lapsed_at - timedelta(days=365)), endsAt=iso(lapsed_at)
    )

    payload = await _renew(gql, admin_key, license_id, endsAt=iso(now + timedelta(days=90)))

    assert payload["userErrors"] == []
    first, second = payload["license"]["periods"]
    assert at(first["endsAt"]) == lapsed_at
    assert abs(at(second["startsAt"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert at(second["endsAt"]) == now + timedelta(days=90)
    # The 40 days between are not covered: the customer did not pay for them.
    assert at(second["startsAt"]) - at(first["endsAt"]) > timedelta(days=39)


async def test_renewing_with_explicit_dates_after_the_last_end(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    license_id = await create_license(
        gql, admin_key, app_id, startsAt="2025-01-01T00:00:00Z", endsAt="2026-01-01T00:00:00Z"
    )

    payload = await _renew(
        gql, admin_key, license_id, startsAt="2026-01-01T00:00:00Z", endsAt="2026-07-01T00:00:00Z"
    )

    assert payload["userErrors"] == []
    assert [p["endsAt"] for p in payload["license"]["periods"]] == [
        "2026-01-01T00:00:00+00:00",
        "2026-07-01T00:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("arguments", "field", "expected"),
    [
        (
            {"startsAt": "2025-12-31T00:00:00Z", "endsAt": "2026-06-01T00:00:00Z"},
            ["startsAt"],
            "overlap the last one, which ends at 2026-01-01T00:00:00+00:00",
        ),
        (
            {"startsAt": "2024-01-01T00:00:00Z", "endsAt": "2024-06-01T00:00:00Z"},
            ["startsAt"],
            "start it then or later",
        ),
        (
            {"startsAt": "2026-03-01T00:00:00Z", "endsAt": "2026-02-01T00:00:00Z"},
            ["endsAt"],
            "must be later than startsAt",
        ),
    ],
)
async def test_an_overlapping_or_backwards_renewal_is_refused(
    gql: GraphQL, admin_key: str, arguments: dict[str, str], field: list[str], expected: str
) -> None:
    app_id = await create_app(gql, admin_key)
    license_id = await create_license(
        gql, admin_key, app_id, startsAt="2025-01-01T00:00:00Z", endsAt="2026-01-01T00:00:00Z"
    )
    before = await snapshot()

    payload = await _renew(gql, admin_key, license_id, **arguments)

    assert payload["license"] is None
    assert expected in user_error(payload, "INVALID_INPUT", field)
    assert await snapshot() == before


async def test_renewing_an_unknown_licence(gql: GraphQL, admin_key: str) -> None:
    await create_app(gql, admin_key)
    before = await snapshot()

    unknown = await _renew(gql, admin_key, UNKNOWN_LICENSE)
    malformed = await _renew(gql, admin_key, "lk_notanid")

    assert "not found" in user_error(unknown, "NOT_FOUND", ["id"])
    assert "lic_" in user_error(malformed, "INVALID_INPUT", ["id"])
    assert await snapshot() == before


# --- licenseSuspend / licenseReactivate / licenseRevoke ---------------------------


async def test_suspend_reactivate_and_revoke(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    license_id = await create_license(gql, admin_key, app_id, customer="Acme")

    suspended = await gql(LICENSE_SUSPEND, {"id": license_id, "reason": "unpaid"}, key=admin_key)
    assert suspended["data"]["licenseSuspend"] == {
        "license": {"id": license_id, "status": "SUSPENDED", "statusReason": "unpaid"},
        "userErrors": [],
    }
    stored = await License.get(id=license_id)
    assert (stored.status, stored.status_reason) == (LicenseStatus.SUSPENDED, "unpaid")

    reactivated = await gql(LICENSE_REACTIVATE, {"id": license_id}, key=admin_key)
    assert reactivated["data"]["licenseReactivate"] == {
        "license": {"id": license_id, "status": "ACTIVE", "statusReason": None},
        "userErrors": [],
    }

    revoked = await gql(LICENSE_REVOKE, {"id": license_id, "reason": "refunded"}, key=admin_key)
    assert revoked["data"]["licenseRevoke"] == {
        "license": {"id": license_id, "status": "REVOKED", "statusReason": "refunded"},
        "userErrors": [],
    }
    assert (await License.get(id=license_id)).status is LicenseStatus.REVOKED


async def test_reactivating_a_licence_that_is_not_suspended_is_refused(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    license_id = await create_license(gql, admin_key, app_id)
    await gql(LICENSE_REVOKE, {"id": license_id}, key=admin_key)
    before = await snapshot()

    result = await gql(LICENSE_REACTIVATE, {"id": license_id}, key=admin_key)

    payload = result["data"]["licenseReactivate"]
    assert payload["license"] is None
    assert "revoked for good" in user_error(payload, "INVALID_STATE", ["id"])
    assert await snapshot() == before


@pytest.mark.parametrize("operation", ["suspend", "reactivate", "revoke", "renew"])
async def test_a_revoked_licence_is_final(gql: GraphQL, admin_key: str, operation: str) -> None:
    app_id = await create_app(gql, admin_key)
    license_id = await create_license(gql, admin_key, app_id)
    await gql(LICENSE_REVOKE, {"id": license_id, "reason": "fraud"}, key=admin_key)
    before = await snapshot()

    if operation == "renew":
        payload = await _renew(gql, admin_key, license_id)
        expected = "create a new licence instead"
    else:
        document = {
            "suspend": LICENSE_SUSPEND,
            "reactivate": LICENSE_REACTIVATE,
            "revoke": LICENSE_REVOKE,
        }[operation]
        result = await gql(document, {"id": license_id}, key=admin_key)
        payload = result["data"][f"license{operation.title()}"]
        expected = "revoked for good"

    if operation == "revoke":  # revoking again is a no-op, not an error
        assert payload["userErrors"] == []
        assert payload["license"]["statusReason"] == "fraud"
    else:
        assert payload["license"] is None
        message = user_error(payload, "INVALID_STATE", ["id"])
        assert expected in message
        assert "licence" in message
    assert await snapshot() == before


async def test_a_suspension_reason_is_limited(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    license_id = await create_license(gql, admin_key, app_id)
    before = await snapshot()

    result = await gql(LICENSE_SUSPEND, {"id": license_id, "reason": "r" * 501}, key=admin_key)

    assert "500 characters" in user_error(
        result["data"]["licenseSuspend"], "INVALID_INPUT", ["reason"]
    )
    assert await snapshot() == before


async def test_every_licence_change_is_audited(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    license_id = await create_license(gql, admin_key, app_id, customer="Acme")
    await _renew(gql, admin_key, license_id)
    await gql(LICENSE_SUSPEND, {"id": license_id, "reason": "unpaid"}, key=admin_key)
    await gql(LICENSE_REACTIVATE, {"id": license_id}, key=admin_key)
    await gql(LICENSE_REVOKE, {"id": license_id, "reason": "refunded"}, key=admin_key)

    events = await AuditEvent.filter(target_id=license_id).order_by("id")

    assert [e.action for e in events] == [
        "license.create",
        "license.renew",
        "license.suspend",
        "license.reactivate",
        "license.revoke",
    ]
    assert {e.app_id for e in events} == {app_id}
    assert "Acme" in events[0].summary
    assert "unpaid" in events[2].summary
    assert "refunded" in events[4].summary
    listed = await gql(
        "query ($appId: ID!) { auditEvents(appId: $appId, first: 10) "
        "{ edges { node { action targetId } } } }",
        {"appId": app_id},
        key=admin_key,
    )
    actions = [e["node"]["action"] for e in listed["data"]["auditEvents"]["edges"]]
    assert "license.revoke" in actions


# --- reading licences -------------------------------------------------------------


async def test_app_licenses_pages_newest_first(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key, slug="my-app")
    other_app = await create_app(gql, admin_key, slug="other-app")
    ids = [await create_license(gql, admin_key, app_id, customer=f"c{n}") for n in range(3)]
    await create_license(gql, admin_key, other_app)

    first = await gql(APP_LICENSES, {"id": app_id, "first": 2}, key=admin_key)
    page = first["data"]["app"]["licenses"]
    rest = await gql(
        APP_LICENSES,
        {"id": app_id, "first": 2, "after": page["pageInfo"]["endCursor"]},
        key=admin_key,
    )

    assert page["totalCount"] == 3
    assert [e["node"]["id"] for e in page["edges"]] == [ids[2], ids[1]]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False
    second = rest["data"]["app"]["licenses"]
    assert [e["node"]["customer"] for e in second["edges"]] == ["c0"]
    assert second["pageInfo"]["hasNextPage"] is False
    assert all(len(e["node"]["periods"]) == 1 for e in page["edges"] + second["edges"])


async def test_a_page_of_licences_loads_their_periods_in_one_query(
    gql: GraphQL, admin_key: str, sql_log: QueryCounter
) -> None:
    app_id = await create_app(gql, admin_key)
    for n in range(4):
        license_id = await create_license(gql, admin_key, app_id, customer=f"c{n}")
        await _renew(gql, admin_key, license_id)
    sql_log.statements.clear()

    result = await gql(APP_LICENSES, {"id": app_id, "first": 10}, key=admin_key)

    edges = result["data"]["app"]["licenses"]["edges"]
    assert len(edges) == 4
    assert all(len(e["node"]["periods"]) == 2 for e in edges)
    assert all(at(e["node"]["expiresAt"]) == at(e["node"]["periods"][1]["endsAt"]) for e in edges)
    periods_queries = [s for s in sql_log.statements if "license_periods" in s]
    assert len(periods_queries) == 1, periods_queries


async def test_node_finds_a_licence(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key, slug="my-app")
    license_id = await create_license(gql, admin_key, app_id, customer="Acme")

    result = await gql(
        "query ($id: ID!, $unknown: ID!) { "
        "found: node(id: $id) { id ... on License { customer status app { slug } } } "
        "missing: node(id: $unknown) { id } }",
        {"id": license_id, "unknown": UNKNOWN_LICENSE},
        key=admin_key,
    )

    assert result == {
        "data": {
            "found": {
                "id": license_id,
                "customer": "Acme",
                "status": "ACTIVE",
                "app": {"slug": "my-app"},
            },
            "missing": None,
        }
    }


# --- who may manage licences -------------------------------------------------------


@dataclass
class Licensed:
    app_id: str
    license_id: str
    other_app_id: str
    other_license_id: str


@pytest.fixture
async def licensed(gql: GraphQL, admin_key: str) -> Licensed:
    app_id = await create_app(gql, admin_key, slug="own-app")
    other_app_id = await create_app(gql, admin_key, slug="other-app")
    return Licensed(
        app_id,
        await create_license(gql, admin_key, app_id),
        other_app_id,
        await create_license(gql, admin_key, other_app_id),
    )


CI_FORBIDDEN: dict[str, tuple[str, Any]] = {
    "licenseCreate": (
        "mutation ($appId: ID!) { licenseCreate(input: {appId: $appId}) { key } }",
        lambda w: {"appId": w.app_id},
    ),
    "licenseRenew": (
        "mutation ($id: ID!) { licenseRenew(id: $id) { license { id } } }",
        lambda w: {"id": w.license_id},
    ),
    "licenseSuspend": (
        "mutation ($id: ID!) { licenseSuspend(id: $id) { license { id } } }",
        lambda w: {"id": w.license_id},
    ),
    "licenseReactivate": (
        "mutation ($id: ID!) { licenseReactivate(id: $id) { license { id } } }",
        lambda w: {"id": w.license_id},
    ),
    "licenseRevoke": (
        "mutation ($id: ID!) { licenseRevoke(id: $id) { license { id } } }",
        lambda w: {"id": w.license_id},
    ),
}


@pytest.mark.parametrize("operation", sorted(CI_FORBIDDEN))
async def test_a_ci_key_cannot_manage_licences(
    gql: GraphQL, licensed: Licensed, operation: str
) -> None:
    ci_key = await make_key(KeyScope.CI, licensed.app_id, name="ci")
    await gql(VIEWER, key=ci_key)  # first use, so last_used_at is settled
    query, variables = CI_FORBIDDEN[operation]
    before = await snapshot()

    result = await gql(query, variables(licensed), key=ci_key)

    assert result["data"] is None
    error = top_error(result, "FORBIDDEN")
    assert error["path"] == [operation]
    assert "admin key" in error["message"]
    assert await snapshot() == before


async def test_a_ci_key_cannot_read_licences(gql: GraphQL, licensed: Licensed) -> None:
    ci_key = await make_key(KeyScope.CI, licensed.app_id, name="ci")

    listing = await gql(APP_LICENSES, {"id": licensed.app_id}, key=ci_key)
    node = await gql(NODE, {"id": licensed.license_id}, key=ci_key)

    assert "admin key" in top_error(listing, "FORBIDDEN")["message"]
    assert node == {"data": {"node": None}}


SCOPED: dict[str, tuple[str, str, str, str]] = {
    # name: (document, which Licensed id it names, the same kind of id that does not exist,
    # the field at fault)
    "licenseCreate": (
        "mutation ($id: ID!) { m: licenseCreate(input: {appId: $id}) "
        "{ key license { id } userErrors { field message code } } }",
        "other_app_id",
        UNKNOWN_APP,
        "input.appId",
    ),
    "licenseRenew": (
        "mutation ($id: ID!) { m: licenseRenew(id: $id) "
        "{ license { id } userErrors { field message code } } }",
        "other_license_id",
        UNKNOWN_LICENSE,
        "id",
    ),
    "licenseSuspend": (
        "mutation ($id: ID!) { m: licenseSuspend(id: $id) "
        "{ license { id } userErrors { field message code } } }",
        "other_license_id",
        UNKNOWN_LICENSE,
        "id",
    ),
    "licenseRevoke": (
        "mutation ($id: ID!) { m: licenseRevoke(id: $id) "
        "{ license { id } userErrors { field message code } } }",
        "other_license_id",
        UNKNOWN_LICENSE,
        "id",
    ),
    "licenseReactivate": (
        "mutation ($id: ID!) { m: licenseReactivate(id: $id) "
        "{ license { id } userErrors { field message code } } }",
        "other_license_id",
        UNKNOWN_LICENSE,
        "id",
    ),
}


@pytest.mark.parametrize("operation", sorted(SCOPED))
async def test_an_admin_key_of_another_app_gets_not_found(
    gql: GraphQL, licensed: Licensed, operation: str
) -> None:
    scoped_admin = await make_key(KeyScope.ADMIN, licensed.app_id, name="scoped admin")
    await gql(VIEWER, key=scoped_admin)
    query, attribute, fake_id, field = SCOPED[operation]
    real_id = getattr(licensed, attribute)
    before = await snapshot()

    seen = (await gql(query, {"id": real_id}, key=scoped_admin))["data"]["m"]
    missing = (await gql(query, {"id": fake_id}, key=scoped_admin))["data"]["m"]

    message = user_error(seen, "NOT_FOUND", field.split("."))
    assert message.replace(real_id, "<id>") == user_error(
        missing, "NOT_FOUND", field.split(".")
    ).replace(fake_id, "<id>")
    assert await snapshot() == before


async def test_an_admin_key_of_one_app_manages_its_own_licences_only(
    gql: GraphQL, licensed: Licensed
) -> None:
    scoped_admin = await make_key(KeyScope.ADMIN, licensed.app_id, name="scoped admin")

    own = await _create(gql, scoped_admin, appId=licensed.app_id, customer="mine")
    listing = await gql(APP_LICENSES, {"id": licensed.app_id}, key=scoped_admin)
    other = await gql(APP_LICENSES, {"id": licensed.other_app_id}, key=scoped_admin)
    node = await gql(
        NODE,
        {"id": licensed.other_license_id},
        key=scoped_admin,
    )

    assert own["userErrors"] == []
    assert listing["data"]["app"]["licenses"]["totalCount"] == 2
    assert other == {"data": {"app": None}}
    assert node == {"data": {"node": None}}


SEARCH_LICENSES = """
query ($id: ID!, $customer: String, $status: LicenseStatus, $after: DateTime,
       $before: DateTime) {
  app(id: $id) {
    licenses(customer: $customer, status: $status, expiresAfter: $after,
             expiresBefore: $before) {
      totalCount
      edges { node { customer } }
    }
  }
}
"""


async def test_licences_are_searched_by_customer_status_and_expiry(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    now = datetime.now(UTC)
    for customer, ends in (("ACME 50% off", 30), ("Beta_Ltd", 300), ("Gamma", -10)):
        starts = now - timedelta(days=400)
        created = await _create(
            gql,
            admin_key,
            appId=app_id,
            customer=customer,
            startsAt=iso(starts),
            endsAt=iso(now + timedelta(days=ends)),
        )
        assert created["userErrors"] == [], created
    beta = await License.get(customer="Beta_Ltd")
    await gql(LICENSE_SUSPEND, {"id": beta.id, "reason": "unpaid"}, key=admin_key)

    async def customers(**search: Any) -> list[str]:
        result = await gql(SEARCH_LICENSES, {"id": app_id, **search}, key=admin_key)
        assert not result.get("errors"), result
        found = result["data"]["app"]["licenses"]
        names = [edge["node"]["customer"] for edge in found["edges"]]
        assert found["totalCount"] == len(names)
        return names

    assert await customers(customer="acme") == ["ACME 50% off"]
    assert await customers(customer="50%") == ["ACME 50% off"]  # % is a character here
    assert await customers(customer="m_a") == []  # and so is _ (Gamma has "mma")
    assert await customers(status="SUSPENDED") == ["Beta_Ltd"]
    assert await customers(before=iso(now)) == ["Gamma"]
    assert await customers(after=iso(now), before=iso(now + timedelta(days=60))) == ["ACME 50% off"]
    assert len(await customers()) == 3
    refused = await gql(SEARCH_LICENSES, {"id": app_id, "customer": "x" * 201}, key=admin_key)
    assert (
        "customer is longer than 200 characters" in top_error(refused, "BAD_USER_INPUT")["message"]
    )
