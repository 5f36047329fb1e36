"""The ``quantum`` strategy: scores from the engine belief state.

``score(a) = p_a * fitness_a / max_fitness * (1 - load_a / capacity_a)`` with ``p_a = <1|rho_a|1>``
the Born-rule readiness of the agent's reduced state (``view``). Two modes:

* ``sample`` (default): each task draws its ``k`` agents one by one, without replacement, with
  probability proportional to the score (``sampling``), so good agents are used most and every
  agent keeps a chance (its outcomes keep teaching the engine). Drawing one member of a pair
  whose mutual information exceeds the threshold removes the other (anti-affinity).
* ``exact``: the best ``k`` by score. Tasks of one signature share the cheapest units
  (cost ``1 - score`` with the load the unit adds) found by the threshold scan of ``ranking``
  over the posting list sorted by the idle score, then matched by ``ranked``.
"""

from __future__ import annotations

import numpy as np

from .listed import place_listed
from .ranked import Claims, claim_units, place_ranked
from .ranking import scan_units, unit_costs
from .sampling import sample_lists

SAMPLE_SLACK = 4
EXACT_SLACK = 16


class QuantumSample:
    name = "quantum"

    def place(self, view, ledger, batch, rows, rng, stats) -> np.ndarray:
        k = batch.k[rows]
        want = k + np.minimum(k, SAMPLE_SLACK)
        lists = sample_lists(view.table, batch.need_rows(rows), want, view.score, view.key, rng)
        return rows[place_listed(view, ledger, lists, rows, k, batch.level[rows], stats)]


class QuantumExact:
    name = "quantum"

    def __init__(self):
        self.bounds = BoundOrder()
        self.claims = None

    def place(self, view, ledger, batch, rows, rng, stats) -> np.ndarray:
        self.bounds.refresh(view)
        if self.claims is None or len(self.claims.count) != view.table.capacity:
            self.claims = Claims(view.table.capacity)
        groups = []
        for sig, srows in batch.sig_groups(rows):
            need = batch.needs[sig]
            d = int(batch.k[srows].sum())
            evaluate = self._evaluator(view, need, len(srows))
            order, bounds = self.bounds.order(view, batch.sources[sig])
            dirty = self.bounds.dirty
            extra = evaluate(dirty, skip_dirty=False) if len(dirty) else None

            def scan(m, order=order, bounds=bounds, evaluate=evaluate, extra=extra):
                return scan_units(order, bounds, 0, m, evaluate, extra)

            groups.append((srows, claim_units(scan, d, EXACT_SLACK + d, self.claims)))
        self.claims.clear()
        return place_ranked(view, ledger, groups, batch.k, batch.level,
                            lambda a, j: _cost(view, a, j), stats)

    def _evaluator(self, view, need, n_tasks: int):
        t, dirty_mask = view.table, self.bounds.dirty_mask

        def cost(a, j):
            return _cost(view, a, j)

        def evaluate(slots, skip_dirty=True):
            ok = t.eligible(slots, need.caps, need.comps, need.level) & (view.free(slots) > 0)
            if skip_dirty:
                ok &= ~dirty_mask[slots]
            s = slots[ok]
            return unit_costs(s, np.minimum(view.free(s), n_tasks), cost)

        return evaluate


def _cost(view, a: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``1 - score`` of agent ``a`` carrying ``j`` more tasks than now."""
    t = view.table
    return 1.0 - view.quality(a) * (1.0 - (t.load[a] + j) / t.cap[a])


class BoundOrder:
    """Posting lists sorted by the idle cost ``1 - p f / max_f`` as of a readiness snapshot.

    That idle cost is a lower bound on every unit cost of the agent while its readiness is the
    snapshot's. Agents whose readiness has changed since (``dirty``: heartbeats, failures) are
    evaluated apart; when too many have changed, or agents joined or left, the snapshot is
    retaken and lists are re-sorted lazily.
    """

    def __init__(self):
        self.snap = None
        self.generation = -1
        self.version = -1
        self.fit_max = None
        self.cache: dict = {}
        self.dirty = np.zeros(0, np.int64)
        self.dirty_mask = np.zeros(0, bool)

    def refresh(self, view) -> None:
        table, link = view.table, view.link
        if link.generation == self.generation and self._fresh(table, view, link.ready_eng):
            return
        self.generation = link.generation
        if len(self.dirty_mask) != table.capacity:
            self.dirty_mask = np.zeros(table.capacity, bool)
        self.dirty_mask[self.dirty] = False
        self.dirty = np.zeros(0, np.int64)
        ready = link.ready_eng
        if self._fresh(table, view, ready):
            changed = link.slot_of_eng[np.flatnonzero(ready != self.snap)]
            changed = changed[changed >= 0]
            if len(changed) <= max(1024, table.n_active // 256):
                self.dirty = changed
                self.dirty_mask[changed] = True
                return
        self.snap, self.version, self.fit_max = ready.copy(), table.version, view.fit_max
        self.cache.clear()

    def _fresh(self, table, view, ready) -> bool:
        return (self.snap is not None and self.version == table.version
                and self.fit_max == view.fit_max and len(ready) == len(self.snap))

    def order(self, view, source) -> tuple[np.ndarray, np.ndarray]:
        hit = self.cache.get(source.key)
        if hit is None:
            post = source.slots
            eng = view.link.eng[post]
            p = np.where(eng >= 0, self.snap[np.maximum(eng, 0)], 0.0).astype(np.float64)
            b = 1.0 - p * (view.table.fitness[post].astype(np.float64) / self.fit_max)
            idx = np.argsort(b, kind="stable")
            hit = self.cache[source.key] = (post[idx], b[idx])
        return hit
