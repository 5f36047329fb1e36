"""Sharded placement: which device block holds each cell row, and host arrays onto the devices.

Sharding (JAX, ``shards``; docs/gpu.md): the cell arrays are split over a 1-D mesh of local
devices, ``shards`` equal contiguous blocks of rows, block ``k`` on device ``k``. A new cell goes
to the block of its consistent-hash partition (``uqo.engine.partition.HashRing.owner``) of a key:
the agent names given to ``add_pairs`` / ``add_singles``, else the agent id as a decimal string;
a pair cell follows its first agent's key. When that block has no free row the cell goes to the
next block with one clockwise on the ring (consistent hashing with bounded loads,
``CellBlocks``). Not sharded: one block, rows handed out lowest first, keys unused.
"""

from __future__ import annotations

import numpy as np

from ..partition import CellBlocks, HashRing
from .storage import bucket


class Placement:
    """The mesh (None: not sharded) and the free rows of the pair and single cell arrays, for a
    register of ``capacity`` agents (``capacity // 2`` pair cells, ``capacity`` single cells,
    plus one scratch row each)."""

    def __init__(self, backend, shards, capacity: int):
        self.capacity = capacity
        self.mesh = local_mesh(backend, shards)
        k = self.shards = 1 if self.mesh is None else self.mesh.size
        ring = HashRing(k) if k > 1 else None
        self.pair_rows, self.single_rows = CellBlocks(capacity // 2, k, ring), CellBlocks(
            capacity, k, ring)
        self._put = backend.xp.asarray if self.mesh is None else self._place

    def _place(self, host):
        from uqo.kernels.sharding import place

        return place(host, self.mesh)

    def put(self, host: np.ndarray):
        """A host array with cells on axis 0 onto the backend (split over the mesh)."""
        return self._put(host)

    def rows(self, pairs: bool) -> CellBlocks:
        return self.pair_rows if pairs else self.single_rows

    def check_room(self, n: int, pairs: bool, what: str) -> None:
        rows = self.rows(pairs)
        if n > rows.free():
            raise ValueError(f"cannot add {n} {what}: only {rows.free()} free (capacity "
                             f"{self.capacity})")

    def take(self, first: np.ndarray, keys, pairs: bool) -> np.ndarray:
        """Rows for the cells of new agents; ``first``: the agent whose key places each cell,
        ``keys`` their names (None: the ids as decimal strings)."""
        rows = self.rows(pairs)
        if rows.ring is not None and keys is None:
            keys = [str(a) for a in first.tolist()]
        return rows.take(len(first), keys)

    def release(self, pairs: bool, row: int) -> None:
        self.rows(pairs).release(row)

    def block_of(self, cells: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Block of each cell row, ``pairs`` saying which array each is in (bool ``(n,)``)."""
        return np.where(pairs, self.pair_rows.block_of(cells), self.single_rows.block_of(cells))

    def extent(self, high_water: int, pairs: bool) -> int:
        """Rows the tick runs on: a power-of-two prefix covering the used cells, or (sharded)
        every row, each device its block."""
        if self.mesh is None or high_water == 0:
            return bucket(high_water, self.capacity // 2 if pairs else self.capacity)
        return self.rows(pairs).rows


def local_mesh(backend, shards):
    """The device mesh for ``shards`` (None: not sharded); sharding needs JAX."""
    if backend.name != "jax":
        if shards in (None, "auto"):
            return None
        raise ValueError(f"shards needs the jax backend, got backend {backend.name!r} with "
                         f"shards={shards!r}")
    from uqo.kernels.sharding import local_mesh as mesh_for

    return mesh_for(shards)
