"""Promise: the audit trail's request id is one the client could not choose.

Finding (issue 12, item 11): a client-chosen ``X-Request-ID`` (or ``CF-Ray``) was written
to the audit trail, so a caller could make its mutation look like another request. Only a
trusted proxy (``FERRYMAN_TRUSTED_PROXIES``) may set the id now; anyone else gets a fresh one.
"""

from __future__ import annotations

import ipaddress

import pytest

from ferryman.models import AuditEvent
from ferryman.models.actor import KeyScope
from ferryman.settings import Settings
from tests.conftest import make_key, peer, serving
from tests.support.documents import APP_CREATE

PROXY = "10.0.0.2"


@pytest.mark.parametrize(
    ("address", "kept"), [("198.51.100.7", False), (PROXY, True)], ids=["client", "proxy"]
)
@pytest.mark.parametrize("header", ["X-Request-ID", "CF-Ray"])
async def test_only_a_trusted_proxy_sets_the_audited_request_id(
    settings: Settings, address: str, kept: bool, header: str
) -> None:
    chosen = "8a1b2c3d4e5f6789-AMS"
    proxies = (ipaddress.ip_network(f"{PROXY}/32"),)
    async with (
        serving(settings, trusted_proxies=proxies) as application,
        peer(application, address) as client,
    ):
        admin_key = await make_key(KeyScope.ADMIN)
        response = await client.post(
            "/graphql",
            json={"query": APP_CREATE, "variables": {"input": {"slug": "a", "name": "A"}}},
            headers={"Authorization": f"Bearer {admin_key}", header: chosen},
        )
        assert response.json()["data"]["appCreate"]["userErrors"] == []
        [event] = await AuditEvent.filter(action="app.create")
    assert event.request_id == response.headers["x-request-id"]
    assert (event.request_id == chosen) is kept
