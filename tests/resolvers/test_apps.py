"""appCreate / appUpdate / appDelete, app(id:|slug:), releaseCount and latestVersion.

READY artifacts here are rows without a file (:mod:`tests.support.rows`): the subject is
the API, not what an updater is offered.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.models import ApiKey, App, Artifact, Release
from ferryman.models.actor import KeyScope
from ferryman.models.ids import new_id
from ferryman.models.status import Distribution, ExpiredPolicy, ReleaseStatus
from tests.conftest import GraphQL, make_key
from tests.support.api import create_app, create_release
from tests.support.database import snapshot
from tests.support.documents import APP_CREATE, APP_DELETE, APP_UPDATE, VIEWER
from tests.support.refusals import top_error, user_error
from tests.support.rows import add_artifact, published_release

APP_QUERY = """
query ($id: ID, $slug: String) {
  app(id: $id, slug: $slug) { id slug name releaseCount latestVersion }
}
"""
TAURI = Path(__file__).parent.parent / "data" / "tauri"
PUBLIC_KEY = (TAURI / "app.pub").read_text()
SIGNATURE = (TAURI / "MyApp.app.tar.gz.sig").read_text()


# --- appCreate --------------------------------------------------------------------


async def test_app_create_returns_and_stores_the_app(gql: GraphQL, admin_key: str) -> None:
    variables = {
        "input": {
            "slug": "photo-tool",
            "name": "  Photo Tool  ",
            "description": "Edits photos",
            "publicKey": f"  {PUBLIC_KEY}\n",
        }
    }
    result = await gql(APP_CREATE, variables, key=admin_key)

    payload = result["data"]["appCreate"]
    assert payload["userErrors"] == []
    app = payload["app"]
    assert app["id"].startswith("app_")
    assert app["slug"] == "photo-tool"
    assert app["name"] == "Photo Tool"
    assert app["description"] == "Edits photos"
    assert app["publicKey"] == PUBLIC_KEY
    assert app["releaseCount"] == 0
    assert app["latestVersion"] is None
    stored = await App.get(id=app["id"])
    assert (stored.slug, stored.name, stored.description, stored.public_key) == (
        "photo-tool",
        "Photo Tool",
        "Edits photos",
        PUBLIC_KEY,
    )


@pytest.mark.parametrize(
    ("public_key", "message"),
    [
        ("dW50cnVzdGVkIGNvbW1lbnQ6IG1pbmlzaWdu", "incomplete or damaged"),
        (SIGNATURE, "not a minisign public key"),
        ("~/.tauri/myapp.key.pub", "looks like a file path"),
    ],
)
async def test_app_create_and_update_refuse_a_bad_public_key(
    gql: GraphQL, admin_key: str, public_key: str, message: str
) -> None:
    app_id = await create_app(gql, admin_key, slug="keyed")
    before = await snapshot()

    created = await gql(
        APP_CREATE,
        {"input": {"slug": "other", "name": "Other", "publicKey": public_key}},
        key=admin_key,
    )
    updated = await gql(
        APP_UPDATE, {"id": app_id, "input": {"publicKey": public_key}}, key=admin_key
    )

    assert message in user_error(
        created["data"]["appCreate"], "INVALID_INPUT", ["input", "publicKey"]
    )
    assert message in user_error(
        updated["data"]["appUpdate"], "INVALID_INPUT", ["input", "publicKey"]
    )
    assert await snapshot() == before


@pytest.mark.parametrize("slug", ["a", "x" * 64, "my-app-2", "0", "a-b-c"])
async def test_app_create_accepts_valid_slugs(gql: GraphQL, admin_key: str, slug: str) -> None:
    result = await gql(APP_CREATE, {"input": {"slug": slug, "name": "App"}}, key=admin_key)

    assert result["data"]["appCreate"]["userErrors"] == []
    assert result["data"]["appCreate"]["app"]["slug"] == slug
    assert await App.filter(slug=slug).count() == 1


async def test_app_create_refuses_a_taken_slug(gql: GraphQL, admin_key: str) -> None:
    await create_app(gql, admin_key, slug="my-app", name="First")
    before = await snapshot()

    result = await gql(APP_CREATE, {"input": {"slug": "my-app", "name": "Second"}}, key=admin_key)

    payload = result["data"]["appCreate"]
    assert payload["app"] is None
    message = user_error(payload, "TAKEN", ["input", "slug"])
    assert "my-app" in message
    assert "already used" in message
    assert await snapshot() == before
    assert [a.name for a in await App.all()] == ["First"]


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("My App", "lowercase letters, digits"),
        ("-x", "starting and ending with a letter or digit"),
        ("x-", "starting and ending with a letter or digit"),
        ("x" * 65, "1 to 64"),
        ("", "1 to 64"),
        ("my_app", "lowercase letters, digits"),
        ("graphql", "reserved"),
        ("healthz", "reserved"),
        ("admin", "reserved"),
    ],
)
async def test_app_create_refuses_an_invalid_slug(
    gql: GraphQL, admin_key: str, slug: str, expected: str
) -> None:
    before = await snapshot()

    result = await gql(APP_CREATE, {"input": {"slug": slug, "name": "App"}}, key=admin_key)

    payload = result["data"]["appCreate"]
    assert payload["app"] is None
    message = user_error(payload, "INVALID_INPUT", ["input", "slug"])
    assert expected in message
    assert await snapshot() == before
    assert await App.all().count() == 0


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
async def test_app_create_refuses_a_blank_or_long_name(
    gql: GraphQL, admin_key: str, name: str
) -> None:
    before = await snapshot()

    result = await gql(APP_CREATE, {"input": {"slug": "my-app", "name": name}}, key=admin_key)

    payload = result["data"]["appCreate"]
    assert payload["app"] is None
    message = user_error(payload, "INVALID_INPUT", ["input", "name"])
    assert "1 to 200 characters" in message
    assert await snapshot() == before


async def test_app_create_refuses_an_over_long_description(gql: GraphQL, admin_key: str) -> None:
    before = await snapshot()

    result = await gql(
        APP_CREATE,
        {"input": {"slug": "my-app", "name": "App", "description": "d" * 2001}},
        key=admin_key,
    )

    message = user_error(result["data"]["appCreate"], "INVALID_INPUT", ["input", "description"])
    assert "2000" in message
    assert await snapshot() == before


@pytest.mark.parametrize(
    ("field", "graphql_field"),
    [("name", "name"), ("description", "description"), ("publicKey", "publicKey")],
)
async def test_app_create_refuses_nul_characters(
    gql: GraphQL, admin_key: str, field: str, graphql_field: str
) -> None:
    # PostgreSQL cannot store U+0000: it must be a user error, not an internal one.
    before = await snapshot()
    app_input = {"slug": "my-app", "name": "App", field: "before\x00after"}

    result = await gql(APP_CREATE, {"input": app_input}, key=admin_key)

    assert "errors" not in result, result
    message = user_error(result["data"]["appCreate"], "INVALID_INPUT", ["input", graphql_field])
    assert "NUL" in message
    assert await snapshot() == before


# --- appUpdate --------------------------------------------------------------------


async def test_app_update_changes_only_given_fields(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key, slug="old-slug", name="Old name")
    await App.filter(id=app_id).update(description="keep me")

    result = await gql(
        APP_UPDATE, {"id": app_id, "input": {"slug": "new-slug", "name": "New name"}}, key=admin_key
    )

    payload = result["data"]["appUpdate"]
    assert payload["userErrors"] == []
    assert payload["app"]["slug"] == "new-slug"
    assert payload["app"]["name"] == "New name"
    assert payload["app"]["description"] == "keep me"
    stored = await App.get(id=app_id)
    assert (stored.slug, stored.name, stored.description) == ("new-slug", "New name", "keep me")


async def test_app_update_with_empty_string_clears_optional_fields(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    await App.filter(id=app_id).update(description="something", public_key="KEY")

    result = await gql(
        APP_UPDATE, {"id": app_id, "input": {"description": "", "publicKey": ""}}, key=admin_key
    )

    assert result["data"]["appUpdate"]["userErrors"] == []
    stored = await App.get(id=app_id)
    assert stored.description is None
    assert stored.public_key is None


async def test_app_update_refuses_a_slug_taken_by_another_app(gql: GraphQL, admin_key: str) -> None:
    await create_app(gql, admin_key, slug="first")
    second = await create_app(gql, admin_key, slug="second")
    before = await snapshot()

    result = await gql(APP_UPDATE, {"id": second, "input": {"slug": "first"}}, key=admin_key)

    payload = result["data"]["appUpdate"]
    assert payload["app"] is None
    assert "first" in user_error(payload, "TAKEN", ["input", "slug"])
    assert await snapshot() == before


async def test_an_app_keeps_a_slug_reserved_since_it_took_it(gql: GraphQL, admin_key: str) -> None:
    """An app named admin before the admin API reserved the name saves its settings as
    they are (the console sends the slug with every save); no other app may take it."""
    old = await App.create(id=new_id("app"), slug="admin", name="Admin")
    other = await create_app(gql, admin_key, slug="other")

    kept = await gql(
        APP_UPDATE, {"id": old.id, "input": {"slug": "admin", "name": "Ops"}}, key=admin_key
    )
    taken = await gql(APP_UPDATE, {"id": other, "input": {"slug": "admin"}}, key=admin_key)

    assert kept["data"]["appUpdate"] == {
        "app": {**kept["data"]["appUpdate"]["app"], "slug": "admin", "name": "Ops"},
        "userErrors": [],
    }
    assert "reserved" in user_error(taken["data"]["appUpdate"], "INVALID_INPUT", ["input", "slug"])
    assert (await App.get(id=other)).slug == "other"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"slug": "Not Valid"}, ["input", "slug"]),
        ({"slug": "graphql"}, ["input", "slug"]),
        ({"name": "   "}, ["input", "name"]),
        ({"name": "fine", "slug": "-bad"}, ["input", "slug"]),
        ({"name": "bad\x00name"}, ["input", "name"]),
    ],
)
async def test_app_update_refuses_invalid_changes(
    gql: GraphQL, admin_key: str, changes: dict[str, str], field: list[str]
) -> None:
    app_id = await create_app(gql, admin_key)
    before = await snapshot()

    result = await gql(APP_UPDATE, {"id": app_id, "input": changes}, key=admin_key)

    payload = result["data"]["appUpdate"]
    assert payload["app"] is None
    user_error(payload, "INVALID_INPUT", field)
    assert await snapshot() == before


LICENSING = "distribution expiredPolicy graceDays offerDowngradeOnYank"


async def test_an_app_is_open_by_default(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)

    result = await gql(
        f"query ($id: ID!) {{ app(id: $id) {{ {LICENSING} }} }}", {"id": app_id}, key=admin_key
    )

    assert result["data"]["app"] == {
        "distribution": "OPEN",
        "expiredPolicy": "MAINTAIN",
        "graceDays": 0,
        "offerDowngradeOnYank": False,
    }


async def test_app_create_and_update_set_the_licensing_fields(gql: GraphQL, admin_key: str) -> None:
    created = await gql(
        f"mutation ($input: AppCreateInput!) {{ appCreate(input: $input) "
        f"{{ app {{ id {LICENSING} }} userErrors {{ code }} }} }}",
        {
            "input": {
                "slug": "paid-app",
                "name": "Paid",
                "distribution": "LICENSED",
                "expiredPolicy": "REVOKE",
                "graceDays": 14,
                "offerDowngradeOnYank": True,
            }
        },
        key=admin_key,
    )
    app = created["data"]["appCreate"]["app"]
    updated = await gql(
        f"mutation ($id: ID!, $input: AppUpdateInput!) {{ appUpdate(id: $id, input: $input) "
        f"{{ app {{ {LICENSING} }} userErrors {{ code }} }} }}",
        {"id": app["id"], "input": {"expiredPolicy": "ALLOW", "graceDays": 0}},
        key=admin_key,
    )

    assert created["data"]["appCreate"]["userErrors"] == []
    assert {k: v for k, v in app.items() if k != "id"} == {
        "distribution": "LICENSED",
        "expiredPolicy": "REVOKE",
        "graceDays": 14,
        "offerDowngradeOnYank": True,
    }
    assert updated["data"]["appUpdate"] == {
        "app": {
            "distribution": "LICENSED",
            "expiredPolicy": "ALLOW",
            "graceDays": 0,
            "offerDowngradeOnYank": True,
        },
        "userErrors": [],
    }
    stored = await App.get(id=app["id"])
    assert (stored.distribution, stored.expired_policy, stored.grace_days) == (
        Distribution.LICENSED,
        ExpiredPolicy.ALLOW,
        0,
    )


@pytest.mark.parametrize("grace_days", [-1, 367])
async def test_app_update_refuses_grace_days_outside_0_to_366(
    gql: GraphQL, admin_key: str, grace_days: int
) -> None:
    app_id = await create_app(gql, admin_key)
    before = await snapshot()

    result = await gql(
        APP_UPDATE, {"id": app_id, "input": {"graceDays": grace_days}}, key=admin_key
    )

    message = user_error(result["data"]["appUpdate"], "INVALID_INPUT", ["input", "graceDays"])
    assert "0 to 366" in message
    assert await snapshot() == before


async def test_app_update_of_an_unknown_or_malformed_id(gql: GraphQL, admin_key: str) -> None:
    await create_app(gql, admin_key)
    before = await snapshot()

    unknown = await gql(
        APP_UPDATE, {"id": "app_01ARZ3NDEKTSV4RRFFQ69G5FAV", "input": {"name": "x"}}, key=admin_key
    )
    wrong_kind = await gql(
        APP_UPDATE, {"id": "rel_01ARZ3NDEKTSV4RRFFQ69G5FAV", "input": {"name": "x"}}, key=admin_key
    )

    assert "not found" in user_error(unknown["data"]["appUpdate"], "NOT_FOUND", ["id"])
    assert "app_" in user_error(wrong_kind["data"]["appUpdate"], "INVALID_INPUT", ["id"])
    assert await snapshot() == before


# --- appDelete --------------------------------------------------------------------


async def test_app_delete_removes_the_app_its_drafts_and_its_keys(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    other = await create_app(gql, admin_key, slug="other")
    release_id = await create_release(gql, admin_key, app_id, "1.0.0")
    await add_artifact(release_id)
    kept = await create_release(gql, admin_key, other, "1.0.0")
    ci_key = await make_key(KeyScope.CI, app_id, name="ci of the deleted app")
    other_key = await make_key(KeyScope.CI, other, name="ci of the other app")

    result = await gql(APP_DELETE, {"id": app_id}, key=admin_key)

    assert result["data"]["appDelete"] == {"deletedAppId": app_id, "userErrors": []}
    assert not await App.exists(id=app_id)
    assert await Release.filter(app_id=app_id).count() == 0
    assert await Artifact.filter(release_id=release_id).count() == 0
    assert [r.id for r in await Release.all()] == [kept]
    assert await ApiKey.filter(app_id=app_id).count() == 0
    refused = await gql(VIEWER, key=ci_key)
    assert top_error(refused, "UNAUTHENTICATED")["message"] == "unknown API key"
    assert (await gql(VIEWER, key=other_key))["data"]["viewer"]["name"] == "ci of the other app"


async def test_app_delete_is_refused_while_a_release_is_published(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key, slug="live-app")
    await published_release(gql, admin_key, app_id, "1.0.0")
    await create_release(gql, admin_key, app_id, "1.1.0")
    before = await snapshot()

    result = await gql(APP_DELETE, {"id": app_id}, key=admin_key)

    payload = result["data"]["appDelete"]
    assert payload["deletedAppId"] is None
    message = user_error(payload, "INVALID_STATE", ["id"])
    assert "live-app" in message
    assert "1 published release" in message
    assert "archive" in message
    assert await snapshot() == before
    assert await Release.filter(app_id=app_id).count() == 2


async def test_app_delete_is_allowed_once_releases_are_archived(
    gql: GraphQL, admin_key: str
) -> None:
    app_id = await create_app(gql, admin_key)
    release_id = await published_release(gql, admin_key, app_id, "1.0.0")
    archived = await gql(
        "mutation ($id: ID!) { releaseArchive(id: $id) { userErrors { code } } }",
        {"id": release_id},
        key=admin_key,
    )
    assert archived["data"]["releaseArchive"]["userErrors"] == []

    result = await gql(APP_DELETE, {"id": app_id}, key=admin_key)

    assert result["data"]["appDelete"]["userErrors"] == []
    assert await App.all().count() == 0
    assert await Release.all().count() == 0


async def test_app_delete_of_an_unknown_app(gql: GraphQL, admin_key: str) -> None:
    await create_app(gql, admin_key)
    before = await snapshot()

    result = await gql(APP_DELETE, {"id": "app_01ARZ3NDEKTSV4RRFFQ69G5FAV"}, key=admin_key)

    user_error(result["data"]["appDelete"], "NOT_FOUND", ["id"])
    assert await snapshot() == before


# --- app(id:) / app(slug:) --------------------------------------------------------


async def test_app_by_id_and_by_slug(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key, slug="my-app", name="My App")
    await create_app(gql, admin_key, slug="other", name="Other")
    expected = {
        "id": app_id,
        "slug": "my-app",
        "name": "My App",
        "releaseCount": 0,
        "latestVersion": None,
    }

    by_id = await gql(APP_QUERY, {"id": app_id}, key=admin_key)
    by_slug = await gql(APP_QUERY, {"slug": "my-app"}, key=admin_key)

    assert by_id == {"data": {"app": expected}}
    assert by_slug == {"data": {"app": expected}}


@pytest.mark.parametrize(
    "variables",
    [
        {"slug": "no-such-app"},
        {"slug": "Not A Slug"},
        {"id": "app_01ARZ3NDEKTSV4RRFFQ69G5FAV"},
        {"id": "not-an-id"},
        {"id": "app_0000000000000000000000000\x00"},
        {"slug": "my-app\x00"},
    ],
)
async def test_app_that_does_not_exist_is_null(
    gql: GraphQL, admin_key: str, variables: dict[str, str]
) -> None:
    await create_app(gql, admin_key)
    before = await snapshot()

    result = await gql(APP_QUERY, variables, key=admin_key)

    assert result == {"data": {"app": None}}
    assert await snapshot() == before


@pytest.mark.parametrize("variables", [{}, {"id": "app_01ARZ3NDEKTSV4RRFFQ69G5FAV", "slug": "x"}])
async def test_app_needs_exactly_one_of_id_and_slug(
    gql: GraphQL, admin_key: str, variables: dict[str, str]
) -> None:
    await create_app(gql, admin_key, slug="x")
    before = await snapshot()

    result = await gql(APP_QUERY, variables, key=admin_key)

    assert result["data"] == {"app": None}
    error = top_error(result, "BAD_USER_INPUT")
    assert "exactly one of id or slug" in error["message"]
    assert error["path"] == ["app"]
    assert await snapshot() == before


# --- releaseCount and latestVersion -------------------------------------------------


async def test_release_count_counts_releases_in_every_status(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    other = await create_app(gql, admin_key, slug="other")
    await create_release(gql, admin_key, app_id, "0.9.0")
    await published_release(gql, admin_key, app_id, "1.0.0")
    await create_release(gql, admin_key, other, "5.0.0")

    result = await gql(APP_QUERY, {"id": app_id}, key=admin_key)
    other_result = await gql(APP_QUERY, {"id": other}, key=admin_key)

    assert result["data"]["app"]["releaseCount"] == 2
    assert other_result["data"]["app"]["releaseCount"] == 1


@pytest.mark.parametrize(
    ("published", "drafts", "latest"),
    [
        (["1.0.0+1", "1.0.0+2", "1.0.0"], [], "1.0.0+2"),
        (["1.0.0+2", "1.0.0+10"], [], "1.0.0+10"),
        (["1.0.0-beta.11", "1.0.0", "1.0.0-beta.2"], [], "1.0.0"),
        (["1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-alpha"], [], "1.0.0-beta.11"),
        (["0.9.0", "0.10.0", "0.2.0"], [], "0.10.0"),
        (["1.0.0", "v1.1.0"], ["2.0.0", "1.2.0"], "1.1.0"),
        ([], ["1.0.0"], None),
    ],
)
async def test_latest_version_follows_tauri_order_among_published_releases(
    gql: GraphQL, admin_key: str, published: list[str], drafts: list[str], latest: str | None
) -> None:
    app_id = await create_app(gql, admin_key)
    for version in published:
        await published_release(gql, admin_key, app_id, version)
    for version in drafts:
        await create_release(gql, admin_key, app_id, version)

    result = await gql(APP_QUERY, {"id": app_id}, key=admin_key)

    assert result["data"]["app"]["latestVersion"] == latest
    assert result["data"]["app"]["releaseCount"] == len(published) + len(drafts)


async def test_latest_version_ignores_archived_releases(gql: GraphQL, admin_key: str) -> None:
    app_id = await create_app(gql, admin_key)
    await published_release(gql, admin_key, app_id, "1.0.0")
    newest = await published_release(gql, admin_key, app_id, "2.0.0")
    before = await gql(APP_QUERY, {"id": app_id}, key=admin_key)
    assert before["data"]["app"]["latestVersion"] == "2.0.0"

    await gql(
        "mutation ($id: ID!) { releaseArchive(id: $id) { userErrors { code } } }",
        {"id": newest},
        key=admin_key,
    )
    result = await gql(APP_QUERY, {"id": app_id}, key=admin_key)

    assert (await Release.get(id=newest)).status is ReleaseStatus.ARCHIVED
    assert result["data"]["app"]["latestVersion"] == "1.0.0"


async def test_latest_version_is_per_app_in_a_list(gql: GraphQL, admin_key: str) -> None:
    first = await create_app(gql, admin_key, slug="first")
    second = await create_app(gql, admin_key, slug="second")
    await create_app(gql, admin_key, slug="empty")
    await published_release(gql, admin_key, first, "1.0.0")
    await published_release(gql, admin_key, second, "3.0.0")
    await published_release(gql, admin_key, second, "2.0.0")

    result = await gql(
        "{ apps(first: 10) { edges { node { slug releaseCount latestVersion } } } }",
        key=admin_key,
    )

    nodes = {e["node"]["slug"]: e["node"] for e in result["data"]["apps"]["edges"]}
    assert nodes == {
        "first": {"slug": "first", "releaseCount": 1, "latestVersion": "1.0.0"},
        "second": {"slug": "second", "releaseCount": 2, "latestVersion": "3.0.0"},
        "empty": {"slug": "empty", "releaseCount": 0, "latestVersion": None},
    }
