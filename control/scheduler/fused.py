"""One signature's candidate list in one compiled call, for the quantum strategy's exact mode.

``Scored`` lists a signature's cheapest units with ``topunits.TopUnits``: gather the
candidates' bounds, pick a band of them (``about_kth``, ``band``), price the band (the belief's
``q`` per agent, its idle cost), test eligibility (``free_units``), select the ``m`` cheapest
units (``select_linear``), and widen the band until the ``m``-th unit is cheaper than every
bound left. Each step was a few compiled or numpy calls on a few hundred agents, 54
signatures per 1M-agent decision. ``top_units`` runs the same steps, in the same order and with
the same arithmetic, as one call (``tests/scheduler/test_fused.py`` compares it with
``TopUnits`` unit for unit): ~1 ms less per decision and fewer slow batches (docs/scheduler.md;
most of what is left is cold reads of the candidates' rows, not calls).

Same arithmetic means the same ``exp`` and ``log``: numpy's vectorised ``exp``/``log`` and the C
library's (what compiled code calls) differ in the last bit on a few percent of inputs, which
would break ties differently. So every place that prices an agent for placement
(``quantum._parts``, ``quantum.ExpectedWeights``, ``scored.Scored.idle_cost`` and
``cost_of``) computes ``exp(-rate H)`` with ``survival`` and ``-log max(q, MIN_Q)`` with
``neg_log`` from this module: one implementation, the same bits everywhere.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .compiled import band, free_units, select_linear
from .topunits import FIRST, SAMPLE  # the first band's size, ``about_kth``'s sample


@njit(cache=True, nogil=True)
def survival(rate, hold):
    """``exp(-rate * hold)`` per entry (float64)."""
    out = np.empty(len(rate))
    for i in range(len(rate)):
        out[i] = np.exp(-rate[i] * hold)
    return out


@njit(cache=True, nogil=True)
def neg_log(q, floor, add):
    """``-log(maximum(q, floor)) + add`` per entry (NaN stays NaN, as ``np.maximum``)."""
    out = np.empty(len(q))
    for i in range(len(q)):
        out[i] = _neg_log(q[i], floor) + add[i]
    return out


@njit(cache=True, nogil=True, inline="always")
def _neg_log(q, floor):
    v = q if (np.isnan(q) or q > floor) else floor
    return -np.log(v)


@njit(cache=True, nogil=True)
def _about_kth(x, k):
    step = max(1, len(x) // SAMPLE)
    sample = np.sort(x[::step])
    at = (k * len(sample) + len(x) - 1) // len(x)           # ceil(k len(sample) / len(x))
    return sample[min(len(sample) - 1, at)]


@njit(cache=True, nogil=True)
def _min_above(x, limit):
    out = np.inf
    for v in x:
        if v > limit and v < out:
            out = v
    return out


@njit(cache=True, nogil=True)
def top_units(cand, bound_all, factors, hold, fitness, fit_max, fit_weight, min_q, qcache,
              active, up, clearance, cap_words, comp_words, caps, comps, level, cap, load,
              floor, n_tasks, m, weight):
    """``TopUnits(cand, bound, evaluate, cost, bound_of, linear)(m)`` for the quantum
    strategy's exact mode, as ``(slots, j, cost, exhausted)``.

    ``bound_all[slot]``: the lister's lower bound (``ExpectedWeights.bound``); ``factors``
    ``(capacity, 3)``: ``up0, rate, sr`` per slot, ``q = up0 exp(-rate hold) sr`` clipped to
    [0, 1] (``ExpectedWeights``, ``Scored.q``), written to ``qcache[slot]`` for every
    candidate priced (``Scored._q``: the flow reads it); idle cost ``-log max(q, min_q) +
    fit_weight (1 - fitness / fit_max)``; a candidate offers units when ``free_units`` says so
    with ``q`` tested against ``floor``."""
    nc = len(cand)
    bound = np.empty(nc)
    for i in range(nc):
        bound[i] = bound_all[cand[i]]
    pos = np.empty(nc, np.int64)
    units = np.empty(nc, np.int64)
    idle = np.empty(nc)
    slots = np.empty(nc, np.int64)
    n_eval, limit = 0, -np.inf
    k = max(FIRST, 2 * m)
    while True:
        # _grow(k)
        new_limit = np.inf if k >= nc else _about_kth(bound, k)
        if new_limit <= limit:
            new_limit = _min_above(bound, limit)
        if new_limit > limit:
            new, rest = band(bound, limit, new_limit)
            n_eval = _add(new, cand, factors, hold, fitness, fit_max, fit_weight, min_q, qcache,
                          active, up, clearance, cap_words, comp_words, caps, comps, level, cap,
                          load, floor, n_tasks, pos, units, idle, slots, n_eval)
            limit = new_limit
        else:
            rest = _min_above(bound, limit)
        # _select(m)
        s, j, cost = select_linear(pos[:n_eval], units[:n_eval], idle[:n_eval],
                                   slots[:n_eval], load, cap, weight, m)
        if rest == np.inf or (len(cost) >= m and cost[m - 1] < rest):
            break
        k *= 4
    total = 0
    for i in range(n_eval):
        total += units[i]
    return s, j, cost, rest == np.inf and total < m


@njit(cache=True, nogil=True)
def _add(new, cand, factors, hold, fitness, fit_max, fit_weight, min_q, qcache, active, up,
         clearance, cap_words, comp_words, caps, comps, level, cap, load, floor, n_tasks, pos,
         units, idle, slots, n_eval):
    """Price and test the candidates at positions ``new``; append those offering units."""
    n = len(new)
    sl = np.empty(n, np.int64)
    q = np.empty(n)
    for t in range(n):
        s = cand[new[t]]
        sl[t] = s
        v = factors[s, 0] * np.exp(-factors[s, 1] * hold) * factors[s, 2]
        if v < 0.0:
            v = 0.0
        elif v > 1.0:
            v = 1.0
        q[t] = v
        qcache[s] = v
    offer = free_units(sl, active, up, clearance, cap_words, comp_words, caps, comps, level,
                       cap, load, q, floor, n_tasks)
    for t in range(n):
        if offer[t] > 0:
            s = sl[t]
            pos[n_eval] = new[t]
            units[n_eval] = offer[t]
            slots[n_eval] = s
            idle[n_eval] = _neg_log(q[t], min_q) + \
                fit_weight * (1.0 - np.float64(fitness[s]) / fit_max)
            n_eval += 1
    return n_eval
