"""Between ticks: the queue of observations (heartbeats, failures) and of task outcomes.

Observations are queued and applied in arrival order before the next tick or the next read of a
diagnostic, in one batched scatter per round: round k applies the k-th event of every cell, so a
burst of heartbeats costs one device update, not one each. A heartbeat is a weak measurement
(POVM ``M0 = diag(sqrt(e), 1)``, ``M1 = diag(sqrt(1 - e), 0)`` on the site, ``e`` the false-alive
rate), an observed failure the projection on ``|0>``; both are Lueders updates
(``uqo.engine.observe``) of the agent's cell, so a pair partner is updated through the joint
state. Outcomes (rewards) add up per agent until the tick reads them.
"""

from __future__ import annotations

import math

import numpy as np

from .. import pairmath as pm
from ..observe import lueders_pairs, lueders_singles
from .books import KIND_FREE, KIND_PAIR, KIND_SINGLE, Books
from .cells import CellArrays
from .diagnostics import Diagnostics

_HEARTBEAT, _FAILURE = 0, 1


class Observations:
    """The queued observations and the summed rewards of agents in ``books``; applies them to
    ``cells`` and refreshes ``diagnostics``. ``heartbeat_error``: ``e`` above."""

    def __init__(self, books: Books, cells: CellArrays, diagnostics: Diagnostics,
                 heartbeat_error: float):
        self._books, self._cells, self._diag = books, cells, diagnostics
        self._error = heartbeat_error
        self.rewards = np.zeros(books.capacity, np.float64)
        self._queue: list[tuple[np.ndarray, int]] = []   # (agent ids, _HEARTBEAT | _FAILURE)

    # ---- queueing (ids already checked) ------------------------------------------------------
    def record_outcome(self, ids: np.ndarray, rewards) -> None:
        """Add ``rewards`` in [-1, 1] to the agents' sums (the tick clips them to [-1, 1])."""
        r = np.broadcast_to(np.asarray(rewards, dtype=np.float64), ids.shape)
        if not np.all(np.isfinite(r)) or np.any(np.abs(r) > 1):
            raise ValueError(f"rewards must be finite and in [-1, 1], got shape {r.shape} "
                             f"with values outside")
        np.add.at(self.rewards, ids, r)

    def heartbeat(self, ids: np.ndarray, when: float) -> None:
        self._books.seen(ids, when)
        self._queue.append((ids, _HEARTBEAT))

    def failure(self, ids: np.ndarray) -> None:
        self._queue.append((ids, _FAILURE))

    def forget(self, ids: np.ndarray) -> None:
        """Drop the summed rewards of ``ids`` (new or removed agents)."""
        self.rewards[ids] = 0.0

    def rewards_applied(self) -> None:
        """The tick used every summed reward: start the next sums from 0."""
        self.rewards[:] = 0.0

    # ---- applying ---------------------------------------------------------------------------
    def flush(self, refresh: bool = True) -> None:
        """Apply the queued observations. ``refresh=False`` (the tick, which recomputes every
        diagnostic right after) skips refreshing the observed agents' diagnostics."""
        if not self._queue:
            return
        queue, self._queue = self._queue, []
        kind = self._books.kind
        agents = np.concatenate([ids for ids, _ in queue])
        kinds = np.concatenate([np.full(len(ids), k, np.int8) for ids, k in queue])
        keep = kind[agents] != KIND_FREE
        agents, kinds = agents[keep], kinds[keep]
        e = self._error
        m0 = np.where(kinds == _HEARTBEAT, math.sqrt(e), 1.0)
        m1 = np.where(kinds == _HEARTBEAT, math.sqrt(1 - e), 0.0)
        for pairs in (True, False):
            sel = (kind[agents] == (KIND_PAIR if pairs else KIND_SINGLE))
            if sel.any():
                self._apply_rounds(agents[sel], m0[sel], m1[sel], pairs, refresh)

    def _apply_rounds(self, agents, m0, m1, pairs: bool, refresh: bool) -> None:
        """Round ``k`` measures the ``k``-th queued event of every cell, so that a round touches
        each cell at most once (one scatter) and a cell's events keep their order."""
        cells = self._books.cell[agents]
        order = np.argsort(cells, kind="stable")
        agents, m0, m1, cells = agents[order], m0[order], m1[order], cells[order]
        start = np.r_[0, np.flatnonzero(np.diff(cells)) + 1]
        rank = np.arange(len(cells)) - np.repeat(start, np.diff(np.r_[start, len(cells)]))
        for r in range(int(rank.max()) + 1):
            sel = rank == r
            if pairs:
                self._measure_pairs(agents[sel], cells[sel], m0[sel], m1[sel], refresh)
            else:
                self._measure_singles(agents[sel], cells[sel], m0[sel], m1[sel])

    def _measure_pairs(self, agents, cells, m0, m1, refresh: bool) -> None:
        store_cells, sites = self._cells, self._books.site[agents]
        bad = store_cells.observe_pairs_in_place(cells, sites, m0, m1)
        if bad is not None:       # host store (numba): the cells were updated where they are
            if refresh:
                good = cells[~bad]
                self._diag.refresh_pairs(good, store_cells.read(good, True),
                                         store_cells.read_entropy(good, True))
            if not bad.any():
                return
            agents, cells, m0, m1, sites = agents[bad], cells[bad], m0[bad], m1[bad], sites[bad]
        # The touched cells are few: gather them to the host, update with numpy, scatter back.
        host = lueders_pairs(store_cells.read(cells, True), sites, m0, m1)
        sab = pm.pair_entropy(host)
        store_cells.write(cells, host, sab, pairs=True)
        if refresh:
            self._diag.refresh_pairs(cells, host, sab)

    def _measure_singles(self, agents, cells, m0, m1) -> None:
        host = lueders_singles(self._cells.read(cells, False), np, m0, m1)
        entropy = pm.qubit_entropy(host)
        self._cells.write(cells, host, entropy, pairs=False)
        self._diag.refresh_singles(agents, host, entropy)
