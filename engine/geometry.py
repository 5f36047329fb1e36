"""Where agents sit in the register's cell arrays, as index arrays the tick can use directly.

Rebuilt only when membership changes (the register's ``Stepper`` caches it); the tick is hot,
add and remove are not. Where every cell is occupied and ids are evenly spaced (agents added in
bulk), indices become slices, so the per-tick gathers and scatters are strided copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Geometry:
    """Where agents sit in a prefix of cells: ``agents`` ``(n, sites)`` with -1 for empty;
    per site the occupied mask ``ok`` (None: all), cell indices ``cells`` (None: all) and agent
    ids ``who``; ``live_idx`` (cells with any agent) and ``full_idx`` (all sites occupied), None
    meaning every cell, and ``live`` the mask form of ``live_idx``."""

    agents: np.ndarray
    ok: list
    cells: list
    who: list
    live: np.ndarray | None
    live_idx: np.ndarray | None
    full_idx: np.ndarray | None

    @classmethod
    def build(cls, agents: np.ndarray) -> Geometry:
        agents = np.ascontiguousarray(agents)
        occ = agents >= 0
        ok, cells, who = [], [], []
        for site in range(agents.shape[1]):
            col = occ[:, site]
            every = bool(col.all())
            ok.append(None if every else col)
            idx = None if every else np.flatnonzero(col)
            cells.append(idx)
            who.append(_as_slice(agents[:, site].copy() if every else agents[idx, site]))
        live, full = occ.any(axis=1), occ.all(axis=1)
        return cls(agents, ok, cells, who, None if live.all() else live,
                   None if live.all() else np.flatnonzero(live),
                   None if full.all() else np.flatnonzero(full))

    def site_ids(self, site: int):
        """Agent ids of every cell's ``site`` (a slice where all are occupied and evenly
        spaced, else an array with -1 for empty sites)."""
        return self.who[site] if self.ok[site] is None else self.agents[:, site]

    @staticmethod
    def select(values: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
        return values if idx is None else values[idx]


def _as_slice(ids: np.ndarray):
    """``ids`` as a slice when it is an arithmetic progression (agents added in bulk are), so
    the per-tick scatters are strided copies instead of fancy indexing; else ``ids``."""
    if len(ids) < 2:
        return ids
    step = int(ids[1] - ids[0])
    if step > 0 and np.array_equal(ids, ids[0] + step * np.arange(len(ids))):
        return slice(int(ids[0]), int(ids[-1]) + 1, step)
    return ids
