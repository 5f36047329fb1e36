"""An agent's live-miss rate (``emissions.LiveMisses``): timeouts of an agent that is heard
again count against its punctuality, timeouts explained by an outage do not."""

from __future__ import annotations

import numpy as np
import pytest
from uqo.control.scheduler.emissions import LiveMisses

from .conftest import agent, make_scheduler, task


def test_one_timeout_counts_with_its_responsibility():
    lm = LiveMisses(4, t0=0.05, prior=2.0, fleet_prior=50.0)
    a = 0.9
    lm.timed_out(0, a)
    w = a * 0.05 / (1 - a + a * 0.05)                 # E-step with the agent's own tau
    assert lm.rate(0) == pytest.approx((w + 2 * 0.05) / (w + 2))
    assert lm.rate(1) == pytest.approx(0.05)          # the fleet's prior until a tick
    lm.settle()                                       # the tick re-pools the fleet's rate
    fleet = (w + 0.05 * 50) / (w + 50)
    assert lm.rate(0) == pytest.approx((w + 2 * fleet) / (w + 2))
    assert lm.rate(1) == pytest.approx(fleet)         # untouched agent: the fleet's rate


def test_a_timeout_of_an_agent_certainly_down_teaches_nothing():
    lm = LiveMisses(2, t0=0.05)
    lm.timed_out(0, 0.0)
    assert lm.rate(0) == pytest.approx(0.05)


def test_declared_failed_takes_back_pending_timeouts_heartbeat_keeps_them():
    lm = LiveMisses(2, t0=0.05)
    for s in (0, 1):
        lm.answered(s)
        lm.timed_out(s, 0.99)
    lm.retract(0)                                     # silent until declared failed: outage
    lm.confirm([1])                                   # heard again: it was slow
    lm.retract(1)                                     # a later failure does not undo it
    assert lm.m[0] == pytest.approx(0.0) and lm.n[0] == pytest.approx(1.0)
    assert lm.rate(1) > 2 * lm.rate(0)


def test_an_agent_that_keeps_timing_out_while_heartbeating_stops_taking_tasks():
    s = make_scheduler(8, strategy="quantum", quantum_mode="exact")
    s.add_agents([agent(0), agent(1)])
    now = 0.0
    for j in range(3):
        s.heartbeats(["a0", "a1"], now)
        s.refresh_beliefs()
        s.report_outcome("a0", False, 30.0, timed_out=True)   # slow: misses the deadline
        s.report_outcome("a1", True, 5.0)
        now += 1.0
        s.tick(1.0)
    s.heartbeats(["a0", "a1"], now)                 # both heard: a0 is up, just slow
    s.refresh_beliefs()
    slots = np.array([s.table.slot("a0"), s.table.slot("a1")])
    assert s.link.readiness(slots)[0] > 0.99
    punctual = s.link.punctual(slots)
    assert punctual[0] < 0.6 and punctual[1] > 0.95
    d = s.decide([task("t0"), task("t1")], now=now)
    assert [a.agent_ids for a in d.assignments] == [("a1",)]
