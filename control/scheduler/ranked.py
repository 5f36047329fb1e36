"""Placing tasks by a per-agent cost shared by every task of a signature (quantum exact,
least-connections).

Tasks with the same eligibility (a *signature*) are interchangeable to such a cost, so each
signature lists candidate units (``claim_units``): its ``D + slack`` cheapest (``D`` = sum of its
tasks' ``k``; found by the threshold scan of ``ranking``) and, so that a full assignment always
exists among the lists, its ``D`` cheapest units that no earlier signature has listed. When no
agent is among the first ``D`` units of two signatures, each signature simply takes its own
cheapest units: that is optimal. Otherwise the signatures that share agents are solved together
as a transportation problem by min-cost flow:

    (signature, priority level) --(cap min(free, #tasks))--> agent --(unit arcs)--> sink
    (signature, priority level) --(penalty by level)--> sink

where agent ``a`` has one unit arc per extra task, the j-th costing ``cost(a, load + j)``
(increasing, so the flow fills units in order). A signature's units are then *dealt* to its
tasks in priority order, all ``k`` or none, never the same agent twice in one task and never both
members of a correlated pair. Unit costs in the flow are recomputed from the loads at the time
of solving (``cost_of``), not taken from the lists, which were priced before other signatures
committed.
"""

from __future__ import annotations

import bisect

import numpy as np

from .compiled import cheapest_private, distinct, first_fit, linear_units
from .flow import Network
from .ranking import Units, sorted_unique, unit_costs

COST_SCALE = 1_000


class Claims:
    """Units listed so far in this decision: ``count[slot]`` = how many of the agent's units
    (``j < count``) some signature has listed. Cleared after each round."""

    def __init__(self, capacity: int):
        self.count = np.zeros(capacity, np.int32)
        self._touched: list[np.ndarray] = []

    def clear(self) -> None:
        for t in self._touched:
            self.count[t] = 0
        self._touched = []

    def claim(self, units: Units) -> None:
        if len(units.slots):
            np.maximum.at(self.count, units.slots, (units.j + 1).astype(np.int32))
            self._touched.append(units.slots)


def claim_units(scan, d: int, slack: int, claims: Claims) -> Units:
    """``scan(m) -> Units`` (the m cheapest). Returns the signature's list: the ``d + slack``
    cheapest units and the ``d`` cheapest not yet claimed by an earlier signature.

    The scan starts at ``d + slack`` units, the fewest that can fill the list, and doubles
    while fewer than ``d`` of them are unclaimed. Scans are prefixes of one order (the ``m``
    cheapest), so where it starts changes only the work, never the list; starting at ``2 d +
    slack`` listed and priced a third more units than needed (1.7 ms of a 1M-agent decision)."""
    m = d + slack
    while True:
        units = scan(m)
        fresh = np.flatnonzero(units.j >= claims.count[units.slots])
        if len(fresh) >= d or units.exhausted:
            break
        m *= 2
    keep = np.zeros(len(units.slots), bool)
    keep[:d + slack] = True
    keep[fresh[:d]] = True
    out = Units(units.slots[keep], units.j[keep], units.cost[keep], units.exhausted, units.end)
    claims.claim(out)
    return out


def place_ranked(view, ledger, groups: list, k: np.ndarray, level: np.ndarray, cost_of,
                 stats: dict) -> np.ndarray:
    """``groups``: ``[(task_rows ascending, Units), ...]`` one per signature; ``cost_of(slots,
    j)``: the cost of each agent's ``j``-th extra task at the current load. Returns the task
    rows that had candidates but were not placed (worth another round)."""
    picks = [u.slots[:int(k[rows].sum())] for rows, u in groups]
    shared = _shared(picks)
    tangled = []
    if len(shared):
        mark = np.zeros(view.table.capacity, bool)
        mark[shared] = True
        tangled = [i for i, p in enumerate(picks) if mark[p].any()]
    lost: list[np.ndarray] = []
    for i in sorted(set(range(len(groups))) - set(tangled)):
        lost.append(_deal_then_spare(view, ledger, groups[i], k, picks[i]))
    if tangled:
        stats["flow_solves"] = stats.get("flow_solves", 0) + 1
        sub = [groups[i] for i in tangled]
        for i, slots in zip(tangled, _flow(ledger, sub, k, level, cost_of)):
            lost.append(_deal_then_spare(view, ledger, groups[i], k, slots))
    return np.concatenate(lost) if lost else np.zeros(0, np.int64)


def _shared(picks: list) -> np.ndarray:
    """Agents among the picks of two or more signatures: there the signatures' choices
    interact (capacity, and the rising cost of a second unit), so they go to the flow."""
    if len(picks) < 2:
        return np.zeros(0, np.int64)
    sig = np.repeat(np.arange(len(picks), dtype=np.int64), [len(p) for p in picks])
    pairs = sorted_unique(np.concatenate(picks).astype(np.int64) * len(picks) + sig)
    agents = pairs // len(picks)                          # ascending; one entry per signature
    repeat = agents[1:] == agents[:-1]
    return sorted_unique(agents[1:][repeat])


def _flow(ledger, groups: list, k: np.ndarray, level: np.ndarray, cost_of) -> list:
    """Solve the tangled signatures together; returns each one's unit slots (with repeats,
    cheapest agents first). Each (signature, level) demand node feeds its signature's hub, so
    priority levels cost one arc each, not one per candidate agent. An agent listed by one
    signature only (most of them) gets no node: its unit arcs leave that signature's hub
    directly (the same flows and costs, a network a fraction of the size)."""
    sig_of = np.concatenate([np.full(len(u.slots), g) for g, (_, u) in enumerate(groups)])
    uniq, a_of = np.unique(np.concatenate([u.slots for _, u in groups]), return_inverse=True)
    n_tasks = np.array([len(r) for r, _ in groups], np.int64)
    pair = sorted_unique(sig_of * np.int64(len(uniq)) + a_of)
    p_sig, p_agent = pair // len(uniq), pair % len(uniq)
    free = ledger.free(uniq)
    shared = np.bincount(p_agent, minlength=len(uniq)) > 1
    owner = np.full(len(uniq), -1, np.int64)
    owner[p_agent] = p_sig                        # meaningful for agents of one signature
    net = Network()
    sink, hub = net.nodes(1)[0], net.nodes(len(groups))
    anode = np.full(len(uniq), -1, np.int64)
    anode[shared] = net.nodes(int(shared.sum()))
    units = np.minimum(free, np.bincount(p_agent, weights=n_tasks[p_sig],
                                         minlength=len(uniq)).astype(np.int64))
    linear = getattr(cost_of, "linear", None)
    if linear is None:
        u_agent, _, u_cost = unit_costs(np.arange(len(uniq)), units,
                                        lambda a, j: cost_of(uniq[a], j))
    else:                                  # the same costs, each agent's idle cost once
        u_agent, u_cost = linear_units(cost_of.idle(uniq), units, uniq, *linear)
    icost = np.rint(u_cost * COST_SCALE).astype(np.int64)
    keep = cheapest_private(u_agent, icost, shared, owner,     # _cheapest_private, compiled
                            np.array([int(k[r].sum()) for r, _ in groups], np.int64))
    u_agent, icost = u_agent[keep], icost[keep]
    tails = np.where(shared[u_agent], anode[u_agent], hub[owner[u_agent]])
    unit_arcs = _ParallelUnits(net, tails, sink, icost)
    _demand_nodes(net, hub, sink, groups, k, level)
    mid = shared[p_agent]
    arcs = net.arcs(hub[p_sig[mid]], anode[p_agent[mid]],
                    np.minimum(free[p_agent[mid]], n_tasks[p_sig[mid]]), 0)
    net.solve()
    flows = np.zeros(len(pair), np.int64)
    flows[mid] = net.flows(arcs)
    private_units = np.bincount(u_agent, weights=unit_arcs.flows(net),
                                minlength=len(uniq)).astype(np.int64)
    flows[~mid] = private_units[p_agent[~mid]]
    first_cost = np.full(len(uniq), np.inf)
    np.minimum.at(first_cost, a_of, np.concatenate([u.cost for _, u in groups]))
    return _per_signature(len(groups), p_sig, p_agent, flows, uniq, first_cost)


class _ParallelUnits:
    """Unit arcs ``tail -> sink`` (capacity 1, cost ``icost``) added as one arc per distinct
    ``(tail, cost)`` with the count as its capacity: the same network (parallel arcs of one
    cost are interchangeable), about a third of the arcs at 1M agents (a signature's private
    agents share a hub, and many of their units the same rounded cost), so a cheaper build and
    solve. ``flows`` gives each unit arc its flow back: within one merged arc, the units in
    their order (arc index) take its flow first (a tie-break among equal costs; the solver's
    choice among parallel arcs was arbitrary too)."""

    def __init__(self, net, tails, sink, icost):
        lo = int(icost.min()) if len(icost) else 0
        span = int(icost.max()) - lo + 1 if len(icost) else 1
        self.order = np.argsort(tails * span + (icost - lo), kind="stable")
        t, c = tails[self.order], icost[self.order]
        self.starts = np.flatnonzero(np.r_[len(t) > 0, (t[1:] != t[:-1]) | (c[1:] != c[:-1])])
        counts = np.diff(np.r_[self.starts, len(t)])
        self.group = np.repeat(np.arange(len(counts)), counts)
        self.arcs = net.arcs(t[self.starts], sink, counts, c[self.starts])

    def flows(self, net) -> np.ndarray:
        rank = np.arange(len(self.order)) - self.starts[self.group]
        out = np.empty(len(self.order), np.int64)
        out[self.order] = rank < net.flows(self.arcs)[self.group]
        return out


def _per_signature(n_groups, p_sig, p_agent, flows, uniq, first_cost) -> list:
    """Each signature's units from the pair flows: its agents by ascending first cost (ties:
    slot order), each repeated by its flow. One sort for all signatures (pairs come sorted by
    signature, then agent)."""
    used = flows > 0
    sig, agent, mult = p_sig[used], p_agent[used], flows[used]
    order = np.lexsort((first_cost[agent], sig))       # stable: ties keep the agent order
    units = np.repeat(uniq[agent[order]], mult[order])
    ends = np.cumsum(np.bincount(sig, weights=mult, minlength=n_groups).astype(np.int64))
    return np.split(units, ends[:-1])


def _cheapest_private(u_agent, icost, shared, owner, demand) -> np.ndarray:
    """Which unit arcs to keep: all of shared agents, and of the agents private to a signature
    only that signature's ``demand`` cheapest (it never uses more units than its demand, and
    nobody else can use them, so an optimum never needs the others)."""
    keep = np.ones(len(u_agent), bool)
    idx = np.flatnonzero(~shared[u_agent])
    if len(idx) == 0:
        return keep
    sig, c = owner[u_agent[idx]], icost[idx]
    lo, span = int(c.min()), int(c.max()) - int(c.min()) + 1
    if span * (int(sig.max()) + 1) < 2 ** 62:        # one stable sort on (sig, cost), ties by
        order = idx[np.argsort(sig * span + (c - lo), kind="stable")]       # idx ascending
    else:
        order = idx[np.lexsort((idx, c, sig))]
    sig = owner[u_agent[order]]
    rank = np.arange(len(order)) - np.searchsorted(sig, sig)
    keep[order[rank >= demand[sig]]] = False
    return keep


def _demand_nodes(net, hub, sink, groups, k, level) -> None:
    rows = np.concatenate([r for r, _ in groups])
    row_sig = np.concatenate([np.full(len(r), g) for g, (r, _) in enumerate(groups)])
    lv = np.unique(level[rows], return_inverse=True)[1]
    width = int(lv.max()) + 1
    dkey, dk_of = np.unique(row_sig * width + lv, return_inverse=True)
    demand = np.bincount(dk_of, weights=k[rows]).astype(np.int64)
    dnode = net.nodes(len(dkey))
    net.supply(dnode, demand)
    net.supply([sink], [-int(demand.sum())])
    net.arcs(dnode, hub[dkey // width], demand, 0)
    net.arcs(dnode, sink, demand, (2 + dkey % width) * 2 * COST_SCALE)


def _deal_then_spare(view, ledger, group, k, chosen: np.ndarray) -> np.ndarray:
    """Deal the chosen units; rows that could not be completed from them (a correlated pair,
    an agent twice) get one more pass over the rest of the signature's list."""
    rows, units = group
    left = deal(view, ledger, rows, k, chosen)
    if len(left) == 0:
        return left
    return deal(view, ledger, left, k, units.slots)


def deal(view, ledger, rows: np.ndarray, k: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Give ``units`` (agent slots, cheapest first, an agent repeated once per unit) to
    ``rows`` (priority order), all ``k`` or none; returns the rows left unplaced.

    Costs are the agents', so which task gets which unit does not matter; what matters is that
    each task gets distinct agents and no correlated pair. The tasks served are the highest
    priority ones that fit; agents are handed out most-repeated first, each copy to the task
    still missing the most agents (the greedy that always succeeds when a distinct filling
    exists and no pair constraint binds)."""
    need = k[rows]
    units = units[ledger.free(units) > 0] if len(units) else units
    keys = view.key(units) if len(units) else units
    if distinct(units, keys):                      # no agent twice, no key shared
        served = first_fit(need, len(units))       # priority order, each if it still fits
        placed = rows[served]
        ledger.commit_blocks(placed, units[:int(need[served].sum())], k[placed])
        return rows[~served]
    return _deal_spread(view, ledger, rows, k, units, keys)


def _deal_spread(view, ledger, rows, k, units, keys) -> np.ndarray:
    """``deal`` when agents repeat or keys collide: agents most-repeated first, each copy to
    the task still missing the most agents (ties: priority order) that does not hold the key.

    Tasks are kept in buckets by how many agents they miss, each bucket in priority order, so
    one agent's turn costs its copies, not a pass over every task (a decision of thousands of
    one-agent tasks on 16-slot agents was quadratic)."""
    agents, first, mult = np.unique(units, return_index=True, return_counts=True)
    mult = np.minimum(mult, ledger.free(agents))
    order = np.lexsort((first, -mult))
    total, chosen = int(mult.sum()), []
    for r in rows.tolist():
        if k[r] <= total:
            chosen.append(r)
            total -= int(k[r])
    need = [int(k[r]) for r in chosen]
    got: list = [[] for _ in chosen]
    held: list = [set() for _ in chosen]
    key_of = dict(zip(units.tolist(), keys.tolist()))
    buckets: dict[int, list[int]] = {}
    for i, n in enumerate(need):
        buckets.setdefault(n, []).append(i)
    for a, m in zip(agents[order].tolist(), mult[order].tolist()):
        key = key_of[a]
        for n, i in _open_rows(buckets, held, key, m):
            got[i].append(a)
            held[i].add(key)
            need[i] -= 1
            if n > 1:
                bisect.insort(buckets.setdefault(n - 1, []), i)
    done = [i for i, n in enumerate(need) if n == 0]
    if done:
        ledger.commit_blocks(np.array([chosen[i] for i in done], np.int64),
                             np.array([a for i in done for a in got[i]], np.int64),
                             np.array([len(got[i]) for i in done], np.int64))
    left = {chosen[i] for i, n in enumerate(need) if n > 0}
    chosen_set = set(chosen)
    return np.array([r for r in rows.tolist() if r not in chosen_set or r in left], np.int64)


def _open_rows(buckets: dict, held: list, key, m: int) -> list:
    """Take (and remove from their buckets) the first ``m`` tasks missing the most agents,
    priority order within a bucket, skipping those holding ``key``: ``[(missing, task)]``."""
    out: list = []
    for n in sorted((n for n, b in buckets.items() if n > 0 and b), reverse=True):
        bucket, taken = buckets[n], []
        for j, i in enumerate(bucket):
            if len(out) == m:
                break
            if key not in held[i]:
                out.append((n, i))
                taken.append(j)
        if taken:
            if taken[-1] == len(taken) - 1:
                del bucket[:len(taken)]
            else:
                for j in reversed(taken):
                    del bucket[j]
        if len(out) == m:
            break
    return out
