"""Cache generations: how every process learns that an app's update answers changed.

A write that can change what an updater is offered (publish, archive, a published
release's notes, an app's slug or key, an app's removal) bumps the app's own generation
inside its transaction (``app.bump_generation``) and, once the transaction has committed,
:func:`announce` tells this process's listeners (the manifest resolver and the edge
cache) at once. Other processes hear of it from their
:class:`~ferryman.generation_watcher.GenerationWatcher`.

Each app counts on its own row, which that app's writes lock anyway: writes to different
apps never queue behind one shared counter. The price is that no single value says
"something changed since", so the watcher compares every app's row when it polls. On
PostgreSQL :func:`notify` sends the app's new row at the commit instead, so the poll is
only the fallback.
"""

from __future__ import annotations

from collections.abc import Callable

from tortoise import connections

CHANNEL = "ferryman_generations"  # PostgreSQL's LISTEN/NOTIFY channel; see notify()

# An app's (slug, generation) as a watcher last saw it; None: the app is gone.
Row = tuple[str, int] | None

# (app slug, the generation the change produced; None when not known, as after a local write)
Listener = Callable[[str, int | None], None]
_listeners: list[Listener] = []


async def notify(app_id: str, *, removed: bool = False) -> None:
    """Tell other processes' watchers the app's new row when this transaction commits.

    PostgreSQL only (elsewhere the watchers poll). ``pg_notify`` is transactional: a
    rolled-back change sends nothing, and a committed one is delivered after its rows are
    visible. The payload is ``"{id} {generation} {slug}"``, or the id alone for a removal.
    """
    connection = connections.get("default")  # the transaction's, inside one
    if connection.capabilities.dialect != "postgres":
        return
    if removed:
        await connection.execute_query("SELECT pg_notify($1, $2)", [CHANNEL, app_id])
    else:
        await connection.execute_query(
            "SELECT pg_notify($1, id || ' ' || generation || ' ' || slug) FROM apps WHERE id = $2",
            [CHANNEL, app_id],
        )


def parse(payload: str) -> tuple[str, Row]:
    """A notification's app id and new row, as :func:`notify` wrote them."""
    app_id, _, rest = payload.partition(" ")
    if not rest:
        return app_id, None
    generation, _, slug = rest.partition(" ")
    return app_id, (slug, int(generation))


def subscribe(listener: Listener) -> None:
    _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    _listeners.remove(listener)


def announce(app_slug: str, generation: int | None = None) -> None:
    """Tell this process's listeners that ``app_slug``'s answers changed (after commit).

    The watcher passes the generation it saw when the app kept its slug, so a listener
    whose state was built from that generation or a later one (this process's own write)
    can keep it.
    """
    for listener in list(_listeners):
        listener(app_slug, generation)
