"""Placement cost of a batch and a lower bound on it, for ``uqo bench scheduler``.

Cost of agent ``a`` taking its ``j``-th extra task: ``-log q_a + w_f (1 - f_a) + w_l (load_a + j) /
cap_a``, with ``q_a`` the quantum strategy's expected success probability from the belief and
``f_a`` the normalised fitness (the cost every scored strategy minimises; the same objective as
``uqo.control.scheduler.exact``). The lower bound relaxes the batch to a transportation problem:
each signature needs ``D_g`` units, any unit of an eligible agent will do (no per-task
distinctness, no pair constraint). Restricting each signature to its ``D_total`` cheapest units
loses nothing: if an optimal solution used a unit outside that list, one of the list's units is
unused and no more expensive. Solved exactly by min-cost flow.
"""

from __future__ import annotations

import numpy as np

SCALE = 1_000_000


def _q(sched, slots: np.ndarray) -> np.ndarray:
    from uqo.control.scheduler.quantum import expected
    from uqo.control.scheduler.view import View

    sched.link.snapshot()
    view = View(sched.table, sched.link, sched.mi_threshold, sched.latency, sched.books,
                sched.register.now, sched.hold_s())
    return expected(view, slots)


def unit_cost(sched, slots, j, load) -> np.ndarray:
    from uqo.control.scheduler.scored import FIT_WEIGHT, LOAD_WEIGHT, MIN_Q

    t = sched.table
    fit = t.fitness[slots].astype(np.float64) / t.max_fitness()
    return (-np.log(np.maximum(_q(sched, slots), MIN_Q)) + FIT_WEIGHT * (1.0 - fit)
            + LOAD_WEIGHT * (load + j) / t.cap[slots])


def batch_cost(sched, decision) -> float:
    """Cost of ``decision``'s assignments (call before releasing them)."""
    slots = np.array([sched.table.slot(a) for x in decision.assignments for a in x.agent_ids])
    if len(slots) == 0:
        return 0.0
    agents, used = np.unique(slots, return_counts=True)
    before = sched.table.load[agents] - used
    rep = np.repeat(agents, used)
    j = np.arange(len(rep)) - np.repeat(np.cumsum(used) - used, used)
    return float(unit_cost(sched, rep, j, np.repeat(before, used)).sum())


def lower_bound(sched, tasks: list) -> float | None:
    """The relaxation's optimum for ``tasks`` against the fleet as it is now (call before
    ``decide``); ``None`` when even the relaxation cannot place the whole batch (then costs
    of different fills are not comparable)."""
    from ortools.graph.python import min_cost_flow

    groups: dict = {}
    for t in tasks:
        key = (t.capabilities, t.compartments, t.classification)
        groups.setdefault(key, []).append(t.required_agents)
    total = sum(sum(v) for v in groups.values())
    lists = [_cheapest_units(sched, key, total) for key in groups]
    uniq, inv = np.unique(np.concatenate([u for u, _ in lists]), return_inverse=True)
    costs = np.zeros(len(uniq))
    at = 0
    for u, c in lists:
        costs[inv[at:at + len(u)]] = c
        at += len(u)
    flow = min_cost_flow.SimpleMinCostFlow()
    n_g = len(lists)
    sink = n_g + len(uniq)
    tails = np.repeat(np.arange(n_g), [len(u) for u, _ in lists])
    flow.add_arcs_with_capacity_and_unit_cost(tails, n_g + inv, np.ones(len(inv), np.int64),
                                              np.zeros(len(inv), np.int64))
    flow.add_arcs_with_capacity_and_unit_cost(n_g + np.arange(len(uniq)),
                                              np.full(len(uniq), sink),
                                              np.ones(len(uniq), np.int64),
                                              np.rint(costs * SCALE).astype(np.int64))
    demand = np.array([sum(v) for v in groups.values()], np.int64)
    bypass = flow.add_arcs_with_capacity_and_unit_cost(np.arange(n_g), np.full(n_g, sink),
                                                       demand, np.full(n_g, 100 * SCALE))
    supplies = np.zeros(sink + 1, np.int64)
    supplies[:n_g], supplies[sink] = demand, -total
    flow.set_nodes_supplies(np.arange(sink + 1), supplies)
    if flow.solve() != flow.OPTIMAL:
        raise RuntimeError(f"lower-bound flow failed: {flow.solve()!r}")
    if np.asarray(flow.flows(bypass)).sum() > 0:
        return None
    return flow.optimal_cost() / SCALE


def _cheapest_units(sched, key, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit ids (``slot * 64 + j``) and costs of the signature's ``total`` cheapest units."""
    table = sched.table
    need, why = table.compile_need(*key)
    if need is None:
        raise ValueError(why)
    src = sched.sources.get(key, need).slots
    ok = table.eligible(src, need.caps, need.comps, need.level)
    slots = src[ok]
    free = np.minimum(table.cap[slots] - table.load[slots], 64)
    rep = np.repeat(slots, free)
    j = np.arange(len(rep)) - np.repeat(np.cumsum(free) - free, free)
    cost = unit_cost(sched, rep, j, table.load[rep])
    keep = np.argpartition(cost, min(total, len(cost)) - 1)[:total] if len(cost) > total \
        else np.arange(len(cost))
    return rep[keep] * 64 + j[keep], cost[keep]
