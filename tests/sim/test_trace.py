"""Recorded traces: every observation the scheduler got, in order, and a faithful round trip."""

import numpy as np
import pytest
from uqo.control.sim.compare import make_scheduler
from uqo.control.sim.config import SimConfig
from uqo.control.sim.runner import Simulation
from uqo.control.sim.trace import Trace
from uqo.control.sim.world import build_world


def test_a_recorded_run_holds_each_observation_and_survives_a_round_trip(tmp_path):
    w = build_world(SimConfig(agents=150, duration_s=40, rate=5.0, probe_rate=2.0,
                              domain_mtbf_s=100.0))
    sim = Simulation(w, make_scheduler("quantum", w.config, 0.1), record=True)
    sim.run()
    tr = sim.recorder.trace()
    c = sim.sched.stats()["counts"]
    n = tr.counts()
    assert n["success"] + n["failure"] + n["timeout"] == \
        c["outcomes_ok"] + c["outcomes_failed"] + c.get("outcomes_timed_out", 0)
    assert n["down"] == c["failures"] and n["heartbeat"] > 0
    assert tr.n_ticks == 40 and (np.diff(tr.events[:, 0]) >= 0).all()
    partner = sim.sched.link.partner
    for a, b in tr.pairs.tolist():
        assert partner[sim.slot[a]] == sim.slot[b]
    path = sim.recorder.save(tmp_path / "t.npz")
    back = Trace.load(path)
    assert np.array_equal(back.events, tr.events) and np.array_equal(back.pairs, tr.pairs)
    assert (back.n_agents, back.dt, back.heartbeat_s) == (150, 1.0, 5.0)
    (tmp_path / "bad.npz").write_bytes(b"not a trace")
    with pytest.raises(ValueError, match="bad.npz"):
        Trace.load(tmp_path / "bad.npz")
