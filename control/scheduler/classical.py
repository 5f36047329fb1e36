"""The classical strategies: round-robin, least-connections, power-of-two-choices and adaptive
(power-of-two-choices on the peak-EWMA cost of Finagle and Linkerd).

Each produces candidates only; capacity conflicts between tasks of one batch, gang semantics and
priorities are handled by the shared matching steps (``listed``, ``ranked``).
"""

from __future__ import annotations

import numpy as np

from .listed import place_listed
from .ranked import Claims, claim_units, place_ranked
from .ranking import scan_units, unit_costs
from .sampling import Lists, sample_lists

RR_SLACK = 8


class RoundRobin:
    """Each signature keeps a cursor over its source list; a batch takes the next eligible
    agents with free capacity after it, ``k`` consecutive ones per task, in priority order."""

    name = "round_robin"

    def __init__(self):
        self.cursor: dict = {}

    def place(self, view, ledger, batch, rows, rng, stats) -> np.ndarray:
        blocks, lists_rows = [], []
        for sig, srows in batch.sig_groups(rows):
            need = batch.needs[sig]
            post = batch.sources[sig].slots
            k = batch.k[srows]
            want = int(k.sum()) + min(int(k.sum()), RR_SLACK)
            start = self.cursor.get(batch.sig_keys[sig], 0) % max(len(post), 1)
            pos = _scan_positions(post, start, want, lambda s, need=need: _free_ok(view, need, s))
            used = pos[:int(k.sum())]
            if len(used):
                self.cursor[batch.sig_keys[sig]] = int(used[-1]) + 1
            blocks.append((post[pos], k))
            lists_rows.append(srows)
        lists = _rr_lists(blocks)
        order = np.concatenate(lists_rows) if lists_rows else np.zeros(0, np.int64)
        return _place_sorted(view, ledger, lists, order, batch, stats)


class LeastConnections:
    """The agents with the lowest ``load / capacity``; ties rotate (the scan starts at a cursor
    that advances), so an idle fleet is used evenly."""

    name = "least_connections"

    def __init__(self):
        self.cursor: dict = {}
        self.claims = None

    def place(self, view, ledger, batch, rows, rng, stats) -> np.ndarray:
        if self.claims is None or len(self.claims.count) != view.table.capacity:
            self.claims = Claims(view.table.capacity)
        groups = []

        def cost(a, j):
            return (view.table.load[a] + j) / view.table.cap[a]

        for sig, srows in batch.sig_groups(rows):
            need = batch.needs[sig]
            post = batch.sources[sig].slots
            d = int(batch.k[srows].sum())
            start = self.cursor.get(batch.sig_keys[sig], 0) % max(len(post), 1)
            n_tasks = len(srows)

            def evaluate(slots, need=need, n=n_tasks):
                ok = _free_ok(view, need, slots)
                s = slots[ok]
                return unit_costs(s, np.minimum(view.free(s), n), cost)

            def scan(m, post=post, start=start, evaluate=evaluate):
                return scan_units(post, None, start, m, evaluate)

            units = claim_units(scan, d, min(d, RR_SLACK), self.claims)
            self.cursor[batch.sig_keys[sig]] = units.end
            groups.append((srows, units))
        self.claims.clear()
        return place_ranked(view, ledger, groups, batch.k, batch.level, cost, stats)


class PowerOfTwo:
    """Per needed agent, two eligible agents drawn uniformly; the less loaded one is taken
    (Mitzenmacher's power of two choices); the other stays in the list as a fallback."""

    name = "power_of_two"

    def cost(self, view, slots: np.ndarray) -> np.ndarray:
        return view.load_ratio(slots)

    def place(self, view, ledger, batch, rows, rng, stats) -> np.ndarray:
        k = batch.k[rows]
        lists = sample_lists(view.table, batch.need_rows(rows), 2 * k,
                             lambda s: (view.free(s) > 0).astype(np.float64), view.key, rng)
        lists = _two_choices(lists, k, self.cost(view, lists.slots))
        return rows[place_listed(view, ledger, lists, rows, k, batch.level[rows], stats)]


class Adaptive(PowerOfTwo):
    """Power of two choices on peak-EWMA cost: ``latency EWMA x (outstanding + 1)``."""

    name = "adaptive"

    def cost(self, view, slots: np.ndarray) -> np.ndarray:
        return view.latency.cost(slots, view.table.load[slots])


def _free_ok(view, need, slots: np.ndarray) -> np.ndarray:
    ok = view.table.eligible(slots, need.caps, need.comps, need.level)
    return ok & (view.free(slots) > 0)


def _scan_positions(post: np.ndarray, start: int, want: int, ok_fn) -> np.ndarray:
    """Positions in ``post`` of the first ``want`` entries passing ``ok_fn``, scanning from
    ``start`` and wrapping once."""
    n, got, pos, chunk = len(post), [], 0, 1024
    have = 0
    while pos < n and have < want:
        idx = (start + pos + np.arange(min(chunk, n - pos))) % n
        hit = idx[ok_fn(post[idx])]
        got.append(hit)
        have += len(hit)
        pos += len(idx)
        chunk *= 2
    out = np.concatenate(got) if got else np.zeros(0, np.int64)
    return out[:want]


def _rr_lists(blocks: list) -> Lists:
    """Row i of a signature: its own ``k_i`` next agents, then the shared slack. A row that
    does not fit in what is left gets no block of its own (later, smaller rows still may)."""
    rows_slots = []
    for slots, k in blocks:
        at, own = 0, []
        for need in k.tolist():
            fits = at + need <= len(slots)
            own.append(slots[at:at + need] if fits else slots[:0])
            at += need if fits else 0
        slack = slots[at:]
        rows_slots += [np.concatenate([o, slack]) for o in own]
    lengths = np.array([len(s) for s in rows_slots], np.int64)
    indptr = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    flat = np.concatenate(rows_slots) if rows_slots else np.zeros(0, np.int64)
    return Lists(indptr, flat, np.zeros(len(rows_slots), bool))


def _place_sorted(view, ledger, lists: Lists, order: np.ndarray, batch, stats) -> np.ndarray:
    """Place lists built in signature order, matching in priority (row) order."""
    perm = np.argsort(order, kind="stable")
    lengths = lists.lengths[perm]
    indptr = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    flat = np.concatenate([lists.row(i) for i in perm.tolist()]) if len(perm) else lists.slots
    rows = order[perm]
    sorted_lists = Lists(indptr, flat.astype(np.int64), lists.exhausted[perm])
    k = batch.k[rows]
    return rows[place_listed(view, ledger, sorted_lists, rows, k, batch.level[rows], stats)]


def _two_choices(lists: Lists, k: np.ndarray, cost: np.ndarray) -> Lists:
    """Reorder each row: winners of the pairs ``(i, i + k)`` first, then the losers. A row with
    fewer than ``2k`` candidates is sorted by cost (it is the whole eligible set anyway)."""
    out = lists.slots.copy()
    for r in range(len(k)):
        a, b = lists.indptr[r], lists.indptr[r + 1]
        c, s = cost[a:b], lists.slots[a:b]
        if b - a == 2 * k[r]:
            first, second = np.arange(k[r]), np.arange(k[r], 2 * k[r])
            swap = c[second] < c[first]
            win = np.where(swap, second, first)
            lose = np.where(swap, first, second)
            out[a:b] = s[np.r_[win, lose]]
        else:
            out[a:b] = s[np.argsort(c, kind="stable")]
    return Lists(lists.indptr, out, lists.exhausted)
