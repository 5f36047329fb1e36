"""Strategies that rank agents by an estimated probability of completing a task.

A *scored* strategy has an estimator ``q(view, slots, rng)``: each agent's probability of
completing a task, in [0, 1]. Every scored strategy then places the same way, so two of them
differ only in what they know:

    cost(a, j) = -log q(a) + FIT_WEIGHT (1 - fitness_a / max_fitness)
                 + LOAD_WEIGHT (load_a + j) / capacity_a

(``j``: the extra task this unit would be). A gang succeeds when all its agents do, so the sum
of ``-log q`` over a gang is minus the log of its success probability: cheapest units = the
likeliest gang. Declared fitness and load only break near-ties (``FIT_WEIGHT``, ``LOAD_WEIGHT``
are in the same log units: 0.01 is worth one percent of success). An agent whose estimate is
below ``floor`` (default ``FLOOR``) is not dispatched to in this decision: its task waits for a
better agent rather than go where it will probably fail. Per signature the candidates are its source list
(a uniform sample of ``CANDIDATE_CAP`` of it when longer), their cheapest units are found by
the threshold scan of ``ranking`` and matched by ``ranked`` (gang, capacity, anti-affinity),
like ``quantum_exact``.

``q`` is evaluated once per agent per decision (a cache), so a random estimator (a Thompson
draw) gives every signature and every matching round of one decision the same value.

Estimators here: ``thompson`` (one draw from the discounted Beta posterior) and ``ewma`` (the
EWMA success score), both from ``outcomes.OutcomeBooks``.
"""

from __future__ import annotations

import numpy as np

from .compiled import fit_term, free_units, sorted_draw
from .fused import neg_log, top_units
from .ranked import Claims, claim_units, place_ranked
from .ranking import Units, scan_units, sorted_unique, unit_costs
from .topunits import TopUnits

FIT_WEIGHT = 0.01
LOAD_WEIGHT = 0.01
FLOOR = 0.5
MIN_Q = 1e-6
CANDIDATE_CAP = 4096      # draws per signature at least (``sample_size``): 2048 cut 4 ms
DEMAND_DRAWS = 8          # from a 1M decision but 1.4-1.7 points of success (docs/scheduler.md)
SLACK = 16


class Scored:
    """Best units by ``-log q`` plus the tie-breaks (module docstring)."""

    def __init__(self, name: str, estimate, floor: float = FLOOR, mean=None,
                 reference: bool = False):
        """``reference``: list candidates the reference way (sort and scan) instead of by
        selection (``topunits``); the two place identically, the reference is slower.
        ``mean(view, slots)``: the estimate's expectation, which the floor is applied to
        (default: the estimate itself; a Thompson draw is compared by its posterior mean, so
        an agent is not refused for one unlucky draw)."""
        self.name, self.estimate, self.floor = name, estimate, floor
        self.mean, self.reference = mean, reference
        self.claims = None
        self._view = None
        self._q = np.zeros(0)
        self._known = np.zeros(0, bool)
        self._touched: list[np.ndarray] = []

    def place(self, view, ledger, batch, rows, rng, stats) -> np.ndarray:
        self._begin(view)
        groups, sigs = [], batch.sig_groups(rows)
        demand = [int(batch.k[srows].sum()) for _, srows in sigs]
        cands = candidates([batch.sources[sig].slots for sig, _ in sigs], rng, demand)
        for (sig, srows), cand, d in zip(sigs, cands, demand):
            need, n_tasks = batch.needs[sig], len(srows)
            lister = self._reference if self.reference else self._top_units
            scan = lister(view, cand, need, n_tasks, rng)
            groups.append((srows, claim_units(scan, d, SLACK + d, self.claims)))
        self.claims.clear()
        return place_ranked(view, ledger, groups, batch.k, batch.level, self.cost_of(view), stats)

    def prepare(self, link) -> None:
        """Refresh the estimator's kept weights to ``link``'s snapshot now (an estimator with a
        ``refresh``; the others keep nothing): the scheduler calls it at the end of a tick so
        that the next decision finds them current. Changes no decision, only when the work is
        done."""
        refresh = getattr(self.estimate, "refresh", None)
        if refresh is not None:
            refresh(link)

    def _top_units(self, view, cand, need, n_tasks, rng) -> TopUnits:
        """The fast lister: the reference's units, found by selection (``topunits``), or in
        one compiled call for an estimator of product form (``_fused``)."""
        form = getattr(self.estimate, "product_form", None)
        if form is not None and self.mean is None:
            return self._fused(view, cand, need, n_tasks, *form(view))
        t = view.table
        floor = self.floor_of(view)

        def evaluate(slots):                      # eligible & free & above the floor, compiled
            value = self._floor_value(view, slots) if floor > -np.inf else np.zeros(len(slots))
            units = free_units(slots, t.active, t.up, t.clearance, t.cap_words, t.comp_words,
                               need.caps, need.comps, need.level, t.cap, t.load, value,
                               floor, n_tasks)
            return units > 0, units

        bound_of = getattr(self.estimate, "bound", None)
        linear = (view.table.load, view.table.cap, LOAD_WEIGHT)   # cost_of's form
        if bound_of is None:
            return TopUnits(cand, self.idle_cost(view, cand, rng), evaluate, self.cost_of(view),
                            linear=linear)
        return TopUnits(cand, bound_of(view, cand), evaluate,
                        self.cost_of(view), lambda s: self.idle_cost(view, s, rng), linear)

    def _fused(self, view, cand, need, n_tasks, bound, factors, hold):
        """``_top_units`` in one compiled call per scan (``fused.top_units``), for an estimator
        of product form (``quantum.ExpectedWeights.product_form``): the same units."""
        t, floor = view.table, self.floor_of(view)
        cand = np.asarray(cand, np.int64)

        def scan(m: int) -> Units:
            s, j, cost, exhausted = top_units(
                cand, bound, factors, hold, t.fitness, float(view.fit_max), FIT_WEIGHT, MIN_Q,
                self._q, t.active, t.up, t.clearance, t.cap_words, t.comp_words, need.caps,
                need.comps, need.level, t.cap, t.load, floor, n_tasks, int(m), LOAD_WEIGHT)
            return Units(s, j, cost, bool(exhausted), 0)

        return scan

    def _reference(self, view, cand, need, n_tasks, rng):
        """The reference lister: candidates sorted by idle cost, threshold scan (``ranking``)."""
        bound = self.idle_cost(view, cand, rng)
        idx = np.argsort(bound, kind="stable")
        order, bounds = cand[idx], bound[idx]

        def evaluate(slots):
            t = view.table
            ok = t.eligible(slots, need.caps, need.comps, need.level) & (view.free(slots) > 0)
            ok &= self._above_floor(view, slots)
            s = slots[ok]
            return unit_costs(s, np.minimum(view.free(s), n_tasks), self.cost_of(view))

        return lambda m: scan_units(order, bounds, 0, m, evaluate)

    def _begin(self, view) -> None:
        n = view.table.capacity
        if self.claims is None or len(self.claims.count) != n:
            self.claims = Claims(n)
            self._q, self._known = np.zeros(n), np.zeros(n, bool)
            self._touched = []
        if view is not self._view:
            for t in self._touched:
                self._known[t] = False
            self._touched, self._view = [], view

    def floor_of(self, view) -> float:
        """The least estimate dispatched to in this decision (``-inf``: no floor). Subclasses
        that read the floor from elsewhere (``quantum.BeliefScored``) override this, so that
        the reference and the compiled lister apply the same floor."""
        return float(self.floor) if self.floor > 0 else -np.inf

    def _above_floor(self, view, slots: np.ndarray) -> np.ndarray:
        floor = self.floor_of(view)
        if floor == -np.inf:
            return np.ones(len(slots), bool)
        return self._floor_value(view, slots) >= floor

    def _floor_value(self, view, slots: np.ndarray) -> np.ndarray:
        """What the floor is applied to: the estimate, or its ``mean``."""
        return self._q[slots] if self.mean is None else self.mean(view, slots)

    def q(self, view, slots: np.ndarray, rng) -> np.ndarray:
        """The estimator's value per slot, drawn at most once per decision (an estimator with
        ``deterministic = True`` gives the same value for a slot all decision long, so it is
        simply evaluated)."""
        slots = np.asarray(slots, np.int64)
        if getattr(self.estimate, "deterministic", False):    # same value on every call of
            q = np.clip(self.estimate(view, slots, rng), 0.0, 1.0)   # a decision: no book-
            self._q[slots] = q                                # keeping, kept for cost_of
            return q
        new = sorted_unique(slots[~self._known[slots]])
        if len(new):
            self._q[new] = np.clip(self.estimate(view, new, rng), 0.0, 1.0)
            self._known[new] = True
            self._touched.append(new)
        return self._q[slots]

    def idle_cost(self, view, slots: np.ndarray, rng) -> np.ndarray:
        """The cost of an agent's first unit if it were idle: a lower bound on all its units."""
        slots = np.asarray(slots, np.int64)
        q = self.q(view, slots, rng)
        fit = _fit_term(view, slots)
        return neg_log(q.reshape(-1), MIN_Q, fit.reshape(-1)).reshape(q.shape)  # fused: one log

    def cost_of(self, view):
        """``cost(a, j)``: ``idle_cost`` plus the load term, in that order (``topunits``'
        ``linear`` path relies on this form)."""
        t = view.table

        def idle(a):
            a = np.asarray(a, np.int64)
            return neg_log(self._q[a].reshape(-1), MIN_Q, _fit_term(view, a).reshape(-1)) \
                .reshape(a.shape)

        def cost(a, j):
            return idle(a) + LOAD_WEIGHT * (t.load[a] + j) / t.cap[a]

        cost.idle, cost.linear = idle, (t.load, t.cap, LOAD_WEIGHT)     # for ranked._flow
        return cost


def _fit_term(view, slots: np.ndarray) -> np.ndarray:
    """``FIT_WEIGHT * (1 - fitness / fit_max)`` per slot, any shape (compiled)."""
    fit = fit_term(slots.reshape(-1), view.table.fitness, float(view.fit_max), FIT_WEIGHT)
    return fit.reshape(slots.shape)


def candidates(posts: list, rng, demand=None) -> list:
    """Each signature's candidates from its source list ``posts[i]``: the whole list when it
    holds at most ``sample_size(demand[i])`` agents, else a uniform sample of that many draws
    (``sorted_draws``), drawn for all signatures of one size at once."""
    size = [sample_size(0 if demand is None else demand[i]) for i in range(len(posts))]
    out = list(posts)
    for m in sorted(set(size)):
        big = [i for i, p in enumerate(posts) if size[i] == m and len(p) > m]
        draws = sorted_draws(np.array([len(posts[i]) for i in big], np.int64), m, rng)
        for i, idx in zip(big, draws):
            out[i] = posts[i][idx]
    return out


def sample_size(demand: int) -> int:
    """Draws per signature: ``CANDIDATE_CAP``, or ``DEMAND_DRAWS`` per unit its tasks demand
    when that is more (the lister reads about ``2 d + slack`` units; a big gang, or many tasks
    of one signature, must not be starved by a fixed sample)."""
    return max(CANDIDATE_CAP, DEMAND_DRAWS * int(demand))


def sorted_draws(n: np.ndarray, size: int, rng) -> list:
    """For each ``n[i]``: the distinct values among ``size`` uniform draws from ``range(n[i])``,
    ascending. The distribution of ``sorted_unique(rng.integers(0, n[i], size))`` without its
    sort (the sort of 4,096 draws per signature was a sixth of a 1M-agent decision): the order
    statistics of ``size`` uniforms are the partial sums of ``size + 1`` standard exponentials
    divided by their total (Devroye, *Non-Uniform Random Variate Generation*, V.2.2), so
    ascending draws come from one cumulative sum; ``floor(u n)`` is uniform on ``range(n)``.
    The exponentials come from one call for all rows; each row is then one compiled pass
    (``compiled.sorted_draw``, capped at ``n - 1``: ``u`` rounds up to 1 when the last gap is
    tiny)."""
    n = np.asarray(n, np.int64)
    if len(n) == 0:
        return []
    e = rng.standard_exponential((len(n), size + 1))
    return [sorted_draw(row, m) for row, m in zip(e, n.tolist())]    # compiled, row by row


def thompson(view, slots: np.ndarray, rng) -> np.ndarray:
    """One draw from each agent's discounted Beta posterior of success."""
    return view.books.sample(slots, view.now, rng)


def thompson_mean(view, slots: np.ndarray) -> np.ndarray:
    return view.books.mean(slots, view.now)


def ewma(view, slots: np.ndarray, rng) -> np.ndarray:
    """Each agent's EWMA success score."""
    return view.books.ewma(slots)
