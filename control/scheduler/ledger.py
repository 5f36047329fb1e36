"""What one ``decide`` has placed so far. Every commit is a whole gang and raises the agents'
load at once, so later steps of the same decision see the capacity that is left."""

from __future__ import annotations

import numpy as np

from .compiled import free_of


class Ledger:
    """Row -> agent slots placed in this decision; commits update ``table.load``."""

    def __init__(self, table):
        self.table = table
        self.placed: dict[int, np.ndarray] = {}

    def commit(self, row: int, slots: np.ndarray) -> None:
        slots = np.asarray(slots, np.int64)
        np.add.at(self.table.load, slots, 1)
        self.placed[int(row)] = slots

    def commit_blocks(self, rows: np.ndarray, slots: np.ndarray, k: np.ndarray) -> None:
        """Commit ``rows[i]`` with the next ``k[i]`` entries of ``slots`` (concatenated)."""
        np.add.at(self.table.load, slots, 1)
        ends = np.cumsum(k)
        for r, a, b in zip(rows.tolist(), (ends - k).tolist(), ends.tolist()):
            self.placed[r] = slots[a:b]

    def free(self, slots: np.ndarray) -> np.ndarray:
        t = self.table
        return free_of(np.asarray(slots), t.active, t.up, t.cap, t.load)   # compiled
