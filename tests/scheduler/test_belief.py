"""Failure-domain pairing in the engine register, and events reaching it."""

import numpy as np
import pytest
from uqo.control.scheduler.belief import reduced

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
    s.agent_failed("a0")
    r = ready()
    t = s.register.params.timeout_alive      # declared after silence: "no answer", (1, t)
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
