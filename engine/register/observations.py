"""Between ticks: the queue of observations (heartbeats, failures, outcomes, silence) and of
reward rotations.

Every observation is a measurement of the agent's liveness site by a diagonal Kraus operator
``M = diag(m0, m1)`` (``m = sqrt(effect)``, the table of ``uqo.engine.evidence``): a heartbeat
``(sqrt(e), sqrt(1 - e))`` (``e`` the false-alive rate), an observed failure ``(1, 0)``, a task
outcome that came back ``(0, 1)``, a timeout ``(1, sqrt(t))``, missed heartbeats ``(1,
sqrt(l^k))``. They are queued and applied in arrival order before the next tick or the next read
of a diagnostic, in one batched scatter per round: round k applies the k-th event of every cell,
so a burst of heartbeats costs one device update, not one each. Each is a Lueders update
(``uqo.engine.observe``) of the agent's cell, so a pair partner is updated through the joint
state. Outcomes that came back are also measurements of the agent's reliability qubit
(``ReliabilityCells``). Rewards (the register's older rotation API) add up per agent until the
tick reads them.
"""

from __future__ import annotations

import math

import numpy as np

from .. import pairmath as pm
from ..observe import lueders_pairs, lueders_singles
from .books import KIND_FREE, KIND_PAIR, KIND_SINGLE, Books
from .cells import CellArrays
from .diagnostics import Diagnostics

SUCCESS, FAILURE, TIMEOUT = 0, 1, 2
OUTCOMES = {"success": SUCCESS, "failure": FAILURE, "timeout": TIMEOUT}


class Observations:
    """The queued observations and the summed rewards of agents in ``books``; applies them to
    ``cells`` and ``reliability`` and refreshes ``diagnostics``; ``params``: the model's
    ``TickParams`` (``e``, ``t``, the heartbeat period)."""

    def __init__(self, books: Books, cells: CellArrays, diagnostics: Diagnostics, params,
                 reliability):
        self._books, self._cells, self._diag = books, cells, diagnostics
        self._params, self.reliability = params, reliability
        self.rewards = np.zeros(books.capacity, np.float64)
        self._queue: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []   # (ids, m0, m1)

    # ---- queueing (ids already checked) ------------------------------------------------------
    def record_outcome(self, ids: np.ndarray, rewards) -> None:
        """Add ``rewards`` in [-1, 1] to the agents' sums (the tick clips them to [-1, 1])."""
        r = np.broadcast_to(np.asarray(rewards, dtype=np.float64), ids.shape)
        if not np.all(np.isfinite(r)) or np.any(np.abs(r) > 1):
            raise ValueError(f"rewards must be finite and in [-1, 1], got shape {r.shape} "
                             f"with values outside")
        np.add.at(self.rewards, ids, r)

    def heartbeat(self, ids: np.ndarray, when: float) -> None:
        self._books.seen(ids, when, self._params.heartbeat_period)
        e = self._params.heartbeat_error
        self._push(ids, math.sqrt(e), math.sqrt(1 - e))

    def failure(self, ids: np.ndarray) -> None:
        self._push(ids, 1.0, 0.0)

    def outcome(self, ids: np.ndarray, codes: np.ndarray) -> None:
        """Task outcomes (``SUCCESS``, ``FAILURE``, ``TIMEOUT`` per id): liveness evidence for
        each, reliability evidence for those that came back."""
        back = codes != TIMEOUT
        self._push(ids, np.where(back, 0.0, 1.0),
                   np.where(back, 1.0, math.sqrt(self._params.timeout_alive)))
        if back.any():
            self.reliability.outcome(ids[back], codes[back] == SUCCESS)

    def silence(self, ids: np.ndarray, m1: np.ndarray) -> None:
        """Expected heartbeats that did not come: ``M = diag(1, m1)``."""
        self._push(ids, 1.0, m1)

    def _push(self, ids: np.ndarray, m0, m1) -> None:
        if len(ids):
            self._queue.append((ids, np.broadcast_to(np.asarray(m0, np.float64), ids.shape),
                                np.broadcast_to(np.asarray(m1, np.float64), ids.shape)))

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
        agents = np.concatenate([ids for ids, _, _ in queue])
        m0 = np.concatenate([x for _, x, _ in queue])
        m1 = np.concatenate([x for _, _, x in queue])
        keep = kind[agents] != KIND_FREE
        agents, m0, m1 = agents[keep], m0[keep], m1[keep]
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
