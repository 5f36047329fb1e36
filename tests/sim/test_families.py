"""Workload families: each preset builds, and its feature is really in the world."""

import numpy as np
import pytest
from uqo.control.sim.config import SimConfig
from uqo.control.sim.families import FAMILIES, SUITES, family_config
from uqo.control.sim.world import build_world


def _world(name, **kw):
    return build_world(family_config(name, 3, agents=400, duration_s=200.0, **kw))


def test_every_family_builds_and_the_standard_suite_has_them_all():
    assert set(SUITES["standard"]) == set(FAMILIES) and len(FAMILIES) == 7
    for name in FAMILIES:
        if name != "million":
            assert len(_world(name).tasks) > 0
    assert family_config("million").agents == 1_000_000
    with pytest.raises(ValueError, match="'nope'"):
        family_config("nope")


def test_a_config_without_family_features_builds_the_same_world_as_before():
    plain = build_world(SimConfig(agents=300, duration_s=50, seed=4))
    assert plain.hb_loss is None and plain.onset is None
    again = build_world(SimConfig(agents=300, duration_s=50, seed=4, probe_rate=3.0))
    assert plain.tasks == again.tasks and np.array_equal(plain.reliability, again.reliability)


def test_degrading_agents_lose_reliability_over_the_ramp():
    w = _world("slow_degradation")
    deg = np.flatnonzero(np.isfinite(w.onset))
    assert 0.1 < len(deg) / w.n_agents < 0.3
    a = deg[:20]
    before = w.reliability_at(a, 0.0)
    after = w.reliability_at(a, 1e6)
    assert np.array_equal(before, w.reliability[a])
    assert (after <= np.minimum(before, 0.5) + 1e-12).all()
    mid = w.onset[a] + w.config.degrade_ramp_s / 2
    half = np.array([w.reliability_at(np.array([x]), t)[0] for x, t in zip(a, mid)])
    assert half == pytest.approx((before + np.minimum(before, 0.5)) / 2)


def test_flapping_agents_lose_more_heartbeats_and_domains_fail_at_spread_rates():
    w = _world("flapping_heartbeats")
    loss = w.heartbeat_loss(np.arange(w.n_agents))
    assert set(np.unique(loss)) == {0.05, 0.4} and 0.1 < (loss == 0.4).mean() < 0.3
    c = build_world(family_config("correlated_outages", 1, agents=2000, duration_s=3000.0))
    per_domain = np.bincount(c.domain_failures[:, 1].astype(int), minlength=c.domain.max() + 1)
    assert per_domain.var() > 2 * per_domain.mean()     # over-dispersed: rates differ


def test_heterogeneous_fitness_tracks_speed_and_reliabilities_spread():
    w = _world("heterogeneous")
    fit = np.array([s.fitness for s in w.specs])
    assert np.corrcoef(fit, w.speed)[0, 1] < -0.5
    assert len(np.unique(w.reliability)) > 100
