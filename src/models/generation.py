"""Cache generations: how every process learns that an app's update answers changed.

A write that can change what an updater is offered (publish, archive, a published
release's notes, an app's slug or key, an app's removal) bumps the app's generation
inside its transaction (``app.bump_generation``): the app is stamped with the next value
of one database-wide counter, so another worker finds every changed app with one cheap
poll; and, once the transaction has committed, :func:`announce` tells this process's
listeners (the manifest resolver and the edge cache) at once.
"""

from __future__ import annotations

from collections.abc import Callable

from tortoise import fields
from tortoise.expressions import F
from tortoise.models import Model

# (app slug, the generation the change produced; None when not known, as after a local write)
Listener = Callable[[str, int | None], None]
_listeners: list[Listener] = []


class CacheCounter(Model):
    """One row: the last generation handed out."""

    id = fields.IntField(primary_key=True)
    value = fields.BigIntField(default=0)

    class Meta:
        table = "cache_counter"


async def advance() -> int:
    """The next generation; call inside the change's transaction (it locks the counter)."""
    await CacheCounter.filter(id=1).update(value=F("value") + 1)
    counter = await CacheCounter.get(id=1)
    return int(counter.value)


async def current() -> int:
    """The counter as every process can see it: changes since a value mean work to do."""
    counter = await CacheCounter.get_or_none(id=1)
    return 0 if counter is None else int(counter.value)


def subscribe(listener: Listener) -> None:
    _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    _listeners.remove(listener)


def announce(app_slug: str, generation: int | None = None) -> None:
    """Tell this process's listeners that ``app_slug``'s answers changed (after commit).

    The watcher passes the generation it saw, so a listener whose state was built from
    that generation or a later one (this process's own write) can keep it.
    """
    for listener in list(_listeners):
        listener(app_slug, generation)
