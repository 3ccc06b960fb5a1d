"""Probes and request ids on the real ASGI app."""

import ipaddress

import httpx
import pytest
from tortoise import connections

from ferryman.models.registry import SQLITE_BUSY_MS
from ferryman.settings import Settings
from tests.conftest import peer, serving
from tests.services import free_port
from tests.support.documents import APPS


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_ok_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_without_a_database_readyz_and_graphql_answer_503(settings: Settings) -> None:
    # Nothing listens on this port: the database is down, the process is up.
    down = f"postgres://postgres@127.0.0.1:{free_port()}/ferryman"
    async with serving(settings, database_url=down) as application, peer(application) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
        graphql = await client.post(
            "/graphql",
            json={"query": APPS},
            headers={"Authorization": "Bearer uk_live_" + "a" * 40},
        )
        assert graphql.status_code == 503
        assert graphql.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    first = (await client.get("/healthz")).headers["x-request-id"]
    second = (await client.get("/healthz")).headers["x-request-id"]
    assert first != second
    assert len(first) == 26


async def test_a_proxy_request_id_is_kept_and_a_bad_one_replaced(settings: Settings) -> None:
    proxy = (ipaddress.ip_network("10.0.0.2/32"),)
    async with (
        serving(settings, trusted_proxies=proxy) as application,
        peer(application, "10.0.0.2") as client,
    ):
        kept = await client.get("/healthz", headers={"X-Request-ID": "cf-ray-8a1b2c3d4e"})
        replaced = await client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)"})
    assert kept.headers["x-request-id"] == "cf-ray-8a1b2c3d4e"
    assert replaced.headers["x-request-id"] != "<script>alert(1)"
    assert len(replaced.headers["x-request-id"]) == 26


async def test_unknown_paths_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/nope")).status_code == 404


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/graphql",
        headers={
            "Origin": "https://admin.example.com",
            "Access-Control-Request-Method": "POST",
        },
    )
    simple = await client.get("/healthz", headers={"Origin": "https://admin.example.com"})

    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


async def test_cors_answers_only_the_allowed_origins(settings: Settings) -> None:
    allowed = ("https://admin.example.com",)
    async with serving(settings, cors_origins=allowed) as application, peer(application) as client:
        for origin, expected in (
            ("https://admin.example.com", 200),
            ("https://evil.example.com", 400),
        ):
            preflight = await client.options(
                "/graphql",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization, content-type",
                },
            )
            assert preflight.status_code == expected, origin
        ok = await client.get("/healthz", headers={"Origin": "https://admin.example.com"})
        other = await client.get("/healthz", headers={"Origin": "https://evil.example.com"})

    assert ok.headers["access-control-allow-origin"] == "https://admin.example.com"
    assert "x-request-id" in ok.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in other.headers


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(settings: Settings) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("a SQLite setting: the PostgreSQL pass has no such pragmas")
    async with serving(settings):
        connection = connections.get("default")
        _, journal = await connection.execute_query("PRAGMA journal_mode")
        _, busy = await connection.execute_query("PRAGMA busy_timeout")

    assert journal[0][0] == "wal"
    assert busy[0][0] == SQLITE_BUSY_MS
