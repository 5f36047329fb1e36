"""Conflict resolution for per-task candidate lists: flow optimum, gang, priority."""

import itertools

import numpy as np
from uqo.control.scheduler.ledger import Ledger
from uqo.control.scheduler.listed import place_listed
from uqo.control.scheduler.registry import AgentTable
from uqo.control.scheduler.sampling import Lists

from .conftest import agent


class _View:
    def __init__(self, pairs=()):
        self.pairs = dict(pairs)

    def key(self, slots):
        return np.array([min(s, self.pairs.get(s, s)) for s in slots.tolist()], np.int64)


def _lists(rows):
    indptr = np.r_[0, np.cumsum([len(r) for r in rows])]
    return Lists(indptr.astype(np.int64), np.concatenate(rows).astype(np.int64),
                 np.zeros(len(rows), bool))


def _table(n, cap=1):
    t = AgentTable(n)
    t.add([agent(i, capacity=cap) for i in range(n)])
    return t


def _brute(rows, k, n_agents):
    """Minimum total rank over assignments that serve every row (tiny instances only)."""
    best = None
    for combo in itertools.product(*[itertools.combinations(range(len(r)), kk)
                                     for r, kk in zip(rows, k)]):
        used = [r[i] for r, idx in zip(rows, combo) for i in idx]
        if len(set(used)) == len(used):
            cost = sum(sum(idx) for idx in combo)
            best = cost if best is None else min(best, cost)
    return best


def test_flow_finds_the_optimum_when_first_choices_collide():
    rows = [[0, 1, 2], [0, 3, 1], [1, 0, 4]]
    k = np.array([1, 2, 1])
    t = _table(5)
    ledger = Ledger(t)
    lost = place_listed(_View(), ledger, _lists(rows), np.arange(3), k, np.zeros(3, int), {})
    assert not lost.any()
    got = sum(rows[r].index(s) for r in range(3) for s in ledger.placed[r].tolist())
    assert got == _brute(rows, k, 5)
    assert t.load.max() == 1


def test_gang_all_or_nothing_and_priority_wins():
    rows = [[0, 1], [0, 1]]           # both need both agents; only one can have them
    t = _table(2)
    ledger = Ledger(t)
    lost = place_listed(_View(), ledger, _lists(rows), np.array([0, 1]), np.array([2, 2]),
                        np.array([5, 1]), {})
    assert list(ledger.placed) == [0] and lost.tolist() == [False, True]
    assert t.load.tolist() == [1, 1]


def test_correlated_pair_never_lands_in_one_task():
    rows = [[0, 1, 2]]
    t = _table(3)
    ledger = Ledger(t)
    place_listed(_View({0: 1, 1: 0}), ledger, _lists(rows), np.array([0]), np.array([2]),
                 np.zeros(1, int), {})
    assert sorted(ledger.placed[0].tolist()) in ([0, 2], [1, 2])
