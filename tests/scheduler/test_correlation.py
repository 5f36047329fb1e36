"""Joint and lone failure rates (Gamma-Poisson, pooled then per pair) and what they do to the
engine: a pair that fails together gains mutual information and loses readiness."""

import numpy as np
import pytest
from uqo.control.scheduler.correlation import JointFailures

from .conftest import agent, make_scheduler


def test_joint_failures_are_counted_once_and_rates_shrink_toward_the_pool():
    j = JointFailures(8, prior_rate=0.001, window_s=10.0, prior_s=100.0, pool_prior_s=1000.0,
                      prior_hazard=1 / 3600)
    j.paired(np.array([0, 1, 2, 3]), now=0.0)
    assert not j.failed(0, 1, now=50.0) and j.lone == 1
    assert j.failed(1, 0, now=55.0) and j.lone == 0 and j.joint[0] == j.joint[1] == 1
    assert not j.failed(2, 3, now=60.0) and not j.failed(3, 2, now=90.0) and j.lone == 2
    heads = np.array([0, 2])
    pooled = (1 + 0.001 * 1000) / (2 * 100 + 1000)
    assert j.pooled_rate(heads, 100.0) == pytest.approx(pooled)
    rates = j.pair_rates(heads, 100.0)
    assert rates == pytest.approx([(1 + pooled * 100) / 200, pooled * 100 / 200])
    j.elapsed(4, 100.0)
    assert j.hazard() == pytest.approx((2 + 1) / (400 + 3600))


def test_a_pair_that_fails_together_gains_mutual_information_and_loses_readiness():
    s = make_scheduler(16)
    s.add_agents([agent(i, domain=f"d{i // 2}") for i in range(8)])
    for t in range(1, 40):
        now = float(t)
        s.heartbeats([f"a{i}" for i in range(8)], now)
        if t % 10 == 0:                       # d0 fails as a whole, d1..d3 never
            s.agent_failed("a0")
            s.agent_failed("a1")
        s.tick(1.0)
    s.refresh_beliefs()
    mi = s.register.pair_mutual_information()
    eng = s.link.eng
    assert s.stats()["counts"]["joint_failures"] == 3
    assert mi[eng[0]] > 3 * mi[eng[2]]
    reg = s.register
    assert reg.pair_rate[reg.cell[eng[0]]] > 5 * reg.pair_rate[reg.cell[eng[2]]]


def test_rate_mixture_gives_each_pair_the_mean_rate_of_pairs_with_its_record():
    """Empirical Bayes checked against the truth: on a simulated fleet of 2,000 pairs with
    log-normal rates (sigma 1.5) watched for 600 s, the posterior mean rate for a pair with
    ``k`` joint failures is the average true rate of the pairs that had ``k`` (within 30 %),
    far apart for 0 and 3; on a fleet where every pair has the same rate the posterior stays
    near it whatever the count."""
    from uqo.control.scheduler.correlation import RateMixture

    rng = np.random.default_rng(1)
    mean = 1 / 600
    for rates, spread in ((mean * rng.lognormal(-1.5 ** 2 / 2, 1.5, 2000), True),
                          (np.full(2000, mean), False)):
        counts = rng.poisson(rates * 600.0)
        mix = RateMixture()
        for _ in range(40):
            mix.fit(counts, np.full(2000, 600.0), prior_rate=mean)
        post = mix.posterior_mean(np.arange(4), np.full(4, 600.0))
        truth = np.array([rates[counts == k].mean() for k in range(4)])
        if spread:
            assert post == pytest.approx(truth, rel=0.3)
            assert post[3] > 5 * post[0]
        else:
            assert post == pytest.approx(mean, rel=0.4)


def test_a_lone_failure_heard_again_within_the_recall_is_taken_back():
    """A declaration followed by a heartbeat within ``recall_s`` was a silence: it leaves the
    hazard's count; one heard later stays; a partner's taken-back failure is not taken back a
    second time when the pair's joint failure consumes it."""
    j = JointFailures(8, prior_rate=0.001, window_s=10.0)
    j.paired(np.array([0, 1, 2, 3]), now=0.0)
    j.failed(0, 1, now=50.0)
    j.failed(2, 3, now=50.0)
    assert j.lone == 2
    assert j.heard(np.array([0, 5]), now=56.0, recall_s=10.0) == 1 and j.lone == 1
    assert j.heard(np.array([0]), now=57.0, recall_s=10.0) == 0           # nothing pending
    assert j.heard(np.array([2]), now=70.0, recall_s=10.0) == 0 and j.lone == 1   # an outage
    assert j.failed(1, 0, now=58.0)                 # 0's failure (taken back) pairs with 1's
    assert j.lone == 1 and j.joint[0] == j.joint[1] == 1
    assert j.heard(np.array([1]), now=59.0, recall_s=10.0) == 0 and j.lone == 1  # joint stays


def test_the_scheduler_takes_back_a_declared_failure_that_heartbeats_within_two_periods():
    s = make_scheduler(8)                           # heartbeat period 5 s: recall 10 s
    s.add_agents([agent(i) for i in range(3)])
    s.tick(20.0)
    s.agent_failed("a0")
    s.agent_failed("a1")
    assert s.joint.lone == 2
    s.tick(4.0)
    s.heartbeat("a0", now=s.register.now)           # back 4 s later: a silence
    assert s.joint.lone == 1
    s.tick(30.0)
    s.heartbeat("a1", now=s.register.now)           # back 34 s later: an outage, counted
    assert s.joint.lone == 1
