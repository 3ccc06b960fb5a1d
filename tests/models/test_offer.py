"""Reading an app's offers while releases are being published."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import pytest

from ferryman.models import Artifact, Release, offer
from ferryman.models import release as releases
from ferryman.models.actor import Actor
from ferryman.models.app import App
from ferryman.models.status import ReleaseStatus
from ferryman.versions import Version
from tests.support.shipping import Shipyard


class PublishFirst:
    """The artifacts query of ``offer.load``, run only after another request's publish."""

    def __init__(self, queryset: Any, release_id: str) -> None:
        self.queryset = queryset
        self.release_id = release_id

    def values(self, *fields: str) -> Coroutine[Any, Any, list[dict[str, Any]]]:
        async def publish_then_read() -> list[dict[str, Any]]:
            await releases.publish(Actor.console(), self.release_id)
            rows: list[dict[str, Any]] = await self.queryset.values(*fields)
            return rows

        return publish_then_read()


async def test_a_release_published_between_the_two_reads_is_left_out(
    yard: Shipyard, monkeypatch: pytest.MonkeyPatch
) -> None:
    await yard.release("1.0.0", ["linux-x86_64"])
    draft_id = await yard.release("1.1.0", ["linux-x86_64"], publish=False)
    real_filter = Artifact.filter
    calls = 0

    def filter_once_late(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        queryset = real_filter(*args, **kwargs)
        return PublishFirst(queryset, draft_id) if calls == 1 else queryset

    monkeypatch.setattr(offer.Artifact, "filter", filter_once_late)

    index = await offer.load(await App.get(id=yard.app_id))

    monkeypatch.undo()
    assert (await Release.get(id=draft_id)).status is ReleaseStatus.PUBLISHED
    choice = index.for_platform("linux", "x86_64", None, Version.parse("0.9.0"))
    assert choice is not None
    assert str(choice.offer.version) == "1.0.0"  # as before the publish, whole
    fresh = await offer.load(await App.get(id=yard.app_id))
    again = fresh.for_platform("linux", "x86_64", None, Version.parse("0.9.0"))
    assert again is not None
    assert str(again.offer.version) == "1.1.0"


def test_an_index_every_install_shares_keeps_only_what_it_can_offer() -> None:
    platforms = ["linux-x86_64", "windows-x86_64", "darwin-aarch64"]
    history = [
        offer.Offer(
            version=Version.parse(f"1.{n}.0"),
            release_id=f"rel_{n}",
            notes=None,
            pub_date=None,
            files={p: (f"https://dl.example.com/{n}/{p}", "sig") for p in platforms[: 1 + n % 3]},
            rank=n % 2,
        )
        for n in range(100)
    ]
    order = ("stable", "beta")
    shared = offer.OfferIndex("app_1", "my-app", history, order)
    # The same history where installs are judged one by one keeps everything.
    judged = offer.OfferIndex("app_1", "my-app", [*history, _partial(history[-1])], order)

    assert shared.shared
    assert not judged.shared
    assert len(shared.offers) <= len(platforms) * len(order) * 2
    assert len(judged.offers) == len(history) + 1
    for rank in range(len(order)):
        for key in platforms:
            os, _, arch = key.partition("-")
            for current in ("0.1.0", "1.50.0", "1.98.0"):
                version = Version.parse(current)
                mine = shared.for_platform(os, arch, None, version, rank)
                full = judged.without(frozenset({"rel_partial"})).for_platform(
                    os, arch, None, version, rank
                )
                assert mine == full
            assert shared.for_os(os, Version.parse("0.1.0"), rank) == judged.without(
                frozenset({"rel_partial"})
            ).for_os(os, Version.parse("0.1.0"), rank)


def _partial(newest: offer.Offer) -> offer.Offer:
    return offer.Offer(
        version=Version.parse("9.0.0"),
        release_id="rel_partial",
        notes=None,
        pub_date=None,
        files=dict(newest.files),
        rollout=10,
    )
