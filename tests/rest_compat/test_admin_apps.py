"""``/admin/apps``: listing, creating, changing and deleting apps through the seed's REST
API, with GraphQL's permissions and rules."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ferryman.models import App
from ferryman.models.actor import KeyScope
from tests.conftest import make_key
from tests.support.admin import Bench, call, ok, refusal
from tests.support.database import snapshot
from tests.support.tauri_files import APP_PUB

LINUX = "linux-x86_64"


async def test_the_list_has_each_apps_figures_newest_first(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    first = await Bench.open(client, admin_key, "first")
    await first.published("1.9.0", (LINUX,))
    await first.published("1.10.0", (LINUX,))  # newer in the updater's order
    await first.draft("2.0.0")  # counted, never the latest
    beta = await first.draft("1.11.0-beta.1", channel="beta")
    await first.upload(beta["id"], "1.11.0-beta.1", LINUX)
    ok(await call(client, "POST", f"{first.release(beta['id'])}/publish", admin_key))
    second = await Bench.open(client, admin_key, "second")

    listed = ok(await call(client, "GET", "/admin/apps", admin_key))["apps"]

    assert [app["id"] for app in listed] == [second.app_id, first.app_id]
    assert listed[1] == {
        "id": first.app_id,
        "slug": "first",
        "name": "first",
        "description": None,
        "public_key": first.signer.public_key,
        "release_count": 4,
        "latest_version": "1.11.0-beta.1",
        "created_at": listed[1]["created_at"],
    }
    assert (listed[0]["release_count"], listed[0]["latest_version"]) == (0, None)
    assert listed[1]["created_at"].endswith("Z")


async def test_the_list_takes_no_parameters(client: httpx.AsyncClient, admin_key: str) -> None:
    refused = await call(client, "GET", "/admin/apps?limit=5", admin_key)
    assert refusal(refused, 400, "INVALID_INPUT") == (
        "unknown query parameter 'limit'; this list takes no parameters"
    )


async def test_keys_see_only_their_own_apps(client: httpx.AsyncClient, admin_key: str) -> None:
    mine = await Bench.open(client, admin_key, "mine")
    await Bench.open(client, admin_key, "theirs")
    for scope in (KeyScope.ADMIN, KeyScope.CI):
        key = await make_key(scope, mine.app_id)
        listed = ok(await call(client, "GET", "/admin/apps", key))["apps"]
        assert [app["slug"] for app in listed] == ["mine"]


async def test_creating_needs_a_global_admin_key(client: httpx.AsyncClient, admin_key: str) -> None:
    mine = await Bench.open(client, admin_key, "mine")
    refusals = {
        await make_key(KeyScope.ADMIN, mine.app_id): "needs a global admin key",
        await make_key(KeyScope.CI, mine.app_id): "needs an admin key",
    }
    before = await snapshot()
    for key, expected in refusals.items():
        refused = await call(client, "POST", "/admin/apps", key, {"slug": "new", "name": "N"})
        assert expected in refusal(refused, 403, "FORBIDDEN")
    assert await snapshot() == before


async def test_a_taken_slug_is_a_conflict(client: httpx.AsyncClient, admin_key: str) -> None:
    await Bench.open(client, admin_key, "my-app")
    before = await snapshot()
    taken = await call(client, "POST", "/admin/apps", admin_key, {"slug": "my-app", "name": "B"})
    assert refusal(taken, 409, "TAKEN") == ("slug: slug 'my-app' is already used by another app")
    assert await snapshot() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "the body is not JSON (UTF-8); this endpoint takes {"),
        (b"[1, 2]", 'the body must be a JSON object; this endpoint takes {"slug", "name"'),
        (b"", 'slug is required; this endpoint takes {"slug", "name", "description"'),
        ({"slug": "x"}, "name is required"),
        ({"slug": 5, "name": "X"}, "slug must be a string, not a number"),
        ({"slug": "x", "name": None}, "name must be a string, not null"),
        ({"slug": "x", "name": "X", "description": ["d"]}, "must be a string or null, not an"),
        ({"slug": "x", "name": "X", "publicKey": APP_PUB}, "unknown field 'publicKey'"),
        ({"slug": "Bad Slug", "name": "X"}, "slug: slug 'Bad Slug' is not valid"),
        ({"slug": "admin", "name": "X"}, "slug: slug 'admin' is reserved"),
        ({"slug": "x", "name": "a\x00b"}, "name: name contains a NUL character"),
        (b'{"slug": "x", "name": "\\ud800"}', "name contains a lone surrogate (U+D800)"),
        ({"slug": "x", "name": "   "}, "name: name must be 1 to 200 characters"),
        ({"slug": "x", "name": "X", "description": "d" * 2001}, "description: description is"),
        ({"slug": "x", "name": "X", "public_key": "not a key"}, "public_key: "),
    ],
)
async def test_bad_input_is_named_and_changes_nothing(
    client: httpx.AsyncClient, admin_key: str, body: Any, message: str
) -> None:
    before = await snapshot()
    refused = await call(client, "POST", "/admin/apps", admin_key, body)
    assert message in refusal(refused, 400, "INVALID_INPUT")
    assert await snapshot() == before


async def test_patch_changes_what_it_names(client: httpx.AsyncClient, admin_key: str) -> None:
    bench = await Bench.open(client, admin_key, "my-app")
    path = f"/admin/apps/{bench.app_id}"
    changed = ok(
        await call(
            client,
            "PATCH",
            path,
            admin_key,
            {"name": "Renamed", "description": "Described", "public_key": APP_PUB},
        )
    )
    assert (changed["name"], changed["description"], changed["public_key"]) == (
        "Renamed",
        "Described",
        APP_PUB.strip(),
    )
    assert changed["slug"] == "my-app"
    # null clears an optional field; an absent one is kept; {} changes nothing.
    cleared = ok(await call(client, "PATCH", path, admin_key, {"description": None}))
    assert (cleared["description"], cleared["public_key"]) == (None, APP_PUB.strip())
    before = await snapshot()
    assert ok(await call(client, "PATCH", path, admin_key, {})) == cleared
    assert await snapshot() == before
    renamed = ok(await call(client, "PATCH", path, admin_key, {"slug": "new-name"}))
    assert renamed["slug"] == "new-name"
    assert (await App.get(id=bench.app_id)).slug == "new-name"


async def test_patch_is_refused_where_graphql_refuses_it(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    mine = await Bench.open(client, admin_key, "mine")
    theirs = await Bench.open(client, admin_key, "theirs")
    await Bench.open(client, admin_key, "taken")
    path = f"/admin/apps/{mine.app_id}"
    ci = await make_key(KeyScope.CI, mine.app_id)
    other = await make_key(KeyScope.ADMIN, theirs.app_id)
    before = await snapshot()

    forbidden = await call(client, "PATCH", path, ci, {"name": "X"})
    assert "editing an app needs an admin key" in refusal(forbidden, 403, "FORBIDDEN")
    hidden = await call(client, "PATCH", path, other, {"name": "X"})
    assert refusal(hidden, 404, "NOT_FOUND") == f"app {mine.app_id} not found"
    taken = await call(client, "PATCH", path, admin_key, {"slug": "taken"})
    assert "already used" in refusal(taken, 409, "TAKEN")
    release_id = "rel_01JDX3K5Z8Q2W7N4M6R9T1V0YB"
    wrong_kind = await call(client, "PATCH", f"/admin/apps/{release_id}", admin_key)
    assert "is not a valid app id" in refusal(wrong_kind, 400, "INVALID_INPUT")
    not_an_id = await call(client, "PATCH", "/admin/apps/my-app", admin_key, {"name": "X"})
    assert "is not a valid app id" in refusal(not_an_id, 400, "INVALID_INPUT")
    unknown = await call(client, "PATCH", path, admin_key, {"channels": ["stable"]})
    assert "unknown field 'channels'" in refusal(unknown, 400, "INVALID_INPUT")
    assert await snapshot() == before


async def test_delete_is_refused_with_400_while_a_release_is_published(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    bench = await Bench.open(client, admin_key, "my-app")
    published = await bench.published("1.0.0", (LINUX,))
    path = f"/admin/apps/{bench.app_id}"
    before = await snapshot()

    refused = await call(client, "DELETE", path, admin_key)

    assert refusal(refused, 400, "INVALID_STATE") == (
        "app my-app has 1 published release(s); archive them before deleting the app"
    )
    assert await snapshot() == before
    ok(await call(client, "POST", f"{bench.release(published['id'])}/archive", admin_key))
    deleted = await call(client, "DELETE", path, admin_key)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert not await App.filter(id=bench.app_id).exists()
    gone = await call(client, "DELETE", path, admin_key)
    assert refusal(gone, 404, "NOT_FOUND") == f"app {bench.app_id} not found"


async def test_delete_needs_an_admin_key_of_the_app(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    mine = await Bench.open(client, admin_key, "mine")
    theirs = await Bench.open(client, admin_key, "theirs")
    ci = await make_key(KeyScope.CI, mine.app_id)
    other = await make_key(KeyScope.ADMIN, theirs.app_id)
    own = await make_key(KeyScope.ADMIN, mine.app_id)
    before = await snapshot()
    path = f"/admin/apps/{mine.app_id}"

    assert "needs an admin key" in refusal(await call(client, "DELETE", path, ci), 403, "FORBIDDEN")
    assert refusal(await call(client, "DELETE", path, other), 404, "NOT_FOUND")
    assert await snapshot() == before
    assert (await call(client, "DELETE", path, own)).status_code == 204
    assert await App.filter(slug="theirs").exists()
