"""``/admin/apps/{app_id}/releases...``: the list, drafts, the seed's PATCH, deletes, publish
and archive, with GraphQL's permissions and lifecycle rules."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ferryman.models import App, Release
from ferryman.models.actor import KeyScope
from tests.conftest import make_key
from tests.support.admin import Bench, call, ok, refusal
from tests.support.database import snapshot

LINUX = "linux-x86_64"


@pytest.fixture
async def bench(client: httpx.AsyncClient, admin_key: str) -> Bench:
    return await Bench.open(client, admin_key)


async def listed(bench: Bench, query: str = "") -> dict[str, Any]:
    return ok(await call(bench.client, "GET", f"{bench.releases}{query}", bench.key))


async def test_the_list_filters_by_status_and_pages_newest_first(bench: Bench) -> None:
    live = await bench.published("1.0.0", (LINUX,))
    old = await bench.published("0.9.0", (LINUX,))
    ok(await call(bench.client, "POST", f"{bench.release(old['id'])}/archive", bench.key))
    drafts = [(await bench.draft(f"2.0.{n}"))["id"] for n in range(22)]
    newest_first = [*reversed(drafts), old["id"], live["id"]]

    everything = await listed(bench)
    assert everything["total"] == 24
    assert [r["id"] for r in everything["releases"]] == newest_first[:20]  # limit 20
    assert [r["id"] for r in (await listed(bench, "?status=all&offset=20"))["releases"]] == (
        newest_first[20:]
    )
    window = await listed(bench, "?limit=3&offset=5")
    assert ([r["id"] for r in window["releases"]], window["total"]) == (newest_first[5:8], 24)
    beyond = await listed(bench, "?offset=24")
    assert (beyond["releases"], beyond["total"]) == ([], 24)
    for status, expected in (("draft", 22), ("published", 1), ("archived", 1)):
        page = await listed(bench, f"?status={status}&limit=100")
        assert page["total"] == len(page["releases"]) == expected
        assert {r["status"] for r in page["releases"]} == {status}

    (entry,) = (await listed(bench, "?status=published"))["releases"]
    assert entry == {
        "id": live["id"],
        "app_id": bench.app_id,
        "version": "1.0.0",
        "channel": "stable",
        "status": "published",
        "notes": None,
        "pub_date": entry["pub_date"],
        "artifacts": [
            {
                "id": entry["artifacts"][0]["id"],
                "platform": LINUX,
                "status": "READY",
                "file_size": len(bench.file("1.0.0", LINUX)[1]),
            }
        ],
        "created_at": entry["created_at"],
    }
    assert entry["pub_date"] >= entry["created_at"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?status=yanked", "status 'yanked' is not one of draft, published, archived or all"),
        ("?status=DRAFT", "status 'DRAFT' is not one of"),
        ("?limit=0", "limit must be a whole number from 1 to 100, got '0'"),
        ("?limit=101", "limit must be a whole number from 1 to 100, got '101'"),
        ("?limit=ten", "limit must be a whole number from 1 to 100"),
        ("?limit=%EF%BC%95", "limit must be a whole number from 1 to 100"),  # a fullwidth 5
        ("?offset=-1", "offset must be a whole number from 0 to 2147483647"),
        ("?offset=99999999999999999999", "offset must be a whole number from 0"),
        ("?offset=" + "9" * 5000, "offset must be a whole number from 0"),
        ("?limit=0000000000000000000005", "limit must be a whole number from 1 to 100"),
        ("?page=2", "unknown query parameter 'page'; this list takes status: draft"),
        ("?limit=5&limit=6", "limit is given twice"),
    ],
)
async def test_a_bad_filter_is_named(bench: Bench, query: str, message: str) -> None:
    refused = await call(bench.client, "GET", f"{bench.releases}{query}", bench.key)
    assert message in refusal(refused, 400, "INVALID_INPUT")


async def test_a_draft_is_created_on_the_apps_first_channel_unless_named(bench: Bench) -> None:
    draft = await bench.draft("v1.0.0+build.7", notes=None)
    assert (draft["version"], draft["channel"], draft["notes"]) == ("1.0.0+build.7", "stable", None)
    assert (draft["status"], draft["pub_date"], draft["artifacts"]) == ("draft", None, [])
    beta = await bench.draft("1.1.0-beta.1", channel="beta", notes="Try it")
    assert (beta["channel"], beta["notes"]) == ("beta", "Try it")
    ci = await make_key(KeyScope.CI, bench.app_id)
    by_ci = await call(bench.client, "POST", bench.releases, ci, {"version": "1.2.0"})
    assert ok(by_ci, 201)["status"] == "draft"


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"version": "1.2"}, 400, "INVALID_INPUT", "version: "),
        ({"version": "1.0.0", "channel": "canary"}, 400, "INVALID_INPUT", "channel: "),
        ({"version": "1.0.0", "notes": "a\x00b"}, 400, "INVALID_INPUT", "notes: notes contains"),
        ({"version": "1.0.0", "notes": "n" * 100_001}, 400, "INVALID_INPUT", "notes: notes are"),
        ({"version": 1}, 400, "INVALID_INPUT", "version must be a string, not a number"),
        ({"notes": "x"}, 400, "INVALID_INPUT", "version is required"),
        ({"version": "1.0.0", "status": "draft"}, 400, "INVALID_INPUT", "unknown field 'status'"),
        ({"version": "0.1.0"}, 409, "TAKEN", "version: app my-app already has a release 0.1.0"),
    ],
)
async def test_bad_drafts_are_named_and_change_nothing(
    bench: Bench, body: Any, status: int, code: str, message: str
) -> None:
    await bench.draft("0.1.0")
    before = await snapshot()
    refused = await call(bench.client, "POST", bench.releases, bench.key, body)
    assert message in refusal(refused, status, code)
    assert await snapshot() == before


async def test_patch_edits_a_draft(bench: Bench) -> None:
    draft = await bench.draft("1.0.0", notes="First")
    path = bench.release(draft["id"])
    changed = ok(
        await call(
            bench.client,
            "PATCH",
            path,
            bench.key,
            {"version": "1.0.1", "notes": "Second", "channel": "beta", "status": "draft"},
        )
    )
    assert (changed["version"], changed["notes"], changed["channel"], changed["status"]) == (
        "1.0.1",
        "Second",
        "beta",
        "draft",
    )
    cleared = ok(await call(bench.client, "PATCH", path, bench.key, {"notes": None}))
    assert cleared["notes"] is None


async def test_patch_status_publishes_and_archives(bench: Bench) -> None:
    draft = await bench.draft("1.0.0")
    ok(await bench.upload(draft["id"], "1.0.0", LINUX), 201)
    path = bench.release(draft["id"])

    published = ok(
        await call(bench.client, "PATCH", path, bench.key, {"notes": "Live", "status": "published"})
    )
    assert (published["status"], published["notes"]) == ("published", "Live")
    assert published["pub_date"] is not None
    assert (await bench.client.get("/my-app/update/linux/x86_64/0.1.0")).status_code == 200

    archived = ok(await call(bench.client, "PATCH", path, bench.key, {"status": "archived"}))
    assert archived["status"] == "archived"
    assert (await bench.client.get("/my-app/update/linux/x86_64/0.1.0")).status_code == 204


@pytest.mark.parametrize(
    ("setup", "body", "message"),
    [
        ("draft", {"notes": "x", "status": "published"}, "has no READY artifact"),
        ("draft", {"notes": "x", "status": "archived"}, "only published releases can be"),
        ("published", {"notes": "x", "status": "draft"}, "status: release 1.0.0 is published, and"),
        ("ready", {"version": "2.0.0", "status": "published"}, "version: release 1.0.0 has"),
        ("published", {"version": "2.0.0"}, "version: the version of a published release"),
        ("draft", {"status": "live"}, "status 'live' is not one of draft, published, archived"),
        ("draft", {"status": None}, "status must be a string, not null"),
        ("draft", {"id": "rel_x"}, "unknown field 'id'"),
    ],
)
async def test_a_refused_patch_changes_nothing(
    bench: Bench, setup: str, body: dict[str, Any], message: str
) -> None:
    release = await bench.draft("1.0.0", notes="kept")
    if setup != "draft":
        ok(await bench.upload(release["id"], "1.0.0", LINUX), 201)
    if setup == "published":
        ok(await call(bench.client, "POST", f"{bench.release(release['id'])}/publish", bench.key))
    before = await snapshot()

    refused = await call(bench.client, "PATCH", bench.release(release["id"]), bench.key, body)

    assert refused.status_code in (400, 409), refused.text
    assert message in refused.json()["error"]["message"]
    assert await snapshot() == before


async def test_a_ci_key_is_refused_where_graphql_refuses_it(bench: Bench) -> None:
    ci = await make_key(KeyScope.CI, bench.app_id)
    draft = await bench.draft("1.0.0", notes="kept")
    ok(await bench.upload(draft["id"], "1.0.0", LINUX, key=ci), 201)
    path = bench.release(draft["id"])
    before = await snapshot()

    publish = await call(bench.client, "POST", f"{path}/publish", ci)
    assert "CI keys may not publish releases of my-app" in refusal(publish, 403, "FORBIDDEN")
    via_patch = await call(bench.client, "PATCH", path, ci, {"notes": "x", "status": "published"})
    assert "CI keys may not publish" in refusal(via_patch, 403, "FORBIDDEN")
    assert await snapshot() == before

    await App.filter(id=bench.app_id).update(ci_may_publish=True)
    assert ok(await call(bench.client, "POST", f"{path}/publish", ci))["status"] == "published"
    before = await snapshot()
    archive = await call(bench.client, "POST", f"{path}/archive", ci)
    assert "archiving a release needs an admin key" in refusal(archive, 403, "FORBIDDEN")
    edit = await call(bench.client, "PATCH", path, ci, {"notes": "changed"})
    assert "editing a published or archived release" in refusal(edit, 403, "FORBIDDEN")
    assert await snapshot() == before


async def test_delete_takes_drafts_and_refuses_a_published_release_with_400(
    bench: Bench,
) -> None:
    draft = await bench.draft("2.0.0")
    live = await bench.published("1.0.0", (LINUX,))
    before = await snapshot()

    refused = await call(bench.client, "DELETE", bench.release(live["id"]), bench.key)

    assert refusal(refused, 400, "INVALID_STATE") == (
        "release 1.0.0 is published; only drafts can be deleted (archive it instead)"
    )
    assert await snapshot() == before
    deleted = await call(bench.client, "DELETE", bench.release(draft["id"]), bench.key)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert not await Release.filter(id=draft["id"]).exists()


async def test_publish_and_archive_follow_the_lifecycle(bench: Bench) -> None:
    draft = await bench.draft("1.0.0")
    path = bench.release(draft["id"])
    empty = await call(bench.client, "POST", f"{path}/publish", bench.key)
    assert "has no READY artifact" in refusal(empty, 409, "INVALID_STATE")
    early = await call(bench.client, "POST", f"{path}/archive", bench.key)
    assert "only published releases can be archived" in refusal(early, 409, "INVALID_STATE")
    ok(await bench.upload(draft["id"], "1.0.0", LINUX), 201)
    with_body = await call(bench.client, "POST", f"{path}/publish", bench.key, {"force": True})
    assert "unknown field 'force'; this endpoint takes no body" in refusal(
        with_body, 400, "INVALID_INPUT"
    )
    published = ok(await call(bench.client, "POST", f"{path}/publish", bench.key, {}))
    assert published["status"] == "published"
    again = await call(bench.client, "POST", f"{path}/publish", bench.key)
    assert "is already published" in refusal(again, 409, "INVALID_STATE")
    assert ok(await call(bench.client, "POST", f"{path}/archive", bench.key))["status"] == (
        "archived"
    )


async def test_another_apps_release_and_key_are_told_not_found(
    client: httpx.AsyncClient, bench: Bench, admin_key: str
) -> None:
    other = await Bench.open(client, admin_key, "other")
    theirs = await other.draft("1.0.0")
    mine = await bench.draft("1.0.0")
    other_key = await make_key(KeyScope.ADMIN, other.app_id)
    before = await snapshot()

    # Their release under my app's path: not mine, whoever asks.
    crossed = f"{bench.releases}/{theirs['id']}"
    for method in ("PATCH", "DELETE"):
        refused = await call(client, method, crossed, admin_key, None)
        assert refusal(refused, 404, "NOT_FOUND") == f"release {theirs['id']} not found"
    # Their key, my app: my app is not theirs to know of.
    for method, path in (
        ("GET", bench.releases),
        ("POST", bench.releases),
        ("PATCH", bench.release(mine["id"])),
        ("DELETE", bench.release(mine["id"])),
        ("POST", f"{bench.release(mine['id'])}/publish"),
        ("POST", f"{bench.release(mine['id'])}/archive"),
    ):
        refused = await call(client, method, path, other_key, {"version": "9.0.0"})
        assert refusal(refused, 404, "NOT_FOUND") == f"app {bench.app_id} not found"
    wrong_kind = await call(client, "DELETE", f"{bench.releases}/{bench.app_id}", admin_key)
    assert "is not a valid release id" in refusal(wrong_kind, 400, "INVALID_INPUT")
    assert await snapshot() == before
