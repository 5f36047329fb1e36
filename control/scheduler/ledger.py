"""What one ``decide`` has placed so far. Every commit is a whole gang and raises the agents'
load at once, so later steps of the same decision see the capacity that is left."""

from __future__ import annotations

import numpy as np

from .compiled import free_of


class Ledger:
    """The gangs placed in this decision; commits update ``table.load``.

    Kept as the blocks committed (rows, their agents concatenated, gang sizes), not a dict per
    row: a 1M-agent decision commits a thousand gangs in some sixty blocks, and slicing each
    gang out at commit time was half a millisecond. ``placed`` builds the row -> slots dict on
    demand; ``gangs`` gives all of them at once in row order."""

    def __init__(self, table):
        self.table = table
        self._blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.count = 0                  # rows placed

    def commit(self, row: int, slots: np.ndarray) -> None:
        slots = np.asarray(slots, np.int64)
        self.commit_blocks(np.array([int(row)], np.int64), slots,
                           np.array([len(slots)], np.int64))

    def commit_blocks(self, rows: np.ndarray, slots: np.ndarray, k: np.ndarray) -> None:
        """Commit ``rows[i]`` with the next ``k[i]`` entries of ``slots`` (concatenated)."""
        rows = np.asarray(rows, np.int64)
        if len(rows) == 0:
            return
        slots = np.asarray(slots, np.int64)
        np.add.at(self.table.load, slots, 1)
        self._blocks.append((rows, slots, np.asarray(k, np.int64)))
        self.count += len(rows)

    def gangs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rows ascending, their agents concatenated in that order, gang sizes)``."""
        if not self._blocks:
            z = np.zeros(0, np.int64)
            return z, z, z
        rows = np.concatenate([b[0] for b in self._blocks])
        slots = np.concatenate([b[1] for b in self._blocks])
        k = np.concatenate([b[2] for b in self._blocks])
        order = np.argsort(rows, kind="stable")
        starts = np.cumsum(k) - k
        k = k[order]
        idx = np.repeat(starts[order] - (np.cumsum(k) - k), k) + np.arange(int(k.sum()))
        return rows[order], slots[idx], k

    @property
    def placed(self) -> dict[int, np.ndarray]:
        """Row -> its agent slots (built on each call)."""
        rows, slots, k = self.gangs()
        ends = np.cumsum(k)
        return {r: slots[b - n:b] for r, n, b in zip(rows.tolist(), k.tolist(), ends.tolist())}

    def free(self, slots: np.ndarray) -> np.ndarray:
        t = self.table
        return free_of(np.asarray(slots), t.active, t.up, t.cap, t.load)   # compiled
