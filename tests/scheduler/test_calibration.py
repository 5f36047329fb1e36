"""The belief's failure forecast is calibrated: on a fleet with known, fixed success
probabilities it converges to them, and the online learners behind it recover the truth."""

import numpy as np
import pytest
from uqo.control.scheduler.emissions import DRIFT_GRID, DriftFit, EmissionLearner

from .conftest import agent, make_scheduler


def test_forecast_converges_to_each_agents_fixed_failure_probability():
    """40 agents, half completing 99 % of their tasks, half 60 %: after 200 s of heartbeats and
    outcomes the forecast of each agent is within a few points of ``1 - p``, the learned
    emission probabilities are near (0.6, 0.99), and its Brier score beats the base rate."""
    rng = np.random.default_rng(3)
    n = 40
    p = np.where(np.arange(n) % 2 == 0, 0.99, 0.6)
    s = make_scheduler(64)
    s.add_agents([agent(i) for i in range(n)])
    ids = [f"a{i}" for i in range(n)]
    sq_belief, sq_base = [], []
    for t in range(1, 201):
        s.heartbeats(ids, float(t))
        s.refresh_beliefs()
        q = s.failure_forecast(10.0, "quantum", ids)
        base = s.failure_forecast(10.0, "base_rate", ids)
        for i in range(n):
            ok = bool(rng.random() < p[i])
            y = 0.0 if ok else 1.0
            if t > 20:
                sq_belief.append((q[i] - y) ** 2)
                sq_base.append((base[i] - y) ** 2)
            s.report_outcome(ids[i], ok, 1.0)
        s.tick(1.0)
    s.refresh_beliefs()
    q = s.failure_forecast(10.0, "quantum", ids)
    good, bad = q[p > 0.9], q[p < 0.9]
    assert np.median(good) == pytest.approx(0.01, abs=0.02)
    assert np.median(bad) == pytest.approx(0.4, abs=0.06)
    s0, s1 = s.link.emissions.estimate()
    assert s0 == pytest.approx(0.6, abs=0.05) and s1 == pytest.approx(0.99, abs=0.01)
    assert np.mean(sq_belief) < 0.9 * np.mean(sq_base)


def test_emission_learner_recovers_a_two_class_mixture_from_known_labels():
    em = EmissionLearner(s0=0.5, s1=0.98, prior=20.0)
    rng = np.random.default_rng(0)
    r = np.repeat([0.0, 1.0], 5000)
    y = rng.random(len(r)) < np.where(r > 0.5, 0.995, 0.7)
    em.observe(r, y)
    s0, s1 = em.estimate()
    assert s0 == pytest.approx(0.7, abs=0.02) and s1 == pytest.approx(0.995, abs=0.003)


def _drift_world(switch: bool, seed: int = 1) -> float:
    """200 agents, one outcome each per second for 600 s; with ``switch`` each agent's class
    flips at rate 1/100 s, else it never changes. Returns the rate DriftFit chooses."""
    rng = np.random.default_rng(seed)
    fit = DriftFit(200, p0=0.9, p_star=0.5)
    good = rng.random(200) < 0.9
    for t in range(600):
        if switch:
            good ^= rng.random(200) < 0.01
        ok = rng.random(200) < np.where(good, 0.99, 0.6)
        for a in range(200):
            fit.observe(a, bool(ok[a]), float(t), 0.6, 0.99)
    return fit.best()


def test_drift_fit_is_slow_on_a_stationary_fleet_and_fast_where_agents_change():
    assert _drift_world(False) == min(DRIFT_GRID)
    assert _drift_world(True) >= 1 / 200


def test_the_register_takes_new_emission_probabilities_and_refuses_bad_ones():
    s = make_scheduler(8)
    s.add_agents([agent(0)])
    reg = s.register
    reg.set_reliability_model(0.6, 0.99, 1 / 400)
    assert (reg.params.success_unreliable, reg.params.success_reliable) == (0.6, 0.99)
    assert reg.params.reliability_drift == pytest.approx(1 / 400)
    s.refresh_beliefs()
    before = float(s.link.reliability(np.array([0]))[0])
    s.report_outcome("a0", False, 1.0)      # one failure: odds of reliable x 0.01 / 0.4
    s.refresh_beliefs()
    after = float(s.link.reliability(np.array([0]))[0])
    odds = lambda p: p / (1 - p)
    assert odds(after) == pytest.approx(odds(before) * 0.01 / 0.4, rel=1e-3)
    for bad in ((0.99, 0.6), (0.5, 1.0), (float("nan"), 0.9)):
        with pytest.raises(ValueError):
            reg.set_reliability_model(*bad)
    assert reg.params.success_reliable == 0.99     # unchanged by the refused calls
