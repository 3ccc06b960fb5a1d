"""Promise: what /metrics names (apps, the versions they offer, LICENSED ones included)
is not public in production.

Finding (issue 12, item 9): ``/metrics`` was open in production. It now stays off (403)
there until ``FERRYMAN_METRICS_TOKEN`` is set, and then asks for it as a bearer token. The
release is rows written directly (:mod:`tests.support.rows`): the subject is the scrape.
"""

from __future__ import annotations

import pytest

from ferryman.settings import Settings
from tests.conftest import peer, serving
from tests.support import rows

PRODUCTION = {"production": True, "public_url": "https://updates.example.com"}


async def scrape(settings: Settings, headers: dict[str, str], **changes: object) -> tuple[int, str]:
    async with serving(settings, **changes) as application, peer(application) as client:
        await rows.publish("secret-app", "1.0.0", ["linux-x86_64"])
        await client.get("/secret-app/update/linux/x86_64/0.9.0")  # a series naming it
        response = await client.get("/metrics", headers=headers)
        return response.status_code, response.text


async def test_production_without_a_token_keeps_metrics_off(settings: Settings) -> None:
    status, body = await scrape(settings, {}, **PRODUCTION)
    assert status == 403
    assert "FERRYMAN_METRICS_TOKEN" in body
    assert "secret-app" not in body


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Bearer s3cret-token"}, 200),
    ],
    ids=["none", "wrong", "right"],
)
async def test_production_with_a_token_asks_for_it(
    settings: Settings, headers: dict[str, str], expected: int
) -> None:
    status, body = await scrape(settings, headers, metrics_token="s3cret-token", **PRODUCTION)
    assert status == expected
    assert ("secret-app" in body) == (expected == 200)


async def test_outside_production_metrics_stay_open_for_a_local_prometheus(
    settings: Settings,
) -> None:
    status, body = await scrape(settings, {})
    assert status == 200
    assert "secret-app" in body
