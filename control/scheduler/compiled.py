"""Per-signature steps of the fast lister compiled with numba: each replaces some twenty
numpy calls on a few hundred candidates (call overhead, not arithmetic, was most of a 1M-agent
decision: 64 signatures per batch). Each has a numpy reference it must equal.

``linear_units``: ``ranking.unit_costs`` for such costs (the flow's unit arcs);
``cheapest_private``: ``ranked._cheapest_private``. ``free_of``: free capacity per slot;
``first_fit``: which tasks ``ranked.deal`` serves from distinct units; ``distinct``: its test
for repeats. ``sorted_draw``: one signature's sorted candidate draw (``scored.sorted_draws``).
``band``: a ``TopUnits`` step's candidates, one pass. ``fit_term``: the fitness part of an
idle cost. ``pair_keys``: the anti-affinity keys.
``free_units``: ``AgentTable.eligible`` (with ``require_up``), ``View.free`` and the floor
test, as units per candidate. ``select_linear``: ``TopUnits._select``, the ``m`` cheapest
units of the evaluated candidates, used when unit costs are *linear in load*: ``cost(a, j) = idle[a] + weight (load[a] + j) /
cap[a]`` with ``idle[a]`` the agent's idle cost (every ``scored`` strategy's cost has that
form). The arithmetic is the numpy expression's, operation for operation (int64 ``load + j``,
times ``weight``, divided by ``cap`` as float64, added to ``idle``; no fast-math), so the
costs are the same numbers and ties fall the same way; the order is the reference's
``(cost, idle, candidate position, j)``. ``tests/scheduler/test_topunits.py`` compares it
with the numpy path.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def select_linear(pos, units, idle, slots, load, cap, weight, m):
    """``(slots, j, cost)`` of the ``m`` cheapest units, in the reference order.

    Per evaluated candidate ``i``: its position ``pos[i]`` among the candidates, ``units[i]``
    units (> 0), idle cost ``idle[i]``, slot ``slots[i]``; ``load``/``cap`` per slot. Only
    candidates whose first unit is among the ``m`` cheapest first units can contribute (a
    unit costs at least its agent's first)."""
    n = len(pos)
    first = np.empty(n)
    for i in range(n):
        s = slots[i]
        first[i] = idle[i] + weight * np.float64(np.int64(load[s]) + 0) / np.float64(cap[s])
    if units.sum() > m and n > m > 0:
        threshold = np.partition(first, m - 1)[m - 1]
        sel = np.flatnonzero(first <= threshold)
    else:
        sel = np.arange(n)
    sel = sel[np.argsort(pos[sel])]                 # units laid out by (position, j)
    total = 0
    for i in sel:
        total += units[i]
    rep = np.empty(total, np.int64)
    jj = np.empty(total, np.int64)
    cost = np.empty(total)
    key = np.empty(total)
    at = 0
    for i in sel:
        s = slots[i]
        for j in range(units[i]):
            rep[at] = s
            jj[at] = j
            cost[at] = idle[i] + weight * np.float64(np.int64(load[s]) + j) / np.float64(cap[s])
            key[at] = idle[i]
            at += 1
    if total > m > 0:                   # only units as cheap as the m-th can be among the m
        cut = np.partition(cost, m - 1)[m - 1]          # (a copy: cost keeps its order)
        few = np.flatnonzero(cost <= cut)
        rep, jj, cost, key = rep[few], jj[few], cost[few], key[few]
    order = np.argsort(key, kind="mergesort")           # stable: (idle, position, j)
    order = order[np.argsort(cost[order], kind="mergesort")][:m]
    return rep[order], jj[order], cost[order]


@njit(cache=True, nogil=True)
def free_units(slots, active, up, clearance, cap_words, comp_words, caps, comps, level, cap,
               load, value, floor, n_tasks):
    """Units each of ``slots`` offers a signature: ``min(free, n_tasks)`` if it is eligible
    (active, up, clearance ``>= level``, every bit of ``caps``/``comps``), has free capacity
    and ``value >= floor`` (``value`` aligned with ``slots``; ``floor = -inf``: no floor test),
    else 0. Need words past the table's width are ignored, as ``registry._fit`` truncates."""
    out = np.zeros(len(slots), np.int64)
    wc = min(len(caps), cap_words.shape[1])
    wm = min(len(comps), comp_words.shape[1])
    for i in range(len(slots)):
        s = slots[i]
        if not (active[s] and up[s]) or clearance[s] < level:
            continue
        free = np.int64(cap[s]) - np.int64(load[s])
        if free <= 0 or (floor != -np.inf and not value[i] >= floor):
            continue
        ok = True
        for w in range(wc):
            if cap_words[s, w] & caps[w] != caps[w]:
                ok = False
        for w in range(wm):
            if comp_words[s, w] & comps[w] != comps[w]:
                ok = False
        if ok:
            out[i] = min(free, n_tasks)
    return out


@njit(cache=True, nogil=True)
def free_of(slots, active, up, cap, load):
    """``np.where(active[slots] & up[slots], cap[slots] - load[slots], 0)`` (int32, as the
    numpy expression on the table's int32 columns): ``View.free`` and ``Ledger.free``."""
    out = np.zeros(len(slots), np.int32)
    for i in range(len(slots)):
        s = slots[i]
        if active[s] and up[s]:
            out[i] = cap[s] - load[s]
    return out


@njit(cache=True, nogil=True)
def first_fit(need, total):
    """``ranked.deal``'s pass over tasks in priority order: task ``i`` is served when its
    ``need[i]`` units still fit in what is left of ``total``; returns the served mask."""
    out = np.zeros(len(need), np.bool_)
    at = 0
    for i in range(len(need)):
        if at + need[i] <= total:
            out[i] = True
            at += need[i]
    return out


@njit(cache=True, nogil=True)
def linear_units(idle, units, slots, load, cap, weight):
    """``ranking.unit_costs`` for linear costs: agent ``i`` (slot ``slots[i]``, idle cost
    ``idle[i]``) expanded into ``units[i]`` units; returns ``(i per unit, cost per unit)``."""
    total = 0
    for i in range(len(units)):
        total += max(units[i], 0)
    agent = np.empty(total, np.int64)
    cost = np.empty(total)
    at = 0
    for i in range(len(units)):
        s = slots[i]
        for j in range(units[i]):
            agent[at] = i
            cost[at] = idle[i] + weight * np.float64(np.int64(load[s]) + j) / np.float64(cap[s])
            at += 1
    return agent, cost


@njit(cache=True, nogil=True)
def cheapest_private(u_agent, icost, shared, owner, demand):
    """``ranked._cheapest_private`` compiled: which unit arcs to keep (all of shared agents;
    of each signature's private agents its ``demand`` cheapest units, ties by arc index)."""
    n = len(u_agent)
    keep = np.ones(n, np.bool_)
    start = np.zeros(len(demand) + 1, np.int64)
    for i in range(n):
        a = u_agent[i]
        if not shared[a]:
            start[owner[a] + 1] += 1
    for g in range(len(demand)):
        start[g + 1] += start[g]
    idx = np.empty(start[-1], np.int64)
    at = start[:-1].copy()
    for i in range(n):                              # by signature, arc order within one
        a = u_agent[i]
        if not shared[a]:
            idx[at[owner[a]]] = i
            at[owner[a]] += 1
    for g in range(len(demand)):
        seg = idx[start[g]:start[g + 1]]
        d = demand[g]
        if len(seg) <= d:
            continue
        c = icost[seg]
        if d == 0:
            for t in range(len(seg)):
                keep[seg[t]] = False
            continue
        cut = np.partition(c.copy(), d - 1)[d - 1]      # the d-th cheapest cost: a selection,
        ties = d                                         # not a sort; the first d by (cost, arc
        for t in range(len(seg)):                        # index), as a stable sort would keep
            if c[t] < cut:
                ties -= 1
        for t in range(len(seg)):
            if c[t] > cut:
                keep[seg[t]] = False
            elif c[t] == cut:
                if ties > 0:
                    ties -= 1
                else:
                    keep[seg[t]] = False
    return keep


@njit(cache=True, nogil=True)
def band(x, lo, hi):
    """``(flatnonzero((x > lo) & (x <= hi)), min(x[x > hi]) or inf)`` in one pass: the
    candidates a ``TopUnits`` step evaluates and the smallest bound it leaves."""
    out = np.empty(len(x), np.int64)
    n, rest = 0, np.inf
    for i in range(len(x)):
        v = x[i]
        if v > hi:
            rest = min(rest, v)
        elif v > lo:
            out[n] = i
            n += 1
    return out[:n].copy(), rest


@njit(cache=True, nogil=True)
def fit_term(slots, fitness, fit_max, weight):
    """``weight * (1 - fitness[slots] / fit_max)`` (as float64, in that order): the fitness
    part of a scored strategy's idle cost."""
    out = np.empty(len(slots))
    for i in range(len(slots)):
        out[i] = weight * (1.0 - np.float64(fitness[slots[i]]) / fit_max)
    return out


@njit(cache=True, nogil=True)
def pair_keys(slots, partner, eng, mi, threshold):
    """``belief.BeliefLink.correlated_key``: ``min(slot, partner)`` where the pair's mutual
    information ``mi[eng[slot]]`` exceeds ``threshold`` (given in ``mi``'s dtype, as numpy
    compares an array with a Python float), else the slot itself."""
    out = np.empty(len(slots), np.int64)
    for i in range(len(slots)):
        s = slots[i]
        p = partner[s]
        out[i] = min(s, p) if p >= 0 and mi[eng[s]] > threshold else s
    return out


@njit(cache=True, nogil=True)
def distinct(a, b):
    """``len(np.unique(a)) == len(a) and len(np.unique(b)) == len(b)`` (``ranked.deal``)."""
    return _no_repeat(a) and _no_repeat(b)


@njit(cache=True, nogil=True)
def _no_repeat(x):
    s = np.sort(x)
    for i in range(1, len(s)):
        if s[i] == s[i - 1]:
            return False
    return True


@njit(cache=True, nogil=True)
def sorted_draw(e, n):
    """One row of ``scored.sorted_draws`` from its ``size + 1`` standard exponentials ``e``:
    the running sums (added in order, as ``np.cumsum``), scaled by ``n / total``, truncated,
    capped at ``n - 1``, repeats dropped; one pass instead of six numpy calls on a matrix."""
    size = len(e) - 1
    acc = 0.0
    s = np.empty(size)
    for i in range(size):
        acc += e[i]
        s[i] = acc
    scale = n / (acc + e[size])
    out = np.empty(size, np.int64)
    m, prev = 0, -1
    for i in range(size):
        v = min(np.int64(s[i] * scale), n - 1)
        if v != prev:
            out[m] = v
            m += 1
            prev = v
    return out[:m].copy()

