"""Exact "M cheapest units" over a list of agents without evaluating the whole list.

A *unit* is one more task on an agent; its cost rises with the agent's load (every ranked
strategy's cost is increasing in load: ``1 - p f (1 - load/cap)`` for quantum-exact,
``load/cap`` for least-connections). The list is scanned in ascending order of a per-agent
lower bound on every unit cost (the threshold algorithm of Fagin, Lotem and Naor): once the
M-th cheapest unit found so far costs no more than the next agent's bound, no unscanned agent
can improve the answer and the scan stops. With a constant bound (least-connections: 0) it stops
as soon as M zero-cost units are found, scanning from a rotating start so ties rotate.

Agents whose bound changed since the order was built (``dirty``) are evaluated separately by
the caller and passed in as ``extra``; ``evaluate`` must skip them in the scan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

FIRST_CHUNK = 2048


@dataclass
class Units:
    """``slots[i]`` gets its ``j[i]``-th extra task at cost ``cost[i]``; ascending cost (ties:
    scan order). ``exhausted``: every unit there is was found (fewer than asked for)."""

    slots: np.ndarray
    j: np.ndarray
    cost: np.ndarray
    exhausted: bool
    end: int


Evaluate = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def scan_units(order: np.ndarray, bounds: np.ndarray | None, start: int, m: int,
               evaluate: Evaluate, extra: tuple | None = None) -> Units:
    """The ``m`` cheapest units among ``order`` (scanned from ``start``, wrapping) and ``extra``.

    ``bounds[i]`` is a lower bound on every unit cost of ``order[i]``, ascending in ``i``
    (``None``: all 0). ``evaluate(slots) -> (unit_slots, unit_j, unit_costs)`` for the
    eligible ones; ``extra`` is such a triple evaluated beforehand (the dirty agents).
    ``end`` is the scan position reached (a rotating caller's next ``start``).
    """
    if start and bounds is not None:
        raise ValueError("a rotating start needs bounds=None (bounds must ascend from 0)")
    n = len(order)
    got_s, got_j, got_c = ([x] for x in extra) if extra is not None else ([], [], [])
    pos, chunk = 0, FIRST_CHUNK
    while pos < n:
        take = min(chunk, n - pos)
        idx = (start + pos + np.arange(take)) % n if start else np.arange(pos, pos + take)
        us, uj, uc = evaluate(order[idx])
        got_s.append(us)
        got_j.append(uj)
        got_c.append(uc)
        pos += take
        chunk *= 2
        if pos < n and _enough(got_c, m, 0.0 if bounds is None else bounds[pos]):
            break
    slots = np.concatenate(got_s) if got_s else np.zeros(0, np.int64)
    j = np.concatenate(got_j) if got_j else np.zeros(0, np.int64)
    cost = np.concatenate(got_c) if got_c else np.zeros(0)
    best = np.argsort(cost, kind="stable")[:m]
    return Units(slots[best], j[best], cost[best], bool(pos >= n and len(cost) < m),
                 int((start + pos) % n) if n else 0)


def _enough(costs: list, m: int, next_bound: float) -> bool:
    total = sum(len(c) for c in costs)
    if total < m:
        return False
    allc = np.concatenate(costs)
    return bool(np.partition(allc, m - 1)[m - 1] <= next_bound)


def unit_costs(slots: np.ndarray, units: np.ndarray, cost_of) -> tuple:
    """Expand agents into units: agent ``slots[i]`` gets ``units[i]`` units, the j-th costing
    ``cost_of(slot, j)`` (vectorised over parallel arrays). Returns ``(slots, j, cost)``."""
    units = np.maximum(units, 0)
    rep = np.repeat(slots, units)
    j = np.arange(len(rep)) - np.repeat(np.cumsum(units) - units, units)
    return rep, j, cost_of(rep, j)


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """``np.unique(x)`` for 1-d integer arrays by sort and compare, about 4x faster on the
    thousands of candidate slots a decision handles per signature (``np.unique`` dispatches
    through its hash-based path first)."""
    s = np.sort(x)
    keep = np.empty(len(s), bool)
    keep[:1] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]
