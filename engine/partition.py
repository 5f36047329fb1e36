"""Consistent hashing with virtual nodes and bounded loads: which engine partition holds an agent.

Used by the agent register to place cells on devices (``AgentRegister(..., shards=...)``) and by
the scheduler (``uqo.control.scheduler.Scheduler.ring``), so both agree on the ring.

Each shard owns ``vnodes`` points on a 64-bit ring (BLAKE2b of ``"shard#vnode"``); a key hashes
to a point and belongs to the first shard clockwise. With bounded loads (Mirrokni, Thorup and
Zadimoghaddam, "Consistent Hashing with Bounded Loads", SODA 2018) a shard whose load has reached
``ceil((1 + eps) * (keys + 1) / shards)`` is skipped and the walk continues clockwise, so no
shard ever holds more than ``(1 + eps)`` times the mean, while keys still move little when
shards join or leave. ``owner(key)`` is plain consistent hashing (no load bound), for lookups
that must not depend on history.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np


def ring_hash(key: str) -> int:
    """Stable 64-bit hash (same in every process, unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


class HashRing:
    """``shards`` shards x ``vnodes`` virtual nodes; ``eps`` > 0 bounds the load."""

    def __init__(self, shards: int, vnodes: int = 64, eps: float = 0.25):
        if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
            raise ValueError(f"shards must be an int >= 1, got {shards!r}")
        if isinstance(vnodes, bool) or not isinstance(vnodes, int) or vnodes < 1:
            raise ValueError(f"vnodes must be an int >= 1, got {vnodes!r}")
        if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
            raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
        self.shards, self.eps = shards, float(eps)
        points = [(ring_hash(f"{s}#{v}"), s) for s in range(shards) for v in range(vnodes)]
        points.sort()
        self._points = np.array([p for p, _ in points], np.uint64)
        self._owner = np.array([s for _, s in points], np.int64)
        self.load = np.zeros(shards, np.int64)

    def bound(self) -> int:
        """Most keys a shard may hold after one more key is placed."""
        return math.ceil((1 + self.eps) * (int(self.load.sum()) + 1) / self.shards)

    def _start(self, key: str) -> int:
        i = int(np.searchsorted(self._points, np.uint64(ring_hash(key))))
        return i % len(self._points)

    def owner(self, key: str) -> int:
        """The shard of ``key`` by plain consistent hashing (ignores loads)."""
        return int(self._owner[self._start(key)])

    def owners(self, keys) -> np.ndarray:
        """``owner`` of each key, int64 ``(n,)`` (one ``searchsorted`` for all)."""
        hashes = np.fromiter((ring_hash(k) for k in keys), np.uint64)
        start = np.searchsorted(self._points, hashes) % len(self._points)
        return self._owner[start]

    def clockwise(self, key: str) -> list[int]:
        """Every shard once, in the order met walking clockwise from ``key``'s point (the
        first is ``owner(key)``): where a key goes when the shards before are full."""
        i, n = self._start(key), len(self._points)
        walk = self._owner[np.r_[i:n, 0:i]]
        _, first = np.unique(walk, return_index=True)
        return walk[np.sort(first)].tolist()

    def assign(self, key: str) -> int:
        """Place ``key`` on the first shard clockwise that is under the load bound."""
        cap, i = self.bound(), self._start(key)
        for step in range(len(self._points)):
            shard = int(self._owner[(i + step) % len(self._points)])
            if self.load[shard] < cap:
                self.load[shard] += 1
                return shard
        raise RuntimeError("no shard under the load bound")  # impossible: bound >= mean + 1

    def assign_many(self, keys) -> np.ndarray:
        """``assign`` each key in order; int64 ``(n,)``."""
        return np.array([self.assign(k) for k in keys], np.int64)

    def release(self, shard: int) -> None:
        """A key placed on ``shard`` left."""
        if not 0 <= shard < self.shards or self.load[shard] <= 0:
            raise ValueError(f"shard {shard!r} holds no keys")
        self.load[shard] -= 1

    def imbalance(self) -> float:
        """max load / mean load (1.0 when empty)."""
        total = int(self.load.sum())
        return float(self.load.max() * self.shards / total) if total else 1.0


class CellBlocks:
    """The free rows of one cell array split into ``shards`` equal contiguous blocks (block
    ``k``: rows ``[k B, (k + 1) B)``, on device ``k``), enough for ``cells`` cells plus the
    array's last row, a scratch row never handed out.

    ``take(keys)`` gives each new cell a free row of the block of its key's ring partition
    (``ring.owner``); when that block is full, of the next block with room clockwise on the ring
    (``ring.clockwise``). Within a block the lowest free row comes first, and a released row is
    the next one reused. With one shard (no ring) it is one free list, keys unused.
    """

    def __init__(self, cells: int, shards: int = 1, ring: HashRing | None = None):
        if shards > 1 and (ring is None or ring.shards != shards):
            raise ValueError(f"{shards} shards need a HashRing of {shards} shards, got {ring!r}")
        self.shards, self.ring = shards, ring
        self.block = -(-(cells + 1) // shards)
        self.rows = self.block * shards
        self._free = [list(range((k + 1) * self.block - 1 - (k == shards - 1),
                                 k * self.block - 1, -1)) for k in range(shards)]

    def free(self) -> int:
        return sum(len(f) for f in self._free)

    def take(self, n: int, keys=None) -> np.ndarray:
        """Rows for ``n`` new cells, int64 ``(n,)``; ``keys`` (``n`` str) place them when
        sharded. The caller checks ``free()`` first."""
        if self.ring is None:
            return np.array([self._free[0].pop() for _ in range(n)], dtype=np.int64)
        home = self.ring.owners(keys)
        rows, spill = np.empty(n, np.int64), []
        for k, free in enumerate(self._free):
            want = np.flatnonzero(home == k)
            got = min(len(want), len(free))
            rows[want[:got]] = [free.pop() for _ in range(got)]
            spill.extend(want[got:].tolist())
        for i in sorted(spill):
            k = next(k for k in self.ring.clockwise(keys[i]) if self._free[k])
            rows[i] = self._free[k].pop()
        return rows

    def release(self, row: int) -> None:
        self._free[row // self.block].append(int(row))

    def block_of(self, rows) -> np.ndarray:
        return np.asarray(rows) // self.block
