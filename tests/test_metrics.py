"""GET /metrics and what the observer counts: requests, the edge cache, update checks.

Releases are rows written directly (:mod:`tests.support.rows`), so that no request but the
counted ones is made.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from ferryman.metrics import OFFER_HEADER, TALLY, Pulse
from ferryman.settings import Settings
from ferryman.signatures import Verifier
from tests.conftest import peer, serving
from tests.support import rows

DATA = Path(__file__).parent / "data" / "tauri"
CHECK = "/metered/update/linux/x86_64/1.0.0"


def sample(name: str, **labels: str) -> float:
    """A sample's current value (0 when the series does not exist yet), with this process's
    tally added in first, as ``/metrics`` does."""
    TALLY.flush()
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_are_served_in_prometheus_text_format(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    text = response.text
    for family in (
        "ferryman_http_requests_total",
        "ferryman_http_request_duration_seconds_bucket",
        "ferryman_edge_cache_responses_total",
        "ferryman_update_checks_total",
        "ferryman_resolver_rebuilds_total",
        "ferryman_artifact_verifications_total",
        "ferryman_rate_limited_total",
    ):
        assert f"# TYPE {family.removesuffix('_bucket').removesuffix('_total')}" in text
    assert 'ferryman_http_requests_total{door="probes",method="GET",status="200"}' in text


async def test_requests_are_counted_by_door_and_status(client: httpx.AsyncClient) -> None:
    before_ok = sample("ferryman_http_requests_total", door="probes", method="GET", status="200")
    before_bad = sample("ferryman_http_requests_total", door="updates", method="GET", status="400")
    before_time = sample("ferryman_http_request_duration_seconds_count", door="probes")

    await client.get("/healthz")
    await client.get("/readyz")
    await client.get("/some-app/update/plan9/x86_64/1.0.0")

    assert (
        sample("ferryman_http_requests_total", door="probes", method="GET", status="200")
        == before_ok + 2
    )
    assert (
        sample("ferryman_http_requests_total", door="updates", method="GET", status="400")
        == before_bad + 1
    )
    assert sample("ferryman_http_request_duration_seconds_count", door="probes") == (
        before_time + 2
    )


async def test_odd_methods_share_one_label(client: httpx.AsyncClient) -> None:
    before = sample("ferryman_http_requests_total", door="probes", method="OTHER", status="405")

    response = await client.request("BREW", "/healthz")

    assert response.status_code == 405
    assert (
        sample("ferryman_http_requests_total", door="probes", method="OTHER", status="405")
        == before + 1
    )


async def test_update_checks_count_hits_misses_and_the_answered_version(
    client: httpx.AsyncClient,
) -> None:
    await rows.publish("metered", "1.2.0", ["linux-x86_64"])
    rebuilds = sample("ferryman_resolver_rebuilds_total", app="metered")
    answered = sample("ferryman_update_checks_total", app="metered", answered="1.2.0")
    none = sample("ferryman_update_checks_total", app="metered", answered="none")
    hits = sample("ferryman_edge_cache_responses_total", status="HIT")
    misses = sample("ferryman_edge_cache_responses_total", status="MISS")

    first = await client.get(CHECK)
    second = await client.get(CHECK)
    latest = await client.get("/metered/update/linux/x86_64/1.2.0")

    assert (first.status_code, second.status_code, latest.status_code) == (200, 200, 204)
    assert [first.headers["cf-cache-status"], second.headers["cf-cache-status"]] == [
        "MISS",
        "HIT",
    ]
    for response in (first, second, latest):
        assert OFFER_HEADER not in response.headers  # internal: taken off before it leaves
    assert sample("ferryman_update_checks_total", app="metered", answered="1.2.0") == (answered + 2)
    assert sample("ferryman_update_checks_total", app="metered", answered="none") == none + 1
    assert sample("ferryman_edge_cache_responses_total", status="HIT") == hits + 1
    assert sample("ferryman_edge_cache_responses_total", status="MISS") == misses + 2
    assert sample("ferryman_resolver_rebuilds_total", app="metered") == rebuilds + 1


async def test_unknown_apps_never_become_labels(client: httpx.AsyncClient) -> None:
    response = await client.get("/no-such-app-4711/update/linux/x86_64/1.0.0")

    assert response.status_code == 404
    text = (await client.get("/metrics")).text
    assert "no-such-app-4711" not in text


def test_verifications_are_counted_by_result() -> None:
    signed = DATA / "MyApp_1.2.3_amd64.AppImage"
    public_key = (DATA / "app.pub").read_text()
    verified = sample("ferryman_artifact_verifications_total", result="verified")
    failed = sample("ferryman_artifact_verifications_total", result="failed")

    good = Verifier.for_upload((DATA / (signed.name + ".sig")).read_text())
    good.update(signed.read_bytes())
    bad = Verifier.for_upload((DATA / (signed.name + ".sig")).read_text())
    bad.update(b"not the signed bytes")

    assert good.failure(public_key) is None
    assert bad.failure(public_key) is not None
    assert sample("ferryman_artifact_verifications_total", result="verified") == verified + 1
    assert sample("ferryman_artifact_verifications_total", result="failed") == failed + 1


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings, metrics_token="s3cret") as application, peer(application) as c:
        yield c


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Basic s3cret", "Bearer s3cret-and-more", "s3cret"],
    ids=["none", "wrong-token", "wrong-scheme", "longer-token", "no-scheme"],
)
async def test_a_metrics_token_is_required_when_set(
    guarded: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = await guarded.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    assert "ferryman_http_requests_total" not in response.text


async def test_the_right_metrics_token_is_let_in(guarded: httpx.AsyncClient) -> None:
    response = await guarded.get("/metrics", headers={"Authorization": "Bearer s3cret"})

    assert response.status_code == 200
    assert "ferryman_http_requests_total" in response.text


class FastPulse(Pulse):
    """The pulse with its minute and second shrunk to a few ticks of 10 ms."""

    TICK = 0.01
    FLUSH_TICKS = 2
    SUMMARY_TICKS = 4


async def test_the_pulse_flushes_the_tally_and_sums_up_hits_in_one_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ferryman.access")
    await rows.publish("metered", "1.2.0", ["linux-x86_64"])
    await client.get(CHECK)  # MISS: logged on its own line
    TALLY.flush()
    TALLY.from_memory = 0
    before = (
        REGISTRY.get_sample_value("ferryman_edge_cache_responses_total", {"status": "HIT"}) or 0.0
    )
    for _ in range(3):
        assert (await client.get(CHECK)).headers["cf-cache-status"] == "HIT"

    pulse = FastPulse()
    pulse.start()
    try:
        deadline = time.monotonic() + 5
        while not [r for r in caplog.records if getattr(r, "count", None) == 3]:
            assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
            await asyncio.sleep(0.01)
    finally:
        await pulse.stop()

    # Counted without a scrape, by the pulse's own flush.
    after = REGISTRY.get_sample_value("ferryman_edge_cache_responses_total", {"status": "HIT"})
    assert after == before + 3
    lines = [r for r in caplog.records if r.name == "ferryman.access"]
    assert [r.__dict__.get("cache") for r in lines] == ["MISS", None]  # 3 HITs, one line
    assert "3 update checks answered from memory" in lines[-1].getMessage()


def late_ticks() -> tuple[float, float]:
    """Ticks measured so far, and those that woke more than 100 ms late."""
    count = REGISTRY.get_sample_value("ferryman_event_loop_lag_seconds_count") or 0.0
    early = REGISTRY.get_sample_value("ferryman_event_loop_lag_seconds_bucket", {"le": "0.1"})
    return count, count - (early or 0.0)


def hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # work that never yields, as a slow synchronous call would


async def test_the_pulse_measures_how_late_the_loop_wakes() -> None:
    ticks, late = late_ticks()
    pulse = FastPulse()
    pulse.start()
    await asyncio.sleep(0.05)
    hold_the_loop(0.2)
    await asyncio.sleep(0.05)
    await pulse.stop()

    ticks_after, late_after = late_ticks()
    assert ticks_after >= ticks + 3
    # The tick the loop could not run for 200 ms (a busy machine may make others late too,
    # and the registry is the process's: only "at least" is certain).
    assert late_after >= late + 1
