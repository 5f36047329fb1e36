"""Forecasts: per-agent failure probability from each model, fleet load by Little's law."""

import math

import numpy as np
import pytest
from uqo.control.scheduler.forecast import FAILURE_MODELS, LoadForecast

from .conftest import agent, make_scheduler, set_readiness, task


def test_load_forecast_relaxes_toward_rate_times_hold_time():
    f = LoadForecast(tau_s=1e-9, alpha=1.0)
    assert f.forecast(10.0, 7) == 7.0           # nothing learned yet: persistence
    f.placed(30)
    f.tick(1.0)                                 # 30 agent-slots per second
    f.released(4.0)                             # each held 4 s
    assert f.forecast(0.0, 50) == pytest.approx(50)
    assert f.forecast(1e6, 50) == pytest.approx(120)
    d = math.exp(-10 / 4)
    assert f.forecast(10.0, 50) == pytest.approx(50 * d + 120 * (1 - d))


def _belief_failure(s, agent_id: str) -> float:
    """``1 - q`` from the belief's two factors and the learned rates (docs/model.md)."""
    slot = s.table.slot(agent_id)
    prm, link = s.register.params, s.link
    a, r = float(link.readiness([slot])[0]), float(link.reliability([slot])[0])
    survive = math.exp(-float(link.failure_rate(np.array([slot]))[0]) * s.hold_s())
    punctual = float(link.punctual(np.array([slot]))[0])     # 1 - its live-miss rate
    sbar = prm.success_unreliable + (prm.success_reliable - prm.success_unreliable) * r
    p = float(link.refine(np.array([slot]), np.array([sbar]))[0])   # with its own record
    return 1.0 - a * survive * (p * punctual)


def _weak_and_failing(n: int, readiness: float, failures: int):
    """``n`` agents: ``a0`` with lowered readiness, ``a1`` with ``failures`` failed tasks."""
    s = make_scheduler(8)
    s.add_agents([agent(i) for i in range(n)])
    set_readiness(s, "a0", readiness)
    for _ in range(failures):
        s.report_outcome("a1", False, 1.0)
    return s


def test_every_failure_model_gives_probabilities_and_the_belief_one_reads_both_factors():
    s = _weak_and_failing(3, 0.9, 4)
    for m in FAILURE_MODELS:
        q = s.failure_forecast(10.0, m)
        assert q.shape == (3,) and ((0 <= q) & (q <= 1)).all()
    q = s.failure_forecast(10.0, "quantum")
    assert q[0] == pytest.approx(_belief_failure(s, "a0"), abs=1e-6)
    assert q[1] == pytest.approx(_belief_failure(s, "a1"), abs=1e-6)
    assert q[1] > q[2] and q[0] > q[2]     # failures lower reliability; readiness 0.9 liveness
    th = s.failure_forecast(10.0, "thompson")
    assert th[1] > th[2]
    assert np.ptp(s.failure_forecast(10.0, "base_rate")) == 0
    with pytest.raises(ValueError, match="model"):
        s.failure_forecast(10.0, "oracle")


def test_the_scheduler_feeds_its_load_forecast():
    s = make_scheduler(8)
    s.add_agents([agent(i, capacity=2) for i in range(4)])
    s.decide([task("t", 3)], now=0.0)
    assert s.load_now() == 3
    s.tick(2.0)
    s.release("t")
    assert s.load_forecast.hold_s == pytest.approx(2.0)
    assert s.load_forecast.rate > 0


def test_the_forecast_summary_names_the_riskiest_agents():
    s = make_scheduler(8)
    assert s.forecast_summary(30.0)["failure"]["mean"] is None     # no agents yet
    s.add_agents([agent(i) for i in range(4)])
    for i, p in enumerate([0.9, 0.2, 0.95, 0.6]):
        set_readiness(s, f"a{i}", p)
    out = s.forecast_summary(30.0, riskiest=2)
    assert out["horizon_s"] == 30.0 and out["load_now"] == 0
    f = out["failure"]
    assert [r["agent_id"] for r in f["riskiest"]] == ["a1", "a3"]
    expect = [_belief_failure(s, f"a{i}") for i in range(4)]
    assert f["above_half"] == 1 and f["mean"] == pytest.approx(np.mean(expect), abs=1e-5)
    with pytest.raises(ValueError, match="horizon_s"):
        s.forecast_summary(float("nan"))


def test_the_belief_factors_multiply_to_the_forecast():
    from uqo.control.scheduler.forecast import belief_factors

    s = _weak_and_failing(4, 0.7, 3)
    s.refresh_beliefs()
    f = belief_factors(s, np.arange(4))
    assert set(f) == {"liveness", "survival", "reliability", "punctual"}
    prod = np.prod(np.stack(list(f.values())), axis=0)
    np.testing.assert_allclose(1.0 - prod, s.failure_forecast(10.0, "quantum"), atol=1e-12)
    assert f["liveness"][0] < f["liveness"][2] and f["reliability"][1] < f["reliability"][2]
    assert all(((0 <= v) & (v <= 1)).all() for v in f.values())
