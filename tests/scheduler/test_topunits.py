"""The fast placement path of the scored strategies places exactly as the reference one.

``Scored`` lists each signature's cheapest units by selection (``topunits``) instead of the
reference sort-and-scan (``ranking.scan_units``). The two must give the same decisions, agent
for agent, on fleets large enough that candidates are sampled (above ``CANDIDATE_CAP``), with
gangs, several signatures sharing agents (the flow), capacities, failure-domain pairs and
beliefs that differ by agent, so a speed-up cannot silently change what is placed. For the
quantum strategy the fast path also reads its weights from factors kept across decisions
(``quantum.ExpectedWeights``), the reference recomputes them from the belief each decision.
"""

import numpy as np
import pytest
from uqo.control.scheduler.quantum import QuantumExact
from uqo.control.scheduler.ranking import Units, scan_units, unit_costs
from uqo.control.scheduler.scored import CANDIDATE_CAP, FIT_WEIGHT, MIN_Q, sorted_draws
from uqo.control.scheduler.topunits import TopUnits

from .conftest import agent, make_scheduler, task

CAPS = ("cpu", "gpu", "fpga", "ssd")


def _fleet(n: int, rng) -> list:
    out = []
    for i in range(n):
        caps = ("cpu",) + tuple(c for c in CAPS[1:] if rng.random() < 0.4)
        dom = f"d{rng.integers(n // 3)}" if rng.random() < 0.5 else None
        out.append(agent(i, caps, clearance=int(rng.integers(3)), capacity=int(rng.integers(1, 5)),
                         domain=dom, fitness=float(rng.choice([0.5, 0.75, 1.0]))))
    return out


def _tasks(rng, b: int, n: int) -> list:
    out = []
    for i in range(n):
        caps = ("cpu",) + tuple(c for c in CAPS[1:3] if rng.random() < 0.3)
        out.append(task(f"t{b}-{i}", int(rng.integers(1, 4)), caps, level=int(rng.integers(2)),
                        priority=int(rng.integers(3))))
    return out


def _pair(strategy: str, n: int, seed: int):
    """Two identical schedulers, the second listing candidates the reference way."""
    fleet = _fleet(n, np.random.default_rng([seed, 1]))
    out = []
    for reference in (False, True):
        s = make_scheduler(n, strategy=strategy, seed=seed, quantum_mode="exact")
        s.add_agents(fleet)
        rng = np.random.default_rng([seed, 2])
        for i in rng.choice(n, n // 3, replace=False).tolist():
            s.report_outcome(f"a{i}", bool(rng.random() < 0.7), 0.1)
        for i in rng.choice(n, n // 50, replace=False).tolist():
            s.agent_failed(f"a{i}")
        s.tick(2.0)
        s.heartbeats([f"a{i}" for i in rng.choice(n, n // 4, replace=False).tolist()], 2.0)
        if strategy == "quantum":
            s._strategies[strategy] = QuantumExact(reference=reference)
        else:
            s._strategies[strategy].reference = reference
        out.append(s)
    return out


@pytest.mark.parametrize(("strategy", "seed"), [("quantum", 0), ("quantum", 5),
                                                ("thompson", 1), ("ewma", 2)])
def test_fast_lister_places_exactly_as_the_reference(strategy, seed):
    n = 3 * CANDIDATE_CAP
    fast, ref = _pair(strategy, n, seed)
    rng = np.random.default_rng([seed, 3])
    placed = 0
    for b in range(4):
        tasks = _tasks(rng, b, 300)
        d_fast, d_ref = fast.decide(tasks, now=2.0 + b), ref.decide(tasks, now=2.0 + b)
        assert d_fast.assignments == d_ref.assignments
        assert d_fast.pending == d_ref.pending
        placed += len(d_fast.assignments)
        for a in d_fast.assignments[::2]:          # keep half: loads differ between batches
            fast.release(a.task_id)
            ref.release(a.task_id)
        used = sorted({x for a in d_fast.assignments[:150] for x in a.agent_ids})
        for s in (fast, ref):                      # partial refresh, then a full one
            for x in used:                         # the agents just chosen fail: avoid them
                s.report_outcome(x, False, 0.1, timed_out=True)
            s.agent_failed(f"a{20 + b}")
            if b == 1:
                s.tick(1.0)
    assert placed > 600
    assert fast._stats.counts.get("flow_solves", 0) > 0      # the shared-agent path ran


def _reference_units(cand, ok, units, cost, bound, m):
    idx = np.argsort(bound(cand), kind="stable")

    def evaluate(slots):
        sel = ok[np.searchsorted(cand, slots)]
        s = slots[sel]
        return unit_costs(s, units[np.searchsorted(cand, s)], cost)

    return scan_units(cand[idx], bound(cand)[idx], 0, m, evaluate)


def test_sorted_draws_are_distinct_ascending_and_uniform():
    rng = np.random.default_rng(3)
    n, size, reps = 1000, 500, 4000
    counts, distinct = np.zeros(n), []
    rows = [d for _ in range(reps // 8) for d in sorted_draws(np.full(8, n), size, rng)]
    small, large = sorted_draws(np.array([5, 10_000]), 50, rng)     # rows of mixed sizes
    assert set(small.tolist()) <= set(range(5)) and 40 < len(large) <= 50
    for d in rows:
        assert d.dtype == np.int64 and d[0] >= 0 and d[-1] < n and np.all(np.diff(d) > 0)
        counts[d] += 1
        distinct.append(len(d))
    p = 1 - (1 - 1 / n) ** size                 # P(a value is among the draws)
    assert abs(np.mean(distinct) - n * p) < 1.0  # ~393.6 distinct values per call
    assert abs(counts.mean() / reps - p) < 0.002 and counts.std() < 1.3 * np.sqrt(reps * p * (1 - p))
    assert counts[:n // 10].sum() / counts.sum() == pytest.approx(0.1, abs=0.003)  # both ends
    assert counts[-n // 10:].sum() / counts.sum() == pytest.approx(0.1, abs=0.003)


@pytest.mark.parametrize("seed", range(6))
def test_top_units_equal_the_threshold_scan_with_many_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    cand = np.sort(rng.choice(10 * n, n, replace=False))
    base = rng.choice([0.1, 0.2, 0.3], 10 * n)               # few values: many exact ties
    load, cap = rng.integers(0, 3, 10 * n), np.full(10 * n, 4)

    def bound(s):
        return base[s]

    def cost(s, j):
        return base[s] + 0.01 * (load[s] + j) / cap[s]

    ok = rng.random(n) < 0.8
    units = np.minimum(cap[cand] - load[cand], rng.integers(1, 6))
    ok_of = dict(zip(cand.tolist(), ok.tolist()))
    units_of = dict(zip(cand.tolist(), units.tolist()))

    def evaluate(slots):
        return (np.array([ok_of[x] for x in slots.tolist()], bool),
                np.array([units_of[x] for x in slots.tolist()], np.int64))

    slack = rng.choice([0.0, 0.05, 0.3], len(cand))           # a loose lower bound too
    linear = (load, cap, 0.01)                                 # cost's form: compiled path
    for top in (TopUnits(cand, bound(cand), evaluate, cost),
                TopUnits(cand, bound(cand) - slack, evaluate, cost, bound),
                TopUnits(cand, bound(cand), evaluate, cost, linear=linear),
                TopUnits(cand, bound(cand) - slack, evaluate, cost, bound, linear)):
        for m in (1, 5, 64, 4 * n):
            want: Units = _reference_units(cand, ok, units, cost, bound, m)
            got = top(m)
            assert np.array_equal(got.slots, want.slots) and np.array_equal(got.j, want.j)
            assert np.array_equal(got.cost, want.cost) and got.exhausted == want.exhausted


def test_kept_weights_equal_the_belief_after_partial_and_full_refreshes():
    from uqo.control.scheduler.quantum import ExpectedWeights, expected
    from uqo.control.scheduler.view import View

    s = make_scheduler(401, seed=4)
    s.add_agents(_fleet(400, np.random.default_rng(4)))
    weights, rng = ExpectedWeights(), np.random.default_rng(5)
    slots = np.arange(400)
    for step in range(8):
        s.link.snapshot()
        view = View(s.table, s.link, 0.1, s.latency, s.books, s.register.now, 3.0 + step)
        assert np.array_equal(weights(view, slots), expected(view, slots))
        live = np.flatnonzero(s.table.active)       # the lister's bound: lower + fitness term
        fit = s.table.fitness[live].astype(np.float64) / view.fit_max
        assert np.array_equal(weights.bound(view, live),
                              weights.lower(view, live) + FIT_WEIGHT * (1.0 - fit))
        idle = -np.log(np.maximum(expected(view, live), MIN_Q)) + FIT_WEIGHT * (1.0 - fit)
        assert np.all(weights.bound(view, live) <= idle)        # a lower bound on it
        for i in rng.choice(400, 30, replace=False).tolist():
            s.report_outcome(f"a{i}", bool(rng.random() < 0.5), 0.1)
        if step == 3:
            s.tick(0.5)
        if step == 5:                               # membership moves the fitness term
            s.remove_agent("a0")
            s.add_agents([agent(400, ("cpu",), fitness=2.0)])


def test_a_decision_right_after_a_tick_finds_the_weights_already_fresh():
    """The tick refreshes every agent's weights; the decision after it reads them unchanged
    (equal to a fresh computation) and places as the reference path does."""
    from uqo.control.scheduler.quantum import ExpectedWeights

    fast, ref = _pair("quantum", 2 * CANDIDATE_CAP, 7)
    weights = fast._strategies["quantum"].estimate
    rng = np.random.default_rng(8)
    for b in range(3):
        for s in (fast, ref):
            s.report_outcome(f"a{b}", False, 0.1)
            s.tick(1.5)
        assert weights.generation == fast.link.generation     # done by the tick
        assert weights.structure == fast.link.structure
        fresh = ExpectedWeights()
        fresh.refresh(fast.link)
        assert np.array_equal(weights.factors, fresh.factors)
        assert np.array_equal(weights.floor, fresh.floor)
        before = weights.factors.copy()
        tasks = _tasks(rng, b, 200)
        d_fast, d_ref = fast.decide(tasks, now=4.0 + b), ref.decide(tasks, now=4.0 + b)
        assert np.array_equal(weights.factors, before)        # the decision had nothing to do
        assert d_fast.assignments == d_ref.assignments
        assert d_fast.pending == d_ref.pending
        assert d_fast.assignments
