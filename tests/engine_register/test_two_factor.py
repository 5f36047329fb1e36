"""The two-factor belief in the register: outcomes, timeouts, silence, hazard and the pair's
correlation, against closed forms; and the register equals the tuner's differentiable replay
of the same observations (so parameters fitted by ``uqo tune`` mean what they say)."""

import math

import numpy as np
import pytest
from uqo.engine import tuning
from uqo.engine.register import AgentRegister
from uqo.engine.tick import TickParams

QUIET = {"lambda0": 0.0, "lambda1": 0.0, "kappa": 0.0, "corr_rate": 0.0, "deadline": 1e9}


def _reg(n=8, **kw):
    return AgentRegister(n, backend="numpy", dtype="complex128", params=TickParams(**kw))


def test_a_success_proves_the_agent_up_and_is_bayes_evidence_of_reliability():
    reg = _reg(**QUIET)
    a = reg.add_singles(1)
    p0, s0, s1 = 0.9, 0.5, 0.98
    reg.observe_outcome(a, "success")
    assert reg.readiness()[a[0]] == pytest.approx(1.0)
    assert reg.reliability()[a[0]] == pytest.approx(p0 * s1 / (p0 * s1 + (1 - p0) * s0))
    reg.observe_outcome(a, ["failure"])
    r = p0 * s1 / (p0 * s1 + (1 - p0) * s0)
    assert reg.reliability()[a[0]] == pytest.approx(
        r * (1 - s1) / (r * (1 - s1) + (1 - r) * (1 - s0)))
    assert reg.success_probability()[a[0]] == pytest.approx(
        reg.readiness()[a[0]] * (s0 + (s1 - s0) * reg.reliability()[a[0]]))
    with pytest.raises(ValueError, match="'lost'"):
        reg.observe_outcome(a, "lost")


def test_a_timeout_is_evidence_of_being_down_never_of_being_unreliable():
    reg = _reg(**QUIET)
    a, b = reg.add_pairs(1)
    before = reg.reliability()[a]
    reg.observe_outcome([a], "timeout")
    t = 0.05
    assert reg.readiness()[a] == pytest.approx(0.5 * t / (0.5 + 0.5 * t))
    assert reg.reliability()[a] == before
    assert reg.readiness()[b] == pytest.approx(0.5)    # product state: the partner is untouched


def test_silence_past_a_missed_heartbeat_lowers_a_correlated_partner_first():
    """Pair (a, b) fails together (correlated), pair (c, d) has the same marginals as a product.
    a and c miss a heartbeat at tau = 6 > 5 + 0.5; b and d were heard later and have not. The
    silence is a measurement of a's site: through the joint state it lowers b, not d."""
    reg = _reg(heartbeat_period=5.0, **QUIET)
    a, b = reg.add_pairs(1)
    c, d = reg.add_pairs(1)
    joint = np.diag([0.1, 0.02, 0.02, 0.86])            # |00>, |01>, |10>, |11>
    reg.set_cell_state(a, joint)
    reg.set_cell_state(c, np.kron(np.diag([0.12, 0.88]), np.diag([0.12, 0.88])))
    reg.last_seen[[b, d]] = 3.0                          # heard at t = 3, no measurement
    for _ in range(5):
        reg.tick(1.0)
    assert reg.readiness()[[a, b, c, d]] == pytest.approx([0.88] * 4, abs=1e-6)
    reg.tick(1.0)                                        # now = 6: a and c missed one
    loss = 0.05
    up_a = 0.88 * loss / (0.12 + 0.88 * loss)
    up_b = (0.02 + 0.86 * loss) / (0.12 + 0.88 * loss)   # P(b up | silence of a)
    assert reg.readiness()[[a, c]] == pytest.approx([up_a, up_a], abs=1e-6)
    assert reg.readiness()[b] == pytest.approx(up_b, abs=1e-6) and up_b < 0.4
    assert reg.readiness()[d] == pytest.approx(0.88, abs=1e-6)


def test_heartbeat_loss_is_counted_and_a_hazard_decays_liveness():
    reg = _reg(heartbeat_period=5.0, hazard=0.01, **QUIET)
    a = reg.add_singles(2)
    for t in range(0, 60, 5):                            # a[0] every period, a[1] every other
        reg.heartbeat([a[0]] + ([a[1]] if t % 10 == 0 else []), now=float(t))
    prior = (0.05 * 20) / 20
    loss = reg.heartbeat_loss()
    assert loss[a[0]] == pytest.approx((0 + 1.0) / (0 + 11 + 20))
    assert loss[a[1]] == pytest.approx((5 + 1.0) / (5 + 5 + 20)) and prior == 0.05
    reg2 = _reg(hazard=0.01, **QUIET)
    s = reg2.add_singles(1)
    reg2.set_cell_state(int(s[0]), np.diag([0.0, 1.0]))
    reg2.tick(10.0)
    assert reg2.readiness()[s[0]] == pytest.approx(math.exp(-0.1))


def _random_trace(rng, n=12, ticks=40):
    rows = []
    for t in range(ticks):
        for a in range(n):
            if (t + 2 * a) % 5 == 0 and rng.random() > 0.1:
                rows.append((t, a, tuning.HEARTBEAT))
            u = rng.random()
            if u < 0.15:
                rows.append((t, a, tuning.SUCCESS))
            elif u < 0.2:
                rows.append((t, a, tuning.FAILURE))
            elif u < 0.23:
                rows.append((t, a, tuning.TIMEOUT))
    return np.array(rows)


def test_the_register_equals_the_tuners_replay_of_the_same_observations():
    rng = np.random.default_rng(0)
    n, ticks = 12, 40
    events = _random_trace(rng, n, ticks)
    params = TickParams(lambda0=0.02, lambda1=0.003, kappa=0.0, deadline=1e9, hazard=0.004,
                        corr_rate=0.01, heartbeat_period=5.0, heartbeat_loss=0.1,
                        timeout_alive=0.08, success_reliable=0.97, success_unreliable=0.55,
                        reliable_prior=0.8, reliability_drift=0.01, drift_target=0.4)
    reg = AgentRegister(n, backend="numpy", dtype="complex128", params=params)
    pairs = reg.add_pairs(4).reshape(-1, 2)
    reg.add_singles(4)
    names = {tuning.SUCCESS: "success", tuning.FAILURE: "failure", tuning.TIMEOUT: "timeout"}
    for t in range(ticks):
        ev = events[events[:, 0] == t]
        beats = ev[ev[:, 2] == tuning.HEARTBEAT, 1]
        if len(beats):
            reg.heartbeat(beats)
        out = ev[ev[:, 2] >= tuning.SUCCESS]
        if len(out):
            reg.observe_outcome(out[:, 1], [names[k] for k in out[:, 2].tolist()])
        reg.tick(1.0)
    data = tuning.replay_data(n, ticks, 1.0, 5.0, pairs, events)
    live, rel = tuning.replay_beliefs(params, data)
    np.testing.assert_allclose(reg.readiness(), live, atol=1e-6)
    np.testing.assert_allclose(reg.reliability(), rel, atol=1e-6)
