"""Placing tasks that each come with their own ordered candidate list (quantum sample,
round-robin, power-of-two, adaptive).

Each row wants its first ``k`` candidates. Rows whose first ``k`` touch no over-demanded agent
and no correlated pair are placed as they are: that is each row's own best choice, so nothing
can do better. The others are resolved together by a min-cost flow over their whole lists
(cost = position in the list, so rows stay as close to their own preference as capacity
allows):

    row --(cap 1, cost rank)--> agent --(cap free)--> sink;   row --(cap k, penalty)--> sink

The bypass arc carries the unserved part; its penalty grows with priority (and, within a level,
with row order), so the flow serves higher-priority rows first. Correlated pairs in a row's
list go through a node of capacity 1 (never both). Gang semantics are then enforced: a row the
flow served only partly gets nothing, and in priority order tries once more, all or nothing, on
the capacity that is left.
"""

from __future__ import annotations

import numpy as np

from .flow import Network


def first_k(indptr: np.ndarray, rows: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Flat positions of the first ``k[i]`` entries of each list row ``rows[i]``."""
    starts = np.repeat(indptr[rows], k)
    return starts + (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k))


def place_listed(view, ledger, lists, task_rows: np.ndarray, k: np.ndarray,
                 level: np.ndarray, stats: dict) -> np.ndarray:
    """Place list row ``i`` (task ``task_rows[i]``, needing ``k[i]``, priority ``level[i]``;
    rows in priority order); returns a bool mask of the list rows that had enough candidates
    but were not placed (worth another round)."""
    lengths = lists.lengths
    ok = lengths >= k
    cand = np.flatnonzero(ok)
    pos = first_k(lists.indptr, cand, k[cand])
    slots = lists.slots[pos]
    owner = np.repeat(cand, k[cand])
    bad = _conflicts(view, ledger, owner, slots)
    good = np.setdiff1d(cand, bad)
    keep = np.isin(owner, good)
    ledger.commit_blocks(task_rows[good], slots[keep], k[good])
    lost = np.zeros(len(k), bool)
    if len(bad):
        stats["flow_solves"] = stats.get("flow_solves", 0) + 1
        served = _flow(view, ledger, lists, bad, task_rows, k, level)
        lost[bad] = ~served
    return lost


def _conflicts(view, ledger, owner: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """List rows whose first-k picks over-demand an agent or hold a correlated pair."""
    if len(slots) == 0:
        return np.zeros(0, np.int64)
    uniq, inv, counts = np.unique(slots, return_inverse=True, return_counts=True)
    over = (counts > ledger.free(uniq))[inv]
    keys = owner * np.int64(ledger.table.capacity + 1) + view.key(slots)
    _, first, kc = np.unique(keys, return_index=True, return_counts=True)
    dup = np.zeros(len(slots), bool)
    dup[first[kc > 1]] = True
    return np.unique(owner[over | dup])


def penalties(level: np.ndarray, step: int) -> np.ndarray:
    """Bypass cost per unit for rows in priority order: every level outweighs all lower ones,
    and within a level earlier rows outweigh later ones; all exceed ``step`` (the largest arc
    cost + 1), so serving a unit always beats leaving it. Kept small: the cost-scaling solver's
    work grows with the log of the cost range."""
    n = len(level)
    dense = np.unique(level, return_inverse=True)[1]
    return (1 + dense) * step * (n + 1) + (n - np.arange(n)) * step


def _flow(view, ledger, lists, rows: np.ndarray, task_rows, k, level) -> np.ndarray:
    lens = lists.lengths[rows]
    pos = first_k(lists.indptr, rows, lens)
    slots = lists.slots[pos]
    local = np.repeat(np.arange(len(rows)), lens)
    rank = np.arange(len(pos)) - np.repeat(np.cumsum(lens) - lens, lens)
    uniq, a_of = np.unique(slots, return_inverse=True)
    net = Network()
    rnode, anode, sink = net.nodes(len(rows)), net.nodes(len(uniq)), net.nodes(1)[0]
    net.supply(rnode, k[rows])
    net.supply([sink], [-int(k[rows].sum())])
    net.arcs(rnode, sink, k[rows], penalties(level[rows], int(lens.max()) + 1))
    net.arcs(anode, sink, np.maximum(ledger.free(uniq), 0), 0)
    gkey = local * np.int64(ledger.table.capacity + 1) + view.key(slots)
    _, g_of, g_size = np.unique(gkey, return_inverse=True, return_counts=True)
    paired = g_size[g_of] > 1
    direct = net.arcs(rnode[local[~paired]], anode[a_of[~paired]], 1, rank[~paired])
    gids, g_local = np.unique(g_of[paired], return_inverse=True)
    gnode = net.nodes(len(gids))
    first_in_group = np.unique(g_local, return_index=True)[1]
    net.arcs(rnode[local[paired][first_in_group]], gnode, 1, 0)
    via = net.arcs(gnode[g_local], anode[a_of[paired]], 1, rank[paired])
    net.solve()
    used = np.concatenate([net.flows(direct), net.flows(via)]) > 0
    u_local = np.concatenate([local[~paired], local[paired]])[used]
    u_slots = np.concatenate([slots[~paired], slots[paired]])[used]
    got = np.bincount(u_local, minlength=len(rows))
    served = got == k[rows]
    for i in np.flatnonzero(served).tolist():
        ledger.commit(task_rows[rows[i]], u_slots[u_local == i])
    for i in np.flatnonzero(~served).tolist():
        served[i] = _greedy(view, ledger, lists.row(rows[i]), int(k[rows[i]]),
                            task_rows[rows[i]])
    return served


def _greedy(view, ledger, cands: np.ndarray, k: int, task_row: int) -> bool:
    """All-or-nothing: the first ``k`` candidates with free capacity and distinct keys."""
    free = ledger.free(cands)
    keys = view.key(cands)
    chosen, seen = [], set()
    for s, f, key in zip(cands.tolist(), free.tolist(), keys.tolist()):
        if f > 0 and key not in seen:
            chosen.append(s)
            seen.add(key)
            if len(chosen) == k:
                ledger.commit(task_row, np.array(chosen, np.int64))
                return True
    return False
