"""Promise: only keys that may manage licences can find out whether a licence key is valid.

Finding (issue 12, item 10): a CI key could test licence keys through
``updatePreview(licenseKey:)``: a valid key answered 200 or 204, an unknown one an input
error. Trying a licence key now needs an admin key, and is refused before any lookup.
"""

from __future__ import annotations

from typing import Any

import pytest

from ferryman.models.actor import KeyScope
from tests.conftest import GraphQL, make_key
from tests.support.documents import UPDATE_PREVIEW
from tests.support.licences import lapsed_licence
from tests.support.shipping import Shipyard


@pytest.fixture
async def licensed(yard: Shipyard) -> tuple[str, str]:
    """A LICENSED app with one licence: (app id, its key)."""
    await yard.release("1.0.0", ["linux-x86_64"])
    return yard.app_id, await lapsed_licence(yard.app_id)


async def preview(gql: GraphQL, key: str, app_id: str, licence: str | None) -> dict[str, Any]:
    variables = {
        "appId": app_id,
        "target": "linux",
        "arch": "x86_64",
        "current": "0.9.0",
        "licenseKey": licence,
    }
    return await gql(UPDATE_PREVIEW, variables, key=key)


@pytest.mark.parametrize("guess", ["valid", "unknown"])
async def test_a_ci_key_cannot_try_licence_keys(
    gql: GraphQL, licensed: tuple[str, str], guess: str
) -> None:
    app_id, licence = licensed
    ci = await make_key(KeyScope.CI, app_id)
    tried = licence if guess == "valid" else "lk_" + "A" * 40
    body = await preview(gql, ci, app_id, tried)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "admin key" in error["message"]


async def test_a_ci_key_still_previews_without_a_licence_key(
    gql: GraphQL, licensed: tuple[str, str]
) -> None:
    app_id, _ = licensed
    ci = await make_key(KeyScope.CI, app_id)
    body = await preview(gql, ci, app_id, None)
    assert body["data"]["updatePreview"]["status"] == 401  # what the route says without one


async def test_an_app_admin_key_may_try_a_licence_key(
    gql: GraphQL, licensed: tuple[str, str]
) -> None:
    app_id, licence = licensed
    admin = await make_key(KeyScope.ADMIN, app_id)
    body = await preview(gql, admin, app_id, licence)
    assert "errors" not in body
    # The licence lapsed before 1.0.0 came out: judged, not refused.
    assert body["data"]["updatePreview"]["status"] == 204
