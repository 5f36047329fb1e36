"""Failure-domain pairing in the engine register, and events reaching it."""

import dataclasses

import numpy as np
import pytest
from uqo.control.scheduler import Scheduler
from uqo.control.scheduler.belief import reduced
from uqo.engine.params import belief_defaults
from uqo.engine.register import AgentRegister

from .conftest import agent, make_scheduler


def test_domain_members_are_paired_two_by_two_and_odd_ones_wait():
    s = make_scheduler(16)
    s.add_agents([agent(0, domain="r1"), agent(1, domain="r1"), agent(2, domain="r1"),
                  agent(3)])
    p = s.link.partner
    slot = s.table.slot
    assert p[slot("a0")] == slot("a1") and p[slot("a1")] == slot("a0")
    assert p[slot("a2")] == -1 and p[slot("a3")] == -1
    s.add_agent(agent(4, domain="r1"))
    assert p[slot("a2")] == slot("a4")


def test_a_waiting_agent_keeps_its_belief_when_paired():
    s = make_scheduler(16)
    s.add_agent(agent(0, domain="r1"))
    eng = int(s.link.eng[0])
    s.register.set_cell_state(eng, np.diag([0.2, 0.8]))
    s.add_agent(agent(1, domain="r1"))
    state = s.register.cell_state(int(s.link.eng[0]))
    assert state.shape == (4, 4)
    assert np.allclose(reduced(state, int(s.link.site[0])), np.diag([0.2, 0.8]), atol=1e-6)
    e = s.register.params.heartbeat_error       # the newcomer registered: one heartbeat
    assert np.allclose(reduced(state, int(s.link.site[1])), np.diag([e, 1 - e]), atol=1e-6)


def test_removing_one_member_leaves_the_partner_alone_with_its_state():
    s = make_scheduler(16)
    s.add_agents([agent(0, domain="r1"), agent(1, domain="r1")])
    rho = np.zeros((4, 4))
    rho[3, 3], rho[0, 0] = 0.7, 0.3           # correlated: both ready or both not
    s.register.set_cell_state(int(s.link.eng[0]), rho)
    s.remove_agent("a0")
    b = s.table.slot("a1")
    assert s.link.partner[b] == -1
    assert np.allclose(s.register.cell_state(int(s.link.eng[b])), np.diag([0.3, 0.7]),
                       atol=1e-6)
    s.add_agent(agent(2, domain="r1"))
    assert s.link.partner[b] == s.table.slot("a2")


def test_heartbeat_raises_readiness_and_failure_lowers_a_correlated_partner():
    s = make_scheduler(16)
    s.add_agents([agent(0, domain="r1"), agent(1, domain="r1")])
    ready = lambda: s.register.readiness()[s.link.eng[:2]]
    s.heartbeat("a0", 1.0)
    assert ready()[0] > 0.9
    rho = np.zeros((4, 4))
    rho[3, 3], rho[0, 0] = 0.8, 0.2
    s.register.set_cell_state(int(s.link.eng[0]), rho)
    s.agent_failed("a0")                     # reported with no silence measured (heard at
    r = ready()                              # 1.0, the register at 0): new evidence
    t = s.register.params.timeout_alive      # "no answer", (1, t), on the joint state
    assert r[0] == pytest.approx(0.8 * t / (0.8 * t + 0.2), abs=1e-5)
    assert r[1] == pytest.approx(r[0], abs=1e-5)    # |00> or |11>: the partner follows
    assert not s.table.up[0] and s.table.up[1]


def test_outcomes_measure_both_factors_and_a_timeout_only_liveness():
    s = make_scheduler(8)
    s.add_agents([agent(0), agent(1), agent(2)])
    eng = s.link.eng[:3]
    rel0 = s.register.reliability()[eng]
    up = float(s.register.readiness()[eng[2]])
    s.report_outcome("a0", True, 0.1)
    s.report_outcome("a1", False, 0.1)
    s.report_outcome("a2", False, 5.0, timed_out=True)
    live, rel = s.register.readiness()[eng], s.register.reliability()[eng]
    assert live[0] == pytest.approx(1.0) and live[1] == pytest.approx(1.0)   # they answered
    t = s.register.params.timeout_alive                                      # it did not:
    assert live[2] == pytest.approx(up * t / (1 - up + up * t), abs=1e-6)    # weak evidence
    assert rel[0] > rel0[0] and rel[1] < rel0[1] - 0.3 and rel[2] == rel0[2]


def _still_scheduler(loss: float = 0.4):
    """A scheduler whose register has no channels on liveness (no staleness, hazard, joint or
    damping) and a fixed heartbeat loss ``loss``: liveness moves only by measurements, so
    its value has a closed form."""
    prm = dataclasses.replace(belief_defaults(), lambda0=0.0, lambda1=0.0, hazard=0.0, mu=0.0,
                              corr_rate=0.0, heartbeat_loss=loss, loss_strength=1e9)
    reg = AgentRegister(capacity=8, backend="numpy", seed=0, params=prm)
    return Scheduler(capacity=8, register=reg)


def test_a_declaration_after_measured_silence_is_not_counted_twice():
    """A flapping agent (40 % of heartbeats lost) silent 16 s: the register measured three
    missed heartbeats, ``(1, l^3)``; the heartbeat timeout declared after that silence adds
    nothing, so liveness stays at the single-count closed form."""
    s = _still_scheduler(loss=0.4)
    s.add_agents([agent(0)])
    eng = int(s.link.eng[0])
    s.heartbeat("a0", 0.0)
    a0 = 0.9
    s.register.set_cell_state(eng, np.diag([1 - a0, a0]))
    for _ in range(16):
        s.register.tick(1.0)
    assert s.link.silence_measured(0)
    single = a0 * 0.4 ** 3 / (a0 * 0.4 ** 3 + 1 - a0)
    assert float(s.register.readiness()[eng]) == pytest.approx(single, abs=1e-6)
    s.agent_failed("a0")
    t = s.register.params.timeout_alive
    double = a0 * 0.4 ** 3 * t / (a0 * 0.4 ** 3 * t + 1 - a0)
    live = float(s.register.readiness()[eng])
    assert live == pytest.approx(single, abs=1e-6)
    assert abs(live - double) > 0.05
    assert not s.table.up[0]


def test_measured_silence_lowers_the_partner_once_and_a_silent_free_report_again():
    """On a correlated pair the silence measurement is what lowers the partner (the
    declaration after it changes neither); a failure reported while the agent was just heard
    is measured and lowers the partner through the joint state."""
    s = _still_scheduler(loss=0.4)
    s.add_agents([agent(0, domain="r1"), agent(1, domain="r1")])
    eng = s.link.eng[:2]
    ready = lambda: s.register.readiness()[eng].astype(np.float64)
    rho = np.zeros((4, 4))
    rho[3, 3], rho[0, 0] = 0.8, 0.2
    s.register.set_cell_state(int(eng[0]), rho)
    for _ in range(16):                 # nobody heard: both sites' silence is measured
        s.register.tick(1.0)
    e = 0.4 ** 3 * 0.4 ** 3             # |11> keeps l^3 per site; |00> keeps 1
    up = 0.8 * e / (0.8 * e + 0.2)
    before = ready()
    assert before == pytest.approx([up, up], abs=1e-6)
    s.agent_failed("a0")
    assert ready() == pytest.approx(before, abs=1e-6)
    s.heartbeats(["a0", "a1"], 16.0)    # heard again, then reported failed with no silence
    s.register.set_cell_state(int(eng[0]), rho)
    assert not s.link.silence_measured(0)
    s.agent_failed("a0")
    t = s.register.params.timeout_alive
    assert ready() == pytest.approx([0.8 * t / (0.8 * t + 0.2)] * 2, abs=1e-5)
