"""The Born-rule draw is exact weighted sampling without replacement (both paths)."""

import itertools

import numpy as np
import pytest
from uqo.control.scheduler import sampling
from uqo.control.scheduler.registry import AgentTable
from uqo.control.scheduler.sampling import NeedRows, sample_lists
from uqo.control.scheduler.sources import Source

from .conftest import agent

WEIGHTS = np.array([0.9, 0.5, 0.3, 0.1, 0.0])


def _table():
    t = AgentTable(8)
    t.add([agent(i) for i in range(5)] + [agent(5, ("gpu",))])
    return t


def _rows(t, n):
    need, _ = t.compile_need(frozenset({"cpu"}), frozenset(), 0)
    src = Source(need.key, t.posting(need.key), 5)
    return NeedRows(np.tile(need.caps, (n, 1)), np.tile(need.comps, (n, 1)),
                    np.zeros(n, np.int64), [src] * n)


def _exact_ordered_pairs(w):
    probs = {}
    for a, b in itertools.permutations(range(len(w)), 2):
        if w[a] > 0 and w[b] > 0:
            probs[(a, b)] = w[a] / w.sum() * w[b] / (w.sum() - w[a])
    return probs


@pytest.mark.parametrize("force_race", [False, True])
def test_ordered_draws_follow_sequential_sampling_without_replacement(force_race, monkeypatch):
    if force_race:
        monkeypatch.setattr(sampling, "MAX_ROUNDS", 0)
    t, n = _table(), 20000
    lists = sample_lists(t, _rows(t, n), np.full(n, 2), lambda s: WEIGHTS[s], lambda s: s,
                         np.random.default_rng(3))
    assert (lists.lengths == 2).all()
    pairs = lists.slots.reshape(n, 2)
    assert (WEIGHTS[pairs] > 0).all() and (pairs[:, 0] != pairs[:, 1]).all()
    for (a, b), p in _exact_ordered_pairs(WEIGHTS).items():
        freq = np.mean((pairs[:, 0] == a) & (pairs[:, 1] == b))
        assert abs(freq - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-3, (a, b, freq, p)


def test_shared_keys_are_drawn_at_most_once_and_short_rows_are_exhausted():
    t, n = _table(), 500
    key = lambda s: np.where(s == 1, 0, s)
    lists = sample_lists(t, _rows(t, n), np.full(n, 4), lambda s: WEIGHTS[s], key,
                         np.random.default_rng(0))
    for r in range(n):
        row = lists.row(r)
        assert not ({0, 1} <= set(row.tolist()))
        assert len(row) == 3  # keys {0/1, 2, 3} have weight; agent 4 has none
    assert lists.exhausted.all()


def test_ineligible_agents_are_never_drawn():
    t = _table()
    lists = sample_lists(t, _rows(t, 50), np.full(50, 3), lambda s: np.ones(len(s)),
                         lambda s: s, np.random.default_rng(0))
    assert 5 not in set(lists.slots.tolist())
