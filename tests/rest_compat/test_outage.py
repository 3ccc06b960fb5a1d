"""A database outage on the update path: the edge keeps answering with what it had.

Releases here are rows written directly (:mod:`tests.support.rows`): the subject is the
outage, not what is offered.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime

import httpx

from ferryman.app import create_app
from ferryman.models import generation as generations
from ferryman.models.actor import KeyScope
from ferryman.settings import Settings
from tests.conftest import make_key
from tests.services import PostgresCluster, free_port
from tests.support import rows
from tests.support.licences import licensed_app, new_license
from tests.support.outage import later, on_cluster


async def test_an_outage_keeps_answering_from_what_is_in_memory(
    settings: Settings, cluster: PostgresCluster
) -> None:
    """An app whose index is loaded needs no database to answer; one that is not loaded
    gets 503 at once. (A purged answer is never served stale: tests/security.)"""
    async with on_cluster(settings, cluster) as client:
        await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        await rows.publish("cold-app", "1.1.0", ["linux-x86_64"])  # never checked: not loaded
        admin = await make_key(KeyScope.ADMIN)
        check = "/my-app/update/linux/x86_64/1.0.0"
        fresh = await client.get(check)
        assert fresh.headers["cf-cache-status"] == "MISS"

        cluster.stop()
        later(client, 3600)  # past max-age and stale-while-revalidate: the origin is asked
        answered = await client.get(check)
        assert answered.status_code == 200
        assert answered.headers["cf-cache-status"] in ("EXPIRED", "REVALIDATED")
        assert answered.content == fresh.content

        # While updaters keep being answered, GraphQL says 503 at once: no hang.
        async def graphql() -> tuple[httpx.Response, float]:
            started = time.monotonic()
            response = await client.post(
                "/graphql",
                json={"query": "{ apps(first: 1) { totalCount } }"},
                headers={"Authorization": f"Bearer {admin}"},
            )
            return response, time.monotonic() - started

        first = asyncio.create_task(graphql())
        updates = [asyncio.create_task(client.get(check)) for _ in range(5)]
        last = asyncio.create_task(graphql())
        await asyncio.wait_for(asyncio.gather(first, *updates, last), 10)
        for response, seconds in (first.result(), last.result()):
            assert response.status_code == 503, response.text
            assert seconds < 5, f"GraphQL took {seconds:.1f} s to say it is unavailable"
            body = response.json()
            assert body["data"] is None
            assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert "database is unavailable" in body["errors"][0]["message"]
            assert response.headers["retry-after"]
        for update in (task.result() for task in updates):
            assert update.status_code == 200
            assert update.content == fresh.content

        cold = "/cold-app/update/linux/x86_64/1.0.0"  # nothing in memory to answer from
        for _ in range(2):
            failed = await client.get(cold)
            assert failed.status_code == 503
            assert failed.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
            assert failed.headers["cf-cache-status"] != "HIT"  # never stored


async def test_an_outage_never_serves_a_licensed_answer_it_cannot_judge(
    settings: Settings, cluster: PostgresCluster
) -> None:
    async with on_cluster(settings, cluster) as client:
        await rows.publish("paid-app", "1.1.0", ["linux-x86_64"])
        paid = await licensed_app("paid-app")
        key, _ = await new_license(paid, datetime.now(UTC))
        check = "/paid-app/update/linux/x86_64/1.0.0"
        fresh = await client.get(check, headers={"X-License-Key": key})
        assert fresh.status_code == 200

        cluster.stop()
        generations.announce("paid-app")  # the licences it knew are forgotten too
        for headers in ({"X-License-Key": key}, {}):
            failed = await client.get(check, headers=headers)
            assert failed.status_code == 503
            assert failed.headers["cf-cache-status"] == "DYNAMIC"


async def test_without_a_database_nothing_is_cached(settings: Settings) -> None:
    down = dataclasses.replace(
        settings, database_url=f"postgres://postgres@127.0.0.1:{free_port()}/ferryman"
    )
    application = create_app(down)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = await asyncio.gather(
                *(client.get("/my-app/update/linux/x86_64/1.0.0") for _ in range(3))
            )
            assert {a.status_code for a in answers} == {503}
            again = await client.get("/my-app/update/linux/x86_64/1.0.0")
            assert again.status_code == 503
            assert again.headers["cf-cache-status"] != "HIT"
