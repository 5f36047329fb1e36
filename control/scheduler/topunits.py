"""The ``m`` cheapest units of one signature's candidates, by selection instead of a sort.

``scored`` lists, per signature, the ``m`` cheapest units among its candidates (a sample of up
to ``CANDIDATE_CAP`` agents). The reference way (``ranking.scan_units``) sorts the candidates
by their idle cost and scans them in chunks; it returns the first ``m`` units in the order

    (unit cost, idle cost of its agent, the agent's index among the candidates, j)

(the scan visits agents by ascending idle cost, ties by candidate index, and keeps units
stably by cost). This module returns exactly those ``m`` units without sorting the candidates:

* every unit of an agent costs at least its first unit (costs rise with load), so when the
  eligible agents offer ``m`` units or more, the ``m`` cheapest all cost at most
  ``T`` = the ``m``-th smallest first-unit cost; only agents whose first unit costs ``<= T``
  can contribute (``np.partition``, linear time);
* those few agents' units are expanded and ordered by the key above (``np.lexsort``);
* candidates are evaluated (eligibility, free capacity) lazily, smallest idle cost first, and
  only as far as the threshold rule of ``ranking`` requires.

Costs come from the same ``cost(slots, j)`` the reference evaluates, elementwise, so they are
the same numbers and the same ties; ``tests/scheduler/test_topunits.py`` checks the equality
decision by decision on random fleets.
"""

from __future__ import annotations

import numpy as np

from .compiled import band, select_linear
from .ranking import Units, unit_costs

FIRST = 256
SAMPLE = 128


class TopUnits:
    """``self(m) -> Units``: the ``m`` cheapest units of eligible candidates (module docstring).

    ``cand`` candidate slots (distinct); ``bound`` their idle costs (what the reference sorts
    by; a lower bound on each agent's unit costs); ``evaluate(slots) -> (ok, units)``: which
    are eligible, free and above the floor, and how many units each offers; ``cost(slots, j)``
    the unit cost. Candidates are evaluated lazily, cheapest bounds first: once the ``m``-th
    cheapest unit found costs less than every bound not yet evaluated, the rest cannot enter,
    not even on a tie (the threshold rule of ``ranking``, with a selection instead of a sort).
    """

    def __init__(self, cand: np.ndarray, bound: np.ndarray, evaluate, cost, bound_of=None,
                 linear=None):
        """``bound_of(slots)``: when given, ``bound`` is only a lower bound on the idle costs
        (cheaper to get for every candidate) and ``bound_of`` the idle costs themselves, asked
        for the candidates evaluated. ``linear = (load, cap, weight)``: a promise that
        ``cost(a, j)`` is ``idle(a) + weight * (load[a] + j) / cap[a]`` computed in that
        order; the selection then runs compiled (``compiled``), with the same result."""
        self.cand, self.bound, self.evaluate, self.cost = cand, bound, evaluate, cost
        self.bound_of, self.linear = bound_of, linear
        self.limit = -np.inf                  # every candidate with bound <= limit is evaluated
        self.pos = np.zeros(0, np.int64)
        self.units = np.zeros(0, np.int64)
        self.first = np.zeros(0)
        self.idle = np.zeros(0)

    def __call__(self, m: int) -> Units:
        k = max(FIRST, 2 * m)
        while True:
            rest = self._grow(k)
            units = self._select(m)
            if rest == np.inf or (len(units.cost) >= m and units.cost[m - 1] < rest):
                break
            k *= 4
        total = int(self.units.sum())
        return Units(units.slots, units.j, units.cost, rest == np.inf and total < m, 0)

    def _grow(self, k: int) -> float:
        """Evaluate every candidate whose bound is at most a limit that about ``k`` bounds
        meet (``about_kth``; at least one more than before); returns the smallest bound left
        unevaluated (``inf``: none). Which limit is chosen changes only how much is evaluated,
        never the answer: ``__call__`` stops once the ``m``-th unit is below that bound."""
        bound = self.bound
        limit = np.inf if k >= len(bound) else about_kth(bound, k)
        if limit <= self.limit:                       # the estimate did not move: one step
            limit = _min_above(bound, self.limit)
        if limit > self.limit:
            new, rest = band(bound, self.limit, limit)        # limit < bound: rest
            self._add(new)
            self.limit = limit
            return float(rest)
        return _min_above(bound, self.limit)

    def _add(self, new: np.ndarray) -> None:
        """Evaluate candidates ``new`` (positions) and keep those offering units."""
        slots = self.cand[new]
        idle = self.bound[new] if self.bound_of is None else self.bound_of(slots)
        ok, units = self.evaluate(slots)
        keep = ok & (units > 0)
        new, units, idle, slots = new[keep], units[keep], idle[keep], slots[keep]
        first = self.cost(slots, np.zeros(len(new), np.int64)) if self.linear is None \
            else idle                             # unused: select_linear prices first units
        if len(self.pos):
            new, idle = np.concatenate([self.pos, new]), np.concatenate([self.idle, idle])
            units = np.concatenate([self.units, units])
            first = np.concatenate([self.first, first])
        self.pos, self.idle, self.units, self.first = new, idle, units, first

    def _select(self, m: int) -> Units:
        """The ``m`` cheapest units among the evaluated candidates, in the reference order."""
        if self.linear is not None:
            load, cap, weight = self.linear
            slots, j, cost = select_linear(self.pos, self.units, self.idle, self.cand[self.pos],
                                           load, cap, float(weight), int(m))
            return Units(slots, j, cost, False, 0)
        sel = slice(None)
        if int(self.units.sum()) > m and len(self.first) > m > 0:
            threshold = np.partition(self.first, m - 1)[m - 1]
            sel = np.flatnonzero(self.first <= threshold)
        pos, units = self.pos[sel], self.units[sel]
        slots = self.cand[pos]
        rep, j, cost = unit_costs(slots, units, self.cost)
        bound = np.repeat(self.idle[sel], units)
        order = np.lexsort((j, np.repeat(pos, units), bound, cost))[:m]
        return Units(rep[order], j[order], cost[order], False, 0)


def about_kth(x: np.ndarray, k: int) -> float:
    """A value that about ``k`` of ``x`` are at most: the matching quantile of an evenly
    strided sample of ~``SAMPLE`` entries (a sort of those instead of a selection over all
    of ``x``, which cost ~0.1 ms per signature). Only a guess: callers must stay correct
    whatever it returns."""
    step = max(1, len(x) // SAMPLE)
    sample = np.sort(x[::step])
    return float(sample[min(len(sample) - 1, -(-k * len(sample) // len(x)))])


def _min_above(x: np.ndarray, limit: float) -> float:
    """The smallest entry of ``x`` above ``limit`` (``inf``: none)."""
    return float(np.min(x, where=x > limit, initial=np.inf))
