"""The register's books: which slot holds an agent, which cell and site holds it, when it was
last seen, how many of its heartbeats went missing, its hazard, and each pair cell's
correlated-failure rate.

Host numpy arrays the other parts read: per agent slot (``capacity``) ``kind``, ``cell``,
``site``, ``last_seen``, ``hazard`` (lone failure rate), ``misses`` / ``heard`` (heartbeats
missed between two heard ones / heard after a first; ``heartbeat_loss`` estimates from them);
per pair cell row ``pair_agents`` ``(P, 2)`` and ``pair_rate``; per
single cell row ``single_agent``. An agent id is a slot in ``[0, capacity)``, stable until the
agent is removed. Which cell row a new agent gets is the placement's decision
(``placement.py``); the books record it. ``membership`` counts changes, so the tick can cache
what depends on who sits where.
"""

from __future__ import annotations

import numpy as np

KIND_FREE, KIND_SINGLE, KIND_PAIR = 0, 1, 2


class Books:
    """Slots and seats of ``capacity`` agents over ``pair_rows`` pair cells and
    ``single_rows`` single cells."""

    def __init__(self, capacity: int, pair_rows: int, single_rows: int, corr_rate: float,
                 hazard: float = 0.0):
        n = self.capacity = capacity
        self.default_hazard = hazard
        self.hazard = np.full(n, hazard, np.float64)
        self.misses = np.zeros(n, np.float64)
        self.heard = np.zeros(n, np.float64)
        self.heard_once = np.zeros(n, bool)
        self.kind = np.zeros(n, np.int8)
        self.cell = np.full(n, -1, np.int64)
        self.site = np.zeros(n, np.int8)
        self.last_seen = np.zeros(n, np.float64)
        self.pair_agents = np.full((pair_rows, 2), -1, np.int64)
        self.single_agent = np.full(single_rows, -1, np.int64)
        self.pair_rate = np.full(pair_rows, corr_rate, np.float64)
        self.free_slots = list(range(n - 1, -1, -1))
        self.pair_hw = self.single_hw = 0     # one past the highest pair / single row used
        self.membership = 0

    # ---- reads ---------------------------------------------------------------------------
    @property
    def active(self) -> np.ndarray:
        return self.kind != KIND_FREE

    @property
    def n_active(self) -> int:
        return self.capacity - len(self.free_slots)

    def partner(self) -> np.ndarray:
        """Each slot's pair partner, int64 ``(capacity,)``; -1 alone or free."""
        out = np.full(self.capacity, -1, np.int64)
        paired = np.flatnonzero(self.kind == KIND_PAIR)
        agents = self.pair_agents[self.cell[paired]]
        out[paired] = np.where(agents[:, 0] == paired, agents[:, 1], agents[:, 0])
        return out

    def check_ids(self, ids) -> np.ndarray:
        """``ids`` as int64 ``(n,)`` of active agents; else ``ValueError`` naming one."""
        arr = np.atleast_1d(np.asarray(ids))
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"ids must be a 1-D array of ints, got shape {arr.shape} "
                             f"dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        bad = arr[(arr < 0) | (arr >= self.capacity)]
        if bad.size == 0:
            bad = arr[self.kind[arr] == KIND_FREE]
        if bad.size:
            raise ValueError(f"ids contains {bad.size} unknown agent id(s), e.g. {int(bad[0])}")
        return arr

    # ---- changes -------------------------------------------------------------------------
    def take_slots(self, n: int, what: str = "agents") -> np.ndarray:
        """``n`` free slots, lowest first; ``ValueError`` (nothing taken) if too few."""
        pool = self.free_slots
        if n > len(pool):
            raise ValueError(f"cannot add {n} {what}: only {len(pool)} free (capacity "
                             f"{self.capacity})")
        return np.array([pool.pop() for _ in range(n)], dtype=np.int64)

    def seat_pairs(self, ids: np.ndarray, cells: np.ndarray, corr_rate: float,
                   now: float) -> None:
        """Agents ``ids[2i], ids[2i+1]`` take sites 0 and 1 of pair cell ``cells[i]``."""
        self.kind[ids], self.cell[ids] = KIND_PAIR, np.repeat(cells, 2)
        self.site[ids] = np.tile([0, 1], len(cells))
        self.pair_agents[cells] = ids.reshape(-1, 2)
        self.pair_rate[cells] = corr_rate
        self._fresh(ids, now)
        self.pair_hw = max(self.pair_hw, int(cells.max(initial=-1)) + 1)
        self.membership += 1

    def seat_singles(self, ids: np.ndarray, cells: np.ndarray, now: float) -> None:
        """Agent ``ids[i]`` takes single cell ``cells[i]``."""
        self.kind[ids], self.cell[ids], self.site[ids] = KIND_SINGLE, cells, 0
        self.single_agent[cells] = ids
        self._fresh(ids, now)
        self.single_hw = max(self.single_hw, int(cells.max(initial=-1)) + 1)
        self.membership += 1

    def _fresh(self, ids: np.ndarray, now: float) -> None:
        self.last_seen[ids] = now
        self.hazard[ids] = self.default_hazard
        self.misses[ids], self.heard[ids], self.heard_once[ids] = 0.0, 0.0, False

    def seen(self, ids: np.ndarray, when: float, period: float = 0.0) -> None:
        """Agents seen alive at model time ``when``: their staleness clocks restart. With a
        heartbeat ``period``, the gap since the last one heard counts the ones missed (gaps
        longer than 3.5 periods are outages, not losses, and are not counted)."""
        if period > 0:
            gap = when - self.last_seen[ids]
            counted = self.heard_once[ids] & (gap < 3.5 * period) & (gap > 0)
            lost = np.maximum(np.round(gap / period) - 1.0, 0.0)
            np.add.at(self.misses, ids[counted], lost[counted])
            np.add.at(self.heard, ids[counted], 1.0)
            self.heard_once[ids] = True
        self.last_seen[ids] = when

    def heartbeat_loss(self, ids: np.ndarray, prior: float, strength: float) -> np.ndarray:
        """Each agent's heartbeat loss: Beta posterior mean with ``prior`` worth ``strength``
        heartbeats."""
        m = self.misses[ids]
        return (m + prior * strength) / (m + self.heard[ids] + strength)

    def unseat(self, ids: np.ndarray) -> list[tuple[bool, int]]:
        """Free the slots of ``ids`` (checked); returns the cells left empty, in order, as
        ``(is_pair, row)``. A removed agent's partner stays in its pair cell."""
        emptied = []
        for a in ids.tolist():
            kind, cell = self.kind[a], self.cell[a]
            if kind == KIND_PAIR:
                self.pair_agents[cell, self.site[a]] = -1
                if (self.pair_agents[cell] < 0).all():
                    emptied.append((True, int(cell)))
            else:
                self.single_agent[cell] = -1
                emptied.append((False, int(cell)))
            self.kind[a], self.cell[a] = KIND_FREE, -1
            self.free_slots.append(a)
        self.membership += 1
        return emptied
