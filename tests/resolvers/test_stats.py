"""App.stats, App.adoption, Release.stats and Release.funnel through the GraphQL
endpoint: what they answer from the daily rows, who may read them, and how bad
arguments are refused. The rows are written directly (:mod:`tests.support.usage`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ferryman.models.actor import KeyScope
from ferryman.models.usage import NEVER, NO_UPDATE
from tests.conftest import GraphQL, make_key
from tests.support.api import create_app, create_release
from tests.support.refusals import top_error, useful
from tests.support.usage import active, check, download, sketch, store

MONDAY = date(2026, 11, 2)
DAY = timedelta(days=1)
APP_STATS = """
query ($id: ID!, $measure: StatsMeasure!, $from: Date!, $to: Date!, $bucket: StatsBucket,
       $by: [StatsDimension!], $channel: String) {
  node(id: $id) {
    ... on App {
      stats(measure: $measure, from: $from, to: $to, bucket: $bucket, by: $by,
            channel: $channel) {
        measure bucket from to by csv
        points { start value version platform channel country answer }
      }
    }
  }
}
"""
RELEASE_READS = """
query ($id: ID!, $from: Date!, $to: Date!) {
  node(id: $id) {
    ... on Release {
      stats(measure: DOWNLOADS, from: $from, to: $to, bucket: WEEK, by: [COUNTRY]) {
        csv points { start value country version }
      }
      funnel { offered downloaded running runningEstimated }
    }
  }
}
"""
ADOPTION = """
query ($id: ID!, $from: Date!, $to: Date!, $channel: String) {
  node(id: $id) {
    ... on App {
      adoption(from: $from, to: $to, channel: $channel) {
        source from to points { day version installs share }
      }
    }
  }
}
"""


def stats_of(result: dict[str, Any]) -> dict[str, Any]:
    assert not result.get("errors"), result
    found: dict[str, Any] = result["data"]["node"]["stats"]
    return found


async def test_an_apps_series_with_its_breakdown_and_csv(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    await store(
        [
            check(app_id, MONDAY, 6, version="1.0.0", answer="1.1.0"),
            check(app_id, MONDAY, 4, version="1.1.0", answer=NO_UPDATE),
            check(app_id, MONDAY + DAY, 1, version="1.0.0", answer="1.1.0", channel="beta"),
            check(app_id, MONDAY + 7 * DAY, 2, version="1.0.0", answer="1.1.0"),
        ]
    )
    variables = {
        "id": app_id,
        "measure": "UPDATE_CHECKS",
        "from": "2026-11-02",
        "to": "2026-11-15",
        "bucket": "WEEK",
        "by": ["ANSWER"],
        "channel": "stable",
    }

    found = stats_of(await gql(APP_STATS, variables, key=admin_key))

    assert (found["measure"], found["bucket"], found["from"], found["to"], found["by"]) == (
        "UPDATE_CHECKS",
        "WEEK",
        "2026-11-02",
        "2026-11-15",
        ["ANSWER"],
    )
    assert found["points"] == [
        point("2026-11-02", 6, answer="1.1.0"),
        point("2026-11-02", 4, answer=NO_UPDATE),
        point("2026-11-09", 2, answer="1.1.0"),
    ]
    assert found["csv"] == (
        "start,answer,value\r\n2026-11-02,1.1.0,6\r\n2026-11-02,none,4\r\n2026-11-09,1.1.0,2\r\n"
    )


def point(start: str, value: int, **labels: str) -> dict[str, Any]:
    empty = dict.fromkeys(("version", "platform", "channel", "country", "answer"))
    return {"start": start, "value": value, **empty, **labels}


async def test_the_defaults_are_days_without_a_breakdown(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    await store([active(app_id, MONDAY, NEVER, 3), active(app_id, MONDAY + DAY, 1, 2)])
    query = """
    query ($id: ID!) { node(id: $id) { ... on App {
      stats(measure: ACTIVE_INSTALLS_7D, from: "2026-11-02", to: "2026-11-04") {
        bucket by points { start value }
      }
    } } }
    """

    found = stats_of(await gql(query, {"id": app_id}, key=admin_key))

    assert (found["bucket"], found["by"]) == ("DAY", [])
    assert found["points"] == [
        {"start": "2026-11-02", "value": 3},
        {"start": "2026-11-03", "value": 3},
        {"start": "2026-11-04", "value": 3},
    ]


async def test_a_releases_series_and_funnel_are_its_versions(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await create_release(gql, admin_key, app_id, "1.1.0")
    today = datetime.now(UTC).date()
    await store(
        [
            download(app_id, MONDAY, 5, version="1.1.0", country="BR"),
            download(app_id, MONDAY + DAY, 2, version="1.1.0", country="BR", channel="beta"),
            download(app_id, MONDAY, 9, version="1.0.0", country="BR"),
            check(app_id, today, 11, version="1.0.0", answer="1.1.0"),
            active(app_id, today - DAY, NEVER, 4, version="1.1.0"),
            sketch(app_id, today - DAY, range(0, 40), version="1.1.0"),
            sketch(app_id, today - DAY, range(0, 90), version="1.0.0"),
        ]
    )

    result = await gql(
        RELEASE_READS, {"id": release_id, "from": "2026-11-02", "to": "2026-11-08"}, key=admin_key
    )

    assert not result.get("errors"), result
    release = result["data"]["node"]
    assert release["stats"]["points"] == [
        {"start": "2026-11-02", "value": 7, "country": "BR", "version": None}
    ]
    assert release["stats"]["csv"] == "start,country,value\r\n2026-11-02,BR,7\r\n"
    assert release["funnel"] == {
        "offered": 11,
        "downloaded": 7,
        "running": 4,
        "runningEstimated": 40,
    }


async def test_adoption_by_version_with_its_source(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    await store(
        [
            sketch(app_id, MONDAY, range(0, 30), version="1.0.0"),
            sketch(app_id, MONDAY, range(30, 40), version="1.1.0", channel="beta"),
        ]
    )
    variables = {"id": app_id, "from": "2026-11-02", "to": "2026-11-03"}

    result = await gql(ADOPTION, variables, key=admin_key)

    assert not result.get("errors"), result
    assert result["data"]["node"]["adoption"] == {
        "source": "ESTIMATED",
        "from": "2026-11-02",
        "to": "2026-11-03",
        "points": [
            {"day": "2026-11-02", "version": "1.0.0", "installs": 30, "share": 0.75},
            {"day": "2026-11-02", "version": "1.1.0", "installs": 10, "share": 0.25},
        ],
    }
    beta = await gql(ADOPTION, {**variables, "channel": "beta"}, key=admin_key)
    assert [p["share"] for p in beta["data"]["node"]["adoption"]["points"]] == [1.0]


# --- who may read them ---------------------------------------------------------------


@pytest.mark.parametrize("scope", [KeyScope.CI, KeyScope.ADMIN])
async def test_a_key_of_one_app_reads_its_stats_and_never_anothers(
    gql: GraphQL, admin_key: str, scope: KeyScope
) -> None:
    mine, theirs = await create_app(gql, admin_key), await create_app(gql, admin_key, "theirs")
    their_release = await create_release(gql, admin_key, theirs, "1.0.0")
    await store([download(mine, MONDAY, 3), download(theirs, MONDAY, 50)])
    key = await make_key(scope, mine, name="limited to mine")
    variables = {"measure": "DOWNLOADS", "from": "2026-11-02", "to": "2026-11-02"}

    own = stats_of(await gql(APP_STATS, {**variables, "id": mine}, key=key))
    other = await gql(APP_STATS, {**variables, "id": theirs}, key=key)
    by_slug = await gql(
        '{ app(slug: "theirs") { stats(measure: DOWNLOADS, from: "2026-11-02", '
        'to: "2026-11-02") { points { value } } adoption(from: "2026-11-02", '
        'to: "2026-11-02") { source } } }',
        key=key,
    )
    release = await gql(
        RELEASE_READS, {"id": their_release, "from": "2026-11-02", "to": "2026-11-02"}, key=key
    )

    assert [p["value"] for p in own["points"]] == [3]
    assert other == {"data": {"node": None}}
    assert by_slug == {"data": {"app": None}}
    assert release == {"data": {"node": None}}


async def test_without_a_key_nothing_is_read(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    variables = {"id": app_id, "measure": "DOWNLOADS", "from": "2026-11-02", "to": "2026-11-02"}

    result = await gql(APP_STATS, variables, key=None)

    assert result.get("data") is None
    top_error(result, "UNAUTHENTICATED")


# --- refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"to": "2027-12-31"}, "spans at most 400 days; got 2026-11-02 to 2027-12-31"),
        ({"to": "2026-11-01"}, "starts on or before its end"),
        ({"by": ["ANSWER"]}, "can be broken down by version, platform, channel, country; "),
        ({"channel": "canary"}, "channel 'canary' is not one of this app's channels"),
        ({"from": "2026-11-31"}, "Date"),
        ({"measure": "INSTALLS"}, "StatsMeasure"),
    ],
)
async def test_bad_arguments_are_refused_saying_what_is_accepted(
    gql: GraphQL, admin_key: str, changes: dict[str, Any], words: str
) -> None:
    app_id = await create_app(gql, admin_key)
    variables = {"id": app_id, "measure": "DOWNLOADS", "from": "2026-11-02", "to": "2026-11-02"}

    result = await gql(APP_STATS, {**variables, **changes}, key=admin_key)

    assert words in useful(top_error(result, "BAD_USER_INPUT")["message"])
