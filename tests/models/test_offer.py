"""Reading an app's offers while releases are being published."""

from __future__ import annotations

import dataclasses
from collections.abc import Coroutine
from typing import Any

import pytest

from ferryman.models import Artifact, Release, offer
from ferryman.models import release as releases
from ferryman.models.actor import Actor
from ferryman.models.app import App
from ferryman.models.signing_key import Chain
from ferryman.models.status import ReleaseStatus
from ferryman.versions import Version
from tests.support.shipping import Shipyard

PLATFORMS = ("linux-x86_64", "windows-x86_64")


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


def test_each_install_is_offered_from_what_its_key_signed_in_every_view() -> None:
    """With a bridge to key B at 2.0.0, installs below it see only files A signed: in the
    index every install shares and in the view left after a partial rollout alike."""
    signed = {"1.0.0": "A", "1.5.0": "A", "2.0.0": "A", "2.5.0": "B"}
    history = [
        offer.Offer(
            version=Version.parse(version),
            release_id=f"rel_{version}",
            notes=None,
            pub_date=None,
            files={p: (f"https://dl.example.com/{version}/{p}", "sig") for p in PLATFORMS},
            signers=dict.fromkeys(PLATFORMS, key),
        )
        for version, key in signed.items()
    ]
    chain = Chain("A", ((Version.parse("2.0.0"), "B"),))
    newest = dataclasses.replace(history[-1], version=Version.parse("3.0.0"), release_id="rel_3")
    shared = offer.OfferIndex("app_1", "my-app", history, chain=chain)
    judged = offer.OfferIndex(
        "app_1", "my-app", [*history, dataclasses.replace(newest, rollout=10)], chain=chain
    )
    view = judged.without(frozenset({"rel_3"}))

    expected = {"0.9.0": "2.0.0", "1.5.0": "2.0.0", "2.0.0": "2.5.0", "2.5.0": None}
    for index in (shared, view):
        for current, version in expected.items():
            got = index.for_platform("linux", "x86_64", None, Version.parse(current))
            assert (str(got.offer.version) if got else None) == version, (current, got)
            document = index.for_os("windows", Version.parse(current))
            assert (str(document.offer.version) if document else None) == version
    # The newest B release reaches installs that crossed the bridge, never those below it.
    inside = judged.for_platform("linux", "x86_64", None, Version.parse("2.0.0"))
    assert inside is not None
    assert str(inside.offer.version) == "3.0.0"
    below = judged.for_platform("linux", "x86_64", None, Version.parse("1.0.0"))
    assert below is not None
    assert str(below.offer.version) == "2.0.0"
    assert below.offer.signers == dict.fromkeys(PLATFORMS, "A")
