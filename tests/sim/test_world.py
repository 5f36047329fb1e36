import numpy as np
from uqo.control.sim.config import SimConfig
from uqo.control.sim.world import build_world, crn


def test_same_seed_same_world_and_different_seed_differs():
    a, b = build_world(SimConfig(agents=200, duration_s=20)), \
        build_world(SimConfig(agents=200, duration_s=20))
    c = build_world(SimConfig(agents=200, duration_s=20, seed=1))
    assert a.tasks == b.tasks and np.array_equal(a.agent_failures, b.agent_failures)
    assert a.specs == b.specs and a.tasks != c.tasks


def test_every_task_has_enough_eligible_agents_and_domains_have_the_right_size():
    w = build_world(SimConfig(agents=300, duration_s=20, domain_size=3))
    for t in w.tasks[:200]:
        n = sum(t.capabilities <= s.capabilities and s.clearance >= t.classification
                and t.compartments <= s.compartments for s in w.specs)
        assert n >= t.required_agents
    sizes = np.bincount(w.domain[w.domain >= 0])
    assert (sizes == 3).all()


def test_bursty_arrivals_keep_the_rate_but_clump():
    cfg = {"agents": 100, "duration_s": 2000, "rate": 5.0}
    p = build_world(SimConfig(**cfg)).tasks
    b = build_world(SimConfig(arrivals="bursty", **cfg)).tasks
    counts = lambda ts: np.bincount([int(t.submitted_at // 10) for t in ts],
                                    minlength=200)
    assert abs(len(b) / len(p) - 1) < 0.35
    assert counts(b).var() > 3 * counts(p).var()


def test_common_random_numbers_depend_only_on_their_key():
    u = crn(7, 3, np.arange(1000), 0)
    assert np.array_equal(u, crn(7, 3, np.arange(1000), 0))
    assert np.array_equal(u[[5, 9]], crn(7, 3, np.array([5, 9]), 0))
    assert not np.array_equal(u, crn(7, 4, np.arange(1000), 0))
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.03
