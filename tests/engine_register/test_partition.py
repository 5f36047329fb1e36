"""Where cells go: the ring's vectorised owners and clockwise walk against naive versions, and
the per-block free rows of ``CellBlocks`` (home block first, then clockwise when full)."""

from __future__ import annotations

import numpy as np
import pytest
from uqo.engine.partition import CellBlocks, HashRing, ring_hash


def naive_walk(ring: HashRing, key: str) -> list[int]:
    points = sorted(zip(ring._points.tolist(), ring._owner.tolist()))
    h = ring_hash(key)
    start = next((i for i, (p, _) in enumerate(points) if p >= h), 0)
    seen: list[int] = []
    for p, s in points[start:] + points[:start]:
        if s not in seen:
            seen.append(s)
    return seen


def test_owners_and_clockwise_match_a_naive_walk():
    ring = HashRing(5, vnodes=8)
    keys = [f"agent-{i}" for i in range(300)]
    assert ring.owners(keys).tolist() == [ring.owner(k) for k in keys]
    for k in keys[:60]:
        assert ring.clockwise(k) == naive_walk(ring, k)


def test_one_block_is_the_old_free_list():
    rows = CellBlocks(6)
    assert (rows.block, rows.rows, rows.free()) == (7, 7, 6)   # row 6: scratch
    first = rows.take(3)
    assert first.tolist() == [0, 1, 2]
    rows.release(1)
    assert rows.take(2).tolist() == [1, 3] and rows.block_of([5]).tolist() == [0]


def test_blocks_take_the_home_partition_then_spill_clockwise():
    ring = HashRing(3, vnodes=16)
    rows = CellBlocks(8, 3, ring)              # block 3 rows; row 8 (the last) is scratch
    assert (rows.block, rows.rows, rows.free()) == (3, 9, 8)
    keys = [k for k in (f"k{i}" for i in range(500)) if ring.owner(k) == 1][:5]
    got = rows.take(5, keys)
    assert got[:3].tolist() == [3, 4, 5]       # block 1, lowest rows first
    for key, row in zip(keys[3:], got[3:].tolist()):
        walk = ring.clockwise(key)
        assert walk[0] == 1 and rows.block_of(row) == walk[1]   # block 1 full: next clockwise
    assert 8 not in got.tolist() and rows.free() == 3


def test_more_shards_than_the_ring_is_refused():
    with pytest.raises(ValueError, match="3 shards need a HashRing of 3"):
        CellBlocks(8, 3, HashRing(2))
    np.testing.assert_array_equal(HashRing(2).owners([]), np.zeros(0, np.int64))
