"""Scored strategies (thompson, ewma): they learn from outcomes and stay within constraints."""

import numpy as np
import pytest
from uqo.control.scheduler.scored import Scored, thompson

from .conftest import agent, make_scheduler, task


@pytest.mark.parametrize("name", ["thompson", "ewma"])
def test_agents_that_keep_failing_are_avoided(name):
    s = make_scheduler(32, strategy=name, seed=3)
    s.add_agents([agent(i) for i in range(10)])
    for i in range(5):
        for _ in range(6):
            s.report_outcome(f"a{i}", i != 2, 1.0)   # a2 fails every time
    picks = []
    for j in range(20):
        d = s.decide([task(f"t{j}", 3)], now=float(j))
        picks += list(d.assignments[0].agent_ids)
        s.release(f"t{j}")
    assert "a2" not in picks
    assert len(set(picks)) >= 3


def test_a_thompson_draw_is_shared_by_every_signature_and_round_of_one_decision():
    s = make_scheduler(16, strategy="thompson", seed=1)
    s.add_agents([agent(i, ("cpu", "gpu")) for i in range(8)])
    strat = s._strategies["thompson"]
    s.decide([task("x", 2, ("cpu",)), task("y", 2, ("gpu",))], now=0.0)
    seen = strat._q[strat._known].copy()
    assert len(seen) == 8 and (seen > 0).all() and (seen < 1).all()
    q1 = strat.q(strat._view, np.arange(8), np.random.default_rng(99))
    assert np.array_equal(q1, strat._q[:8])     # cached: a new rng does not redraw


def test_scored_costs_rise_with_load_and_fall_with_quality():
    s = make_scheduler(8, strategy="ewma")
    s.add_agents([agent(i, capacity=4) for i in range(2)])
    strat = Scored("t", thompson)
    s.decide([task("warm", 1)], now=0.0)        # builds a view
    view = s._strategies["ewma"]._view
    strat._begin(view)
    strat._q[:2] = [0.9, 0.5]
    cost = strat.cost_of(view)
    c = cost(np.array([0, 0, 1]), np.array([0, 2, 0]))
    assert c[0] < c[1] and c[0] < c[2]


@pytest.mark.parametrize("name", ["quantum", "ewma"])
def test_a_signature_demanding_more_than_the_sample_draws_enough_candidates(name, monkeypatch):
    """A fleet larger than ``CANDIDATE_CAP`` is sampled per signature; a batch whose tasks
    demand more units than that still finds them (the sample grows with the demand): 40 tasks
    of 5 agents on 600 single-slot agents with a cap of 32 are all placed."""
    from uqo.control.scheduler import scored

    monkeypatch.setattr(scored, "CANDIDATE_CAP", 32)
    assert scored.sample_size(0) == 32 and scored.sample_size(200) == 200 * scored.DEMAND_DRAWS
    s = make_scheduler(1024, strategy=name, seed=2)
    s.add_agents([agent(i) for i in range(600)])
    d = s.decide([task(f"t{j}", 5) for j in range(40)], now=0.0)
    assert len(d.assignments) == 40 and not d.pending
    used = [a for x in d.assignments for a in x.agent_ids]
    assert len(used) == len(set(used)) == 200


def test_candidates_are_a_uniform_sample_of_the_demanded_size():
    from uqo.control.scheduler import scored

    posts = [np.arange(100_000), np.arange(50), np.arange(100_000)]
    rng = np.random.default_rng(0)
    out = scored.candidates(posts, rng, [10, 10, 1000])
    assert out[1] is posts[1]                                # short list: whole
    assert len(out[0]) <= scored.CANDIDATE_CAP and len(out[0]) > 0.95 * scored.CANDIDATE_CAP
    assert len(out[2]) > 0.9 * 1000 * scored.DEMAND_DRAWS
    assert (np.diff(out[2]) > 0).all()                       # distinct, ascending
