"""Estimated active installs: a sketch counts distinct installs within ±2 % in fixed
space, merges exactly, and is fed only day-keyed tokens that nothing stored can link
back to an install."""

from __future__ import annotations

import hashlib

import pytest

from ferryman.analytics.sketch import InstallSketch, identity, token
from tests.support.usage import sketch_of, tokens

MAX_STORED_BYTES = 40 * 1024


def test_100000_installs_are_estimated_within_2_percent() -> None:
    estimate = sketch_of(tokens(100_000)).estimate()

    assert abs(estimate - 100_000) / 100_000 < 0.02


def test_an_install_added_twice_counts_once() -> None:
    once = sketch_of(tokens(5_000))
    twice = sketch_of(tokens(5_000) + tokens(5_000)[::-1])

    assert twice.to_bytes() == once.to_bytes()
    assert twice.estimate() == once.estimate()
    assert abs(once.estimate() - 5_000) / 5_000 < 0.02


def test_workers_sketches_merged_count_as_one_sketch() -> None:
    every = tokens(30_000)
    first, second = sketch_of(every[:20_000]), sketch_of(every[10_000:])  # 10,000 in both

    first.merge(second)

    assert first.to_bytes() == sketch_of(every).to_bytes()
    assert first.estimate() == sketch_of(every).estimate()
    assert abs(first.estimate() - 30_000) / 30_000 < 0.02


def test_a_union_of_many_is_their_merge() -> None:
    every = tokens(12_000)
    parts = [sketch_of(every[n : n + 4_000]) for n in range(0, 12_000, 2_000)]  # overlapping
    merged = InstallSketch()
    for part in parts:
        merged.merge(part)

    union = InstallSketch.union(parts)

    assert union.to_bytes() == merged.to_bytes() == sketch_of(every).to_bytes()
    assert abs(union.estimate() - 12_000) / 12_000 < 0.02
    assert InstallSketch.union([]).estimate() == 0


def test_a_stored_sketch_reads_back_the_same_and_merges_on() -> None:
    stored = InstallSketch.from_bytes(sketch_of(tokens(1_000)).to_bytes())
    stored.merge(sketch_of(tokens(1_000, start=1_000)))

    assert stored.to_bytes() == sketch_of(tokens(2_000)).to_bytes()
    assert InstallSketch.from_bytes(stored.to_bytes()).estimate() == stored.estimate()


@pytest.mark.parametrize("installs", [0, 10, 1_000, 100_000, 300_000])
def test_the_stored_size_does_not_grow_with_installs(installs: int) -> None:
    stored = sketch_of(tokens(installs)).to_bytes()

    assert len(stored) < MAX_STORED_BYTES
    if installs <= 10:
        assert len(stored) < 100  # a few installs: a short list, not the full registers


def test_only_tokens_reach_a_sketch_and_garbage_is_not_read_as_one() -> None:
    sketch = InstallSketch()
    with pytest.raises(ValueError, match="an install token is 32 bytes"):
        sketch.add(b"install-1")
    with pytest.raises(ValueError, match="not a stored install sketch"):
        InstallSketch.from_bytes(b"install-1")
    assert sketch.estimate() == 0


def test_a_token_is_the_same_within_a_day_and_differs_across_days() -> None:
    monday, tuesday = hashlib.sha256(b"monday").digest(), hashlib.sha256(b"tuesday").digest()
    address, agent = b"203.0.113.7", b"tauri-plugin-updater/2.0"
    by_id, by_peer = identity(b"abc", address, agent), identity(None, address, agent)

    assert token(monday, by_id) == token(monday, identity(b"abc", address, agent))
    assert token(monday, by_id) != token(tuesday, by_id)
    assert token(monday, by_peer) == token(monday, identity(None, address, agent))
    assert token(monday, by_peer) != token(tuesday, by_peer)
    # the install id, when sent, is what counts: one install moving between addresses
    moved = (b"198.51.100.1", b"tauri-plugin-updater/2.1")
    assert token(monday, by_id) == token(monday, identity(b"abc", *moved))
    assert token(monday, by_peer) != token(monday, identity(None, *moved))
    assert token(monday, by_id) != token(monday, identity(b"abd", address, agent))
