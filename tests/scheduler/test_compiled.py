"""The compiled steps of the fast lister (``control/scheduler/compiled.py``) equal their numpy
references: ``free_units`` against ``AgentTable.eligible`` + ``View.free`` + the floor test on
a table with compartments, clearances, removed, down and full agents, capability words of
70 names (two words) and needs compiled narrower than the table; ``linear_units`` and
``cheapest_private`` against ``ranking.unit_costs`` and ``ranked._cheapest_private`` with
many equal costs."""

from __future__ import annotations

import numpy as np
import pytest
from uqo.control.scheduler.compiled import (
    band,
    cheapest_private,
    distinct,
    first_fit,
    fit_term,
    free_of,
    free_units,
    linear_units,
    pair_keys,
    sorted_draw,
)
from uqo.control.scheduler.ranked import _cheapest_private
from uqo.control.scheduler.ranking import unit_costs
from uqo.control.scheduler.registry import AgentTable

from .conftest import agent

NAMES = [f"c{i}" for i in range(70)]          # past one 64-bit word


@pytest.mark.parametrize("seed", range(4))
def test_free_units_equals_eligible_free_and_floor(seed):
    rng = np.random.default_rng(seed)
    n = 400
    t = AgentTable(n)
    specs = [agent(i, ("c1",) + tuple(rng.choice(NAMES, int(rng.integers(0, 4))).tolist()),
                   clearance=int(rng.integers(3)),
                   comps=tuple(c for c in ("x", "y") if rng.random() < 0.5),
                   capacity=int(rng.integers(1, 4))) for i in range(n)]
    t.add(specs[:1])
    early = t.compile_need(frozenset({"c1"}), frozenset(), 0)   # before names widen: 1 word
    t.add(specs[1:])
    for i in rng.choice(n, 20, replace=False).tolist():
        t.remove(f"a{i}")
    t.up[rng.choice(n, 30, replace=False)] = False
    t.load[:] = rng.integers(0, 4, n)
    slots = np.sort(rng.choice(n, 300, replace=False)).astype(np.int64)
    value = rng.random(len(slots))
    needs = [early[0]] + [t.compile_need(frozenset(rng.choice(NAMES[:8], 1).tolist() + ["c1"]),
                                         frozenset(c for c in ("x", "y") if rng.random() < 0.5),
                                         int(rng.integers(3)))[0] for _ in range(8)]
    assert early[0].caps.shape[0] < t.cap_words.shape[1]
    offered = []
    for need in needs:
        if need is None:
            continue
        for floor, n_tasks in ((0.4, 2), (-np.inf, 5)):
            free = np.where(t.active[slots] & t.up[slots], t.cap[slots] - t.load[slots], 0)
            ok = t.eligible(slots, need.caps, need.comps, need.level) & (free > 0)
            ok &= (value >= floor) if floor > -np.inf else True
            want = np.where(ok, np.minimum(free, n_tasks), 0)
            got = free_units(slots, t.active, t.up, t.clearance, t.cap_words, t.comp_words,
                             need.caps, need.comps, need.level, t.cap, t.load, value, floor,
                             n_tasks)
            assert np.array_equal(got, want)
            offered.append(int((got > 0).sum()))
    assert max(offered) > 20 and min(offered) < len(slots) // 2     # both outcomes met


@pytest.mark.parametrize("seed", range(4))
def test_flow_units_equal_the_numpy_steps(seed):
    rng = np.random.default_rng(seed)
    n_slots, n = 500, int(rng.integers(1, 300))
    slots = np.sort(rng.choice(n_slots, n, replace=False)).astype(np.int64)
    load, cap = rng.integers(0, 3, n_slots).astype(np.int32), rng.integers(3, 9, n_slots)
    idle = rng.choice([0.1, 0.25, 0.5], n)                   # few values: many equal costs
    units = rng.integers(-1, 6, n)
    agent, cost = linear_units(idle, units, slots, load, cap.astype(np.int32), 0.01)
    want_a, _, want_c = unit_costs(np.arange(n), units, lambda a, j: idle[a] + 0.01 *
                                   (load[slots[a]] + j) / cap.astype(np.int32)[slots[a]])
    assert np.array_equal(agent, want_a) and np.array_equal(cost, want_c)
    icost = np.rint(cost * 1000).astype(np.int64)
    groups = int(rng.integers(1, 6))
    shared = rng.random(n) < 0.3
    owner = np.where(shared, -1, rng.integers(0, groups, n))
    demand = rng.integers(0, 40, groups)
    got = cheapest_private(agent, icost, shared, owner, demand)
    assert np.array_equal(got, _cheapest_private(agent, icost, shared, owner, demand))
    assert len(agent) == 0 or 0 < got.sum()


def test_band_equals_its_numpy_expression():
    rng = np.random.default_rng(7)
    x = rng.choice([0.1, 0.2, 0.3, 0.4], 1000)
    for lo, hi in ((-np.inf, 0.2), (0.2, 0.3), (0.1, 0.4), (0.4, 0.5)):
        new, rest = band(x, lo, hi)
        assert np.array_equal(new, np.flatnonzero((x > lo) & (x <= hi)))
        above = x[x > hi]
        assert rest == (above.min() if len(above) else np.inf)


def test_distinct_is_both_arrays_free_of_repeats():
    rng = np.random.default_rng(8)
    for _ in range(50):
        a, b = rng.integers(0, 40, rng.integers(0, 12)), rng.integers(0, 40, rng.integers(0, 12))
        want = len(np.unique(a)) == len(a) and len(np.unique(b)) == len(b)
        assert distinct(a, b) == want
    assert distinct(np.arange(5), np.arange(5)) and not distinct(np.arange(5), np.zeros(2, int))
    assert distinct(np.arange(3), np.arange(3, dtype=np.int32))          # mixed dtypes


def test_free_of_equals_the_numpy_expression_including_full_and_down_agents():
    rng = np.random.default_rng(9)
    n = 200
    active, up = rng.random(n) < 0.8, rng.random(n) < 0.9
    cap = rng.integers(1, 5, n).astype(np.int32)
    load = rng.integers(0, 6, n).astype(np.int32)              # some over capacity
    for slots in (rng.integers(0, n, 300), np.zeros(0, np.int64), np.arange(n, dtype=np.int32)):
        want = np.where(active[slots] & up[slots], cap[slots] - load[slots], 0)
        got = free_of(slots, active, up, cap, load)
        assert got.dtype == want.dtype and np.array_equal(got, want)
    assert (free_of(np.arange(n), active, up, cap, load) < 0).any()


def test_first_fit_serves_in_order_each_task_that_still_fits():
    rng = np.random.default_rng(10)
    for _ in range(200):
        need = rng.integers(1, 6, rng.integers(0, 12))
        total = int(rng.integers(0, 25))
        want, at = [], 0
        for n in need.tolist():                   # the reference: deal's loop
            want.append(at + n <= total)
            at += n if want[-1] else 0
        assert first_fit(need, total).tolist() == want
    assert first_fit(np.array([3, 5, 2]), 6).tolist() == [True, False, True]


def test_fit_term_equals_the_numpy_expression():
    rng = np.random.default_rng(11)
    fitness = rng.uniform(0.5, 1.0, 80).astype(np.float32)
    slots = rng.integers(0, 80, 120)
    fit = fitness[slots].astype(np.float64) / float(fitness.max())
    assert np.array_equal(fit_term(slots, fitness, float(fitness.max()), 0.01), 0.01 * (1.0 - fit))


def test_sorted_draw_equals_the_numpy_steps():
    rng = np.random.default_rng(12)
    for n in (1, 2, 7, 5000, 1_000_003):
        e = rng.standard_exponential(4097)
        s = np.cumsum(e)
        idx = np.minimum((s[:-1] * (n / s[-1])).astype(np.int64), n - 1)
        want = idx[np.concatenate([[True], idx[1:] != idx[:-1]])]
        assert np.array_equal(sorted_draw(e, n), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pair_keys_equal_the_numpy_expression_at_the_threshold(dtype):
    rng = np.random.default_rng(13)
    n = 300
    partner = np.where(rng.random(n) < 0.7, rng.integers(0, n, n), -1)
    eng = rng.permutation(n)
    mi = rng.choice([0.0, 0.05, 0.1, 0.1000001, 0.2], n).astype(dtype)  # ties at 0.1
    slots = rng.integers(0, n, 500)
    for threshold in (0.1, 0.05, 0):
        linked = (partner[slots] >= 0) & (mi[eng[slots]] > threshold)
        want = np.where(linked, np.minimum(slots, partner[slots]), slots)
        assert np.array_equal(pair_keys(slots, partner, eng, mi, mi.dtype.type(threshold)), want)

