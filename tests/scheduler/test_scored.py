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
