"""Weighted sampling without replacement over the eligible agents of many tasks at once.

For each task row ``r`` we want ``want[r]`` distinct candidates drawn one after another with
probability proportional to a weight ``w(a)`` in ``[0, 1]`` among eligible agents not yet drawn
(the Born-rule draw of the ``quantum`` strategy; uniform over free agents for power-of-two).

Draws never scan the fleet. A proposal is a uniform pick from the task's source (the smallest
posting list among its requirements, or the signature's eligible pool: ``sources``); it is
kept when the agent is eligible
and a uniform ``u < w(a)``. That is rejection sampling: each kept proposal is distributed exactly
``proportional to w`` over the eligible agents. Dropping repeats of an agent already drawn for the
row turns the with-replacement stream into the without-replacement sequence (the next new agent
is proportional to ``w`` among those not yet drawn). Repeats are detected by a *key*; agents of a
correlated failure-domain pair share one key, so drawing one removes its partner too
(anti-affinity).

When acceptance is too low for rejection to pay (expected proposals above half the list) or
rounds run out, the row falls back to an exact full scan of its list: an exponential race
(``E_a / w_a``, ``E ~ Exp(1)``; ascending order is weighted sampling without replacement), with the
same key rule. A row that ends with fewer than ``want`` candidates is ``exhausted``: no further
eligible agent with positive weight exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MAX_ROUNDS = 5
MAX_PROPOSALS = 8192


@dataclass
class Lists:
    """Per-row candidate lists in CSR form (``slots[indptr[r]:indptr[r+1]]``, in draw order),
    and which rows are ``exhausted`` (the list is every candidate there is)."""

    indptr: np.ndarray
    slots: np.ndarray
    exhausted: np.ndarray

    def row(self, r: int) -> np.ndarray:
        return self.slots[self.indptr[r]:self.indptr[r + 1]]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)


@dataclass
class NeedRows:
    """Per-row predicates: ``caps (R, Wc)``, ``comps (R, Wm)``, ``level (R,)``, and the
    ``sources`` (``sources.Source``) each row draws from."""

    caps: np.ndarray
    comps: np.ndarray
    level: np.ndarray
    sources: list


Weight = Callable[[np.ndarray], np.ndarray]


def sample_lists(table, needs: NeedRows, want: np.ndarray, weight: Weight,
                 key: Callable[[np.ndarray], np.ndarray], rng: np.random.Generator) -> Lists:
    """Draw ``want[r]`` candidates per row (see module docstring)."""
    want = np.asarray(want, np.int64)
    n_rows = len(want)
    key_ids, posts = _source_groups(needs.sources)
    flat = _Flat(posts)
    sizes = flat.size[key_ids]
    acc = _Accepted(n_rows, want, table.capacity)
    rate = np.full(n_rows, 0.5)
    exact = sizes == 0
    for _ in range(MAX_ROUNDS):
        todo = np.flatnonzero((acc.have < want) & ~exact)
        if len(todo) == 0:
            break
        n_prop = np.ceil((want - acc.have)[todo] * 1.5 / rate[todo]).astype(np.int64) + 4
        slow = n_prop > np.maximum(sizes[todo] // 2, 64)
        exact[todo[slow]] = True
        todo, n_prop = todo[~slow], np.minimum(n_prop[~slow], MAX_PROPOSALS)
        if len(todo) == 0:
            break
        rows = np.repeat(todo, n_prop)
        slots = _draw(rows, key_ids, flat, rng)
        ok = table.eligible(slots, needs.caps[rows], needs.comps[rows], needs.level[rows])
        w = np.zeros(len(slots))
        w[ok] = weight(slots[ok])
        kept = rng.random(len(slots)) < w
        hits = np.bincount(rows[kept], minlength=n_rows)[todo]
        rate[todo] = np.maximum((hits + 0.5) / (n_prop + 1.0), 1e-3)
        acc.extend(rows[kept], slots[kept], key(slots[kept]))
    exact |= acc.have < want
    for group in _same_need(needs, key_ids, np.flatnonzero(exact)):
        r0 = int(group[0])
        for r, cand in zip(group.tolist(), _race(table, needs, r0, posts[key_ids[r0]],
                                                 want[group], weight, key, rng)):
            acc.replace(r, cand)
    return acc.lists(exact)


def _same_need(needs: NeedRows, key_ids: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
    """``rows`` grouped by identical predicate and source (one scan serves the group)."""
    if len(rows) == 0:
        return []
    sig = np.concatenate([needs.caps[rows], needs.comps[rows],
                          needs.level[rows, None].astype(np.uint64),
                          key_ids[rows, None].astype(np.uint64)], axis=1)
    _, inv = np.unique(sig, axis=0, return_inverse=True)
    return [rows[inv.ravel() == g] for g in range(int(inv.max()) + 1)]


def _source_groups(sources: list) -> tuple[np.ndarray, list]:
    ids: dict = {}
    key_ids = np.array([ids.setdefault(s.key, len(ids)) for s in sources], np.int64)
    arrays: dict = {}
    for s in sources:
        arrays.setdefault(s.key, s.slots)
    return key_ids, list(arrays.values())


class _Flat:
    """All posting lists of a call laid end to end, so one gather draws for every row."""

    def __init__(self, posts: list):
        self.size = np.array([len(p) for p in posts], np.int64)
        self.offset = np.r_[0, np.cumsum(self.size)[:-1]].astype(np.int64)
        self.slots = np.concatenate(posts) if posts else np.zeros(0, np.int64)


def _draw(rows: np.ndarray, key_ids: np.ndarray, flat: _Flat, rng) -> np.ndarray:
    """One uniform pick from each row's list (rows with an empty list never get here)."""
    kid = key_ids[rows]
    size = flat.size[kid]
    pick = np.minimum((rng.random(len(rows)) * size).astype(np.int64), size - 1)
    return flat.slots[flat.offset[kid] + pick]


def _race(table, needs: NeedRows, r: int, post: np.ndarray, want: np.ndarray, weight: Weight,
          key, rng) -> list[np.ndarray]:
    """Exact weighted sampling without replacement over the whole list (exponential race:
    ascending ``E / w`` with ``E ~ Exp(1)``), one independent race per entry of ``want``, all
    rows sharing row ``r``'s predicate. Agents sharing a key count once (the first wins)."""
    ok = table.eligible(post, needs.caps[r], needs.comps[r], needs.level[r]) if len(post) \
        else np.zeros(0, bool)
    cand = post[ok]
    w = weight(cand) if len(cand) else np.zeros(0)
    cand, w = cand[w > 0], w[w > 0]
    keys = key(cand)
    shared_keys = len(np.unique(keys)) != len(keys)
    out = []
    chunk = max(1, 4_000_000 // max(len(cand), 1))
    for lo in range(0, len(want), chunk):
        m = want[lo:lo + chunk]
        order = np.argsort(rng.exponential(size=(len(m), len(cand))) / w, axis=1, kind="stable")
        for row, n in zip(order, m.tolist()):
            picked = cand[row]
            if shared_keys:
                _, first = np.unique(keys[row], return_index=True)
                picked = picked[np.sort(first)]
            out.append(picked[:n])
    return out


class _Accepted:
    """Accepted draws per row, deduplicated by key, in draw order, truncated to ``want``."""

    def __init__(self, n_rows: int, want: np.ndarray, capacity: int):
        self.want, self.stride = want, np.int64(capacity + 1)
        self.rows = np.zeros(0, np.int64)
        self.slots = np.zeros(0, np.int64)
        self.keys = np.zeros(0, np.int64)
        self.have = np.zeros(n_rows, np.int64)
        self.fixed: dict[int, np.ndarray] = {}

    def extend(self, rows, slots, keys) -> None:
        rows = np.concatenate([self.rows, rows])
        slots = np.concatenate([self.slots, slots])
        keys = np.concatenate([self.keys, keys])
        _, first = np.unique(rows * self.stride + keys, return_index=True)
        first = np.sort(first)
        order = first[np.argsort(rows[first], kind="stable")]
        r = rows[order]
        start = np.searchsorted(r, r, side="left")
        keep = order[(np.arange(len(order)) - start) < self.want[r]]
        self.rows, self.slots, self.keys = rows[keep], slots[keep], keys[keep]
        self.have = np.bincount(self.rows, minlength=len(self.have))

    def replace(self, r: int, slots: np.ndarray) -> None:
        self.fixed[r] = slots

    def lists(self, exhausted: np.ndarray) -> Lists:
        lengths = self.have.copy()
        for r, s in self.fixed.items():
            lengths[r] = len(s)
        indptr = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=indptr[1:])
        out = np.empty(indptr[-1], np.int64)
        sel = np.array([r not in self.fixed for r in self.rows.tolist()], bool) \
            if self.fixed else np.ones(len(self.rows), bool)
        rows, slots = self.rows[sel], self.slots[sel]
        pos = indptr[rows] + (np.arange(len(rows)) - np.searchsorted(rows, rows))
        out[pos] = slots
        for r, s in self.fixed.items():
            out[indptr[r]:indptr[r + 1]] = s
        ex = exhausted & (lengths < self.want)
        return Lists(indptr, out, ex)
