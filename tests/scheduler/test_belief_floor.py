"""The quantum strategy's dispatch floor read from the belief: an agent is given a task only
when its expected success ``q`` reaches ``(s0 + s1) / 2``, halfway between an unreliable and a
reliable agent (docs/model.md, "Placement")."""

from __future__ import annotations

import numpy as np
import pytest
from uqo.control.scheduler.quantum import expected
from uqo.control.scheduler.view import View

from .conftest import agent, make_scheduler, task


@pytest.mark.parametrize("mode", ["exact", "sample"])
def test_agent_more_likely_unreliable_waits_one_reliable_is_placed(mode):
    s = make_scheduler(8, strategy="quantum", quantum_mode=mode)
    s.add_agents([agent(0), agent(1)])
    s.heartbeats(["a0", "a1"], 0.0)
    s.report_outcome("a0", False, 1.0)          # answered and failed: r falls to ~0.04
    s.report_outcome("a1", True, 1.0)
    s.tick(1.0)
    s.refresh_beliefs()
    prm = s.register.params
    mid = 0.5 * (prm.success_unreliable + prm.success_reliable)
    view = View(s.table, s.link, s.mi_threshold, s.latency, s.books, s.register.now, s.hold_s())
    q = expected(view, np.array([s.table.slot("a0"), s.table.slot("a1")]))
    assert 0.5 < q[0] < mid < q[1]               # the old fixed floor (0.5) would place a0
    d = s.decide([task("t0"), task("t1")], now=1.0)
    assert [a.agent_ids for a in d.assignments] == [("a1",)]
