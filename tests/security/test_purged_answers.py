"""Promise: a purged answer never comes back. A change purges what installs were told, and
stale-if-error may serve only what no later change invalidated, as on Cloudflare.

Finding (issue 12, item 2): after ``releaseYank``, and after an app went from OPEN to
LICENSED, stopping the database made the edge serve the purged answer again (``200 STALE``
with the yanked version; the open manifest to a client without a licence). Both are tried
with a real PostgreSQL outage, so they run in the PostgreSQL pass. Releases are rows written
directly (:mod:`tests.support.rows`): the subject is what a purge leaves behind.
"""

from __future__ import annotations

import httpx

from ferryman.models import App
from ferryman.models import app as apps
from ferryman.models import rollout as rollouts
from ferryman.models.actor import Actor
from ferryman.models.status import Distribution
from ferryman.settings import Settings
from tests.services import PostgresCluster
from tests.support import rows
from tests.support.outage import later, on_cluster

CHECK = "/my-app/update/linux/x86_64/1.0.0"


async def outage_after(client: httpx.AsyncClient, cluster: PostgresCluster) -> httpx.Response:
    """Stop the database, let the edge entry's freshness run out, and check again."""
    cluster.stop()
    later(client, 3600)
    return await client.get(CHECK)


async def test_a_yanked_release_is_not_served_stale_in_an_outage(
    settings: Settings, cluster: PostgresCluster
) -> None:
    async with on_cluster(settings, cluster) as client:
        await rows.publish("my-app", "1.0.0", ["linux-x86_64"])
        yanked = await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        before = await client.get(CHECK)
        assert before.status_code == 200
        assert before.json()["version"] == "1.1.0"

        await rollouts.yank(Actor.console(), yanked, "crashes on start")
        answer = await outage_after(client, cluster)

        assert answer.headers.get("cf-cache-status") != "STALE"
        assert answer.status_code in (204, 503), answer.text
        assert b"1.1.0" not in answer.content


async def test_a_formerly_open_answer_is_not_served_to_an_unlicensed_client(
    settings: Settings, cluster: PostgresCluster
) -> None:
    async with on_cluster(settings, cluster) as client:
        await rows.publish("my-app", "1.1.0", ["linux-x86_64"])
        before = await client.get(CHECK)
        assert before.status_code == 200

        app = await App.get(slug="my-app")
        await apps.update(
            Actor.console(), app.id, apps.AppChanges(distribution=Distribution.LICENSED)
        )
        answer = await outage_after(client, cluster)

        assert answer.status_code != 200, answer.text
        assert answer.headers.get("cf-cache-status") != "STALE"
        assert b"1.1.0" not in answer.content
