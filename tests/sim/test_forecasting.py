"""The forecast scorer: Brier and log loss per model against the outcomes in each window."""

import math

import numpy as np
import pytest
from uqo.control.scheduler import AgentSpec, Scheduler
from uqo.control.sim.forecasting import ForecastScorer
from uqo.engine.register import AgentRegister


def _sched_with_readiness(ps):
    s = Scheduler(capacity=8, register=AgentRegister(8, backend="numpy"))
    s.add_agents([AgentSpec(f"a{i}", frozenset({"cpu"})) for i in range(len(ps))])
    for i, p in enumerate(ps):
        s.register.set_cell_state(int(s.link.eng[i]), np.diag([1 - p, p]))
    s.refresh_beliefs()
    return s


def test_brier_and_log_loss_match_their_definitions():
    s = _sched_with_readiness([0.8, 0.1])
    q0, q1 = s.failure_forecast(10.0, "quantum")     # the belief's 1 - q (scheduler tests)
    assert 0.2 <= q0 < q1 and q1 >= 0.9
    sc = ForecastScorer(("quantum", "base_rate"), 10.0, 2)
    assert sc.due(0.0)
    sc.snapshot(0.0, s, np.array([0, 1]))
    assert not sc.due(5.0)
    sc.outcome(0, ok=True)      # y = 0
    sc.outcome(1, ok=False)     # y = 1
    sc.load(10.0, 3)
    out = sc.summary()
    assert out["outcomes"] == 2 and out["failure_rate"] == 0.5
    assert out["models"]["quantum"]["brier"] == pytest.approx((q0 ** 2 + (1 - q1) ** 2) / 2,
                                                              abs=1e-6)
    assert out["models"]["quantum"]["log_loss"] == pytest.approx(
        (-math.log(1 - q0) - math.log(q1)) / 2, abs=1e-5)
    assert out["models"]["base_rate"]["brier"] == pytest.approx(0.25)   # prior 1/2, no data
    assert out["load_mae"] == {"little": 3.0, "persistence": 3.0}       # nothing learned yet
