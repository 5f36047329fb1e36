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
* those few agents' units are expanded and ordered by the key above (``np.lexsort``).

Costs come from the same ``cost(slots, j)`` the reference evaluates, elementwise, so they are
the same numbers and the same ties; ``tests/scheduler/test_topunits.py`` checks the equality
decision by decision on random fleets.
"""

from __future__ import annotations

import numpy as np

from .ranking import Units, unit_costs


class TopUnits:
    """``self(m) -> Units``: the ``m`` cheapest units of eligible candidates (module docstring).

    ``cand`` candidate slots (distinct); ``ok`` which are eligible, free and above the floor;
    ``units`` how many units each candidate offers; ``cost(slots, j)`` the unit cost;
    ``bound(slots)`` the idle cost the reference sorts by.
    """

    def __init__(self, cand: np.ndarray, ok: np.ndarray, units: np.ndarray, cost, bound):
        self.pos = np.flatnonzero(ok)
        self.slots = cand[self.pos]
        self.units = np.maximum(units[self.pos], 0)
        keep = self.units > 0
        self.pos, self.slots, self.units = self.pos[keep], self.slots[keep], self.units[keep]
        self.total = int(self.units.sum())
        self.cost, self.bound = cost, bound
        self.first = cost(self.slots, np.zeros(len(self.slots), np.int64))

    def __call__(self, m: int) -> Units:
        sel = slice(None)
        if self.total > m and len(self.first) > m > 0:
            threshold = np.partition(self.first, m - 1)[m - 1]
            sel = np.flatnonzero(self.first <= threshold)
        slots, pos, units = self.slots[sel], self.pos[sel], self.units[sel]
        rep, j, cost = unit_costs(slots, units, self.cost)
        bound = np.repeat(self.bound(slots), units)
        order = np.lexsort((j, np.repeat(pos, units), bound, cost))[:m]
        return Units(rep[order], j[order], cost[order], self.total < m, 0)
