import dataclasses

import numpy as np
from uqo.control.sim.compare import make_scheduler
from uqo.control.sim.config import SimConfig
from uqo.control.sim.runner import DISPATCH_TIMEOUT_S, Simulation, _outcome
from uqo.control.sim.world import build_world


def _world(**kw):
    return build_world(SimConfig(agents=120, duration_s=30, rate=4.0, **kw))


def test_outcomes_success_failure_timeout_and_dead_on_dispatch():
    w = _world()
    w = dataclasses.replace(w, speed=np.ones(w.n_agents), reliability=np.ones(w.n_agents))
    agents = np.array([0, 1])
    cause, end, ok, lat, report = _outcome(w, 0, agents, np.array([True, True]))
    if cause is None:
        assert ok.all() and report.all() and end == lat.max()
    else:
        assert cause == "timeout"
    cause, end, ok, lat, report = _outcome(w, 0, agents, np.array([True, False]))
    assert cause == "dead_on_dispatch" and end == DISPATCH_TIMEOUT_S
    assert report[1] and not ok[1]
    bad = dataclasses.replace(w, reliability=np.zeros(w.n_agents))
    cause, end, ok, lat, report = _outcome(bad, 0, agents, np.array([True, True]))
    assert cause == "agent_failed" and not ok.any() and end < w.nominal[0]


def test_every_arrival_is_accounted_for():
    w = _world()
    sim = Simulation(w, make_scheduler("quantum", w.config, 0.1))
    m = sim.run()
    c = m.counts
    done = c["succeeded"] + sum(v for k, v in c.items() if k.startswith("failed_"))
    assert c["arrived"] == done + c["expired"] + c["rejected"] + len(sim.queue) + \
        len(sim.running)
    assert c["assigned"] == done + len(sim.running)
    assert len(m.batch_s) > 0 and (m.busy >= 0).all()
    assert sim.sched.table.load.sum() == sum(len(r["agents"]) for r in sim.running.values())


def test_a_domain_failure_counts_exposed_tasks_and_fails_them():
    w = _world(domain_size=4, in_domains=1.0, domain_mtbf_s=1e9, agent_mtbf_s=1e9)
    sim = Simulation(w, make_scheduler("round_robin", w.config, 0.1))
    sim.sched.add_agents(w.specs)
    members = w.members(0)
    task = 0
    sim.sched.hold(w.tasks[task].task_id, [w.specs[a].agent_id for a in members[:2]])
    sim._start(task, members[:2], 0.0)
    sim._on_domain_down(1.0, (0, 5.0))
    assert sim.scores.exposed == 1 and task not in sim.running
    assert not sim.alive[members].any()
    assert sim.scores.counts["failed_agent_down"] == 1


def test_probes_spend_the_budget_and_a_dead_agent_does_not_answer():
    w = _world(probe_rate=2.0)
    sim = Simulation(w, make_scheduler("ewma", w.config, 0.1), probe_policy="round_robin")
    sim.slot = sim.sched.add_agents(w.specs)
    sim.alive[:] = True
    sim.alive[sim.sched.probes.cursor] = False          # the first target is down
    sim._probe(1.0)
    assert sim.scores.counts["probes"] == 2 and sim.sched.stats()["counts"]["probes"] == 2
    first = sim.slot[0]
    assert sim.sched.books.count[first] == 1 and sim.sched.books.fail[first] == 1


def test_forecasts_are_scored_on_the_run():
    w = _world()
    sim = Simulation(w, make_scheduler("quantum", w.config, 0.1))
    sim.run()
    out = sim.forecast.summary()
    assert out["outcomes"] > 0
    for m in ("quantum", "thompson", "ewma", "base_rate"):
        assert 0 <= out["models"][m]["brier"] <= 1
    assert out["load_mae"]["little"] is not None


def test_degradation_lowers_the_success_of_tasks_started_late():
    w = _world()
    w = dataclasses.replace(w, reliability=np.ones(w.n_agents), speed=np.ones(w.n_agents),
                            onset=np.zeros(w.n_agents))
    agents = np.arange(8)
    early = _outcome(w, 0, agents, np.ones(8, bool), 0.0)
    late = _outcome(w, 0, agents, np.ones(8, bool), 1e6)
    assert early[0] in (None, "timeout") and late[0] == "agent_failed"
