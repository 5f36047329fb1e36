"""The public API: placement, gang, priority and aging, rejection, determinism, bad input."""

import numpy as np
import pytest
from uqo.control.scheduler import Scheduler

from .conftest import agent, make_scheduler, set_readiness, task


def _sched(strategy, capacity=32, **kw):
    name, mode = strategy
    return make_scheduler(capacity, strategy=name, quantum_mode=mode, **kw)


def test_a_feasible_batch_is_placed_within_capacity_and_released(strategy):
    s = _sched(strategy)
    s.add_agents([agent(i, ("cpu", "gpu") if i % 2 else ("cpu",), i % 4, capacity=1 + i % 3)
                  for i in range(24)])
    tasks = [task(f"t{j}", 1 + j % 3, ("gpu",) if j % 2 else ("cpu",), j % 2)
             for j in range(10)]
    d = s.decide(tasks, now=0.0)
    assert len(d.assignments) == 10 and not d.pending and not d.rejected
    for a in d.assignments:
        t = next(x for x in tasks if x.task_id == a.task_id)
        assert len(set(a.agent_ids)) == t.required_agents
        for name in a.agent_ids:
            i = int(name[1:])
            assert t.capabilities <= ({"cpu", "gpu"} if i % 2 else {"cpu"})
            assert i % 4 >= t.classification
    assert (s.table.load <= s.table.cap).all()
    for a in d.assignments:
        s.release(a.task_id)
    assert s.table.load.sum() == 0


def test_gang_is_all_or_nothing(strategy):
    s = _sched(strategy)
    s.add_agents([agent(i) for i in range(3)])
    d = s.decide([task("big", 3), task("small", 1, priority=0)], now=0.0)
    placed = {a.task_id for a in d.assignments}
    assert placed == {"big"} and d.pending == ["small"]
    assert s.table.load.sum() == 3
    s.release("big")
    d = s.decide([task("small", 1), task("huge", 2)], now=1.0)
    assert {a.task_id for a in d.assignments} == {"small", "huge"}


def test_higher_priority_wins_and_aging_prevents_starvation(strategy):
    s = _sched(strategy, aging_s=10.0)
    s.add_agent(agent(0))
    d = s.decide([task("low", priority=1, at=0.0), task("high", priority=3, at=0.0)], 0.0)
    assert [a.task_id for a in d.assignments] == ["high"] and d.pending == ["low"]
    s.release("high")
    d = s.decide([task("low", priority=1, at=0.0), task("new", priority=3, at=30.0)], 30.0)
    assert [a.task_id for a in d.assignments] == ["low"]


def test_rejections_carry_machine_readable_reasons():
    s = make_scheduler()
    s.add_agents([agent(0, comps=("x",)), agent(1)])
    d = s.decide([task("many", 3), task("tpu", 1, ("tpu",)), task("comp", 1, comps=("y",)),
                  task("secret", 1, level=2)], now=0.0)
    assert d.rejected["many"].startswith("insufficient_eligible_agents")
    assert "requires 3, 2 eligible" in d.rejected["many"]
    assert d.rejected["tpu"].startswith("unknown_capability")
    assert d.rejected["comp"].startswith("unknown_compartment")
    assert d.rejected["secret"].startswith("insufficient_eligible_agents")
    assert not d.assignments and s.table.load.sum() == 0


def test_decisions_are_deterministic_given_seed_and_calls(strategy):
    def run(seed):
        s = _sched(strategy, 64, seed=seed)
        s.add_agents([agent(i, capacity=2) for i in range(40)])
        out = []
        for b in range(3):
            d = s.decide([task(f"b{b}t{j}", 1 + j % 4) for j in range(8)], now=float(b))
            out.append([(a.task_id, a.agent_ids) for a in d.assignments])
        return out

    assert run(1) == run(1)
    if strategy == ("quantum", "sample"):
        assert run(1) != run(2)


@pytest.mark.parametrize("bad, needle", [
    (lambda: [task("t"), task("t")], "appears twice"),
    (lambda: ["not a task"], "TaskSpec"),
])
def test_bad_batches_raise_and_change_nothing(bad, needle):
    s = make_scheduler()
    s.add_agents([agent(0), agent(1)])
    with pytest.raises(ValueError, match=needle):
        s.decide(bad(), now=0.0)
    with pytest.raises(ValueError, match="now must be a finite number"):
        s.decide([task("t")], now=float("nan"))
    assert s.table.load.sum() == 0 and s.stats()["counts"].get("decisions", 0) == 0


def test_a_held_task_id_cannot_be_decided_again_and_release_is_checked():
    s = make_scheduler()
    s.add_agents([agent(0), agent(1)])
    s.decide([task("t")], now=0.0)
    with pytest.raises(ValueError, match="already holds agents"):
        s.decide([task("t")], now=1.0)
    s.release("t")
    with pytest.raises(ValueError, match="holds no agents"):
        s.release("t")


def test_release_after_the_agent_left_does_not_touch_a_newcomer_in_its_slot():
    s = make_scheduler(4)
    s.add_agents([agent(0), agent(1)])
    d = s.decide([task("t", 2)], now=0.0)
    assert len(d.assignments) == 1
    s.remove_agent("a0")
    s.table.compact()
    s.add_agent(agent(7))
    s.release("t")
    assert s.table.load[s.table.slot("a7")] == 0 and s.table.load.sum() == 0


def test_hold_replays_an_assignment():
    s = make_scheduler()
    s.add_agents([agent(0), agent(1), agent(2)])
    s.hold("t", ("a0", "a2"))
    assert s.held("t") == ("a0", "a2")
    d = s.decide([task("u", 2)], now=0.0)
    assert d.pending == ["u"]
    with pytest.raises(ValueError, match="unknown agent_id 'zz'"):
        s.hold("v", ("zz",))


def test_down_agents_are_skipped_until_they_heartbeat(strategy):
    s = _sched(strategy)
    s.add_agents([agent(0), agent(1)])
    s.agent_failed("a0")
    d = s.decide([task("t1")], now=0.0)
    assert d.assignments[0].agent_ids == ("a1",)
    s.tick(1.0)            # after a projective |0> only decoherence makes room for doubt
    s.heartbeat("a0", 1.0)
    d = s.decide([task("t2")], now=1.0)
    assert d.assignments[0].agent_ids == ("a0",)


def test_quantum_prefers_ready_agents():
    exact = make_scheduler(8, quantum_mode="exact")
    sample = make_scheduler(8, seed=5)
    for s in (exact, sample):
        s.add_agents([agent(i, capacity=1000) for i in range(4)])
        for i, p in enumerate([0.95, 0.05, 0.05, 0.05]):
            set_readiness(s, f"a{i}", p)
    d = exact.decide([task(f"t{j}") for j in range(5)], now=0.0)
    assert {a.agent_ids for a in d.assignments} == {("a0",)}
    d = sample.decide([task(f"t{j}") for j in range(200)], now=0.0)
    first = sum(a.agent_ids == ("a0",) for a in d.assignments)
    assert first > 150   # expected share 0.95 / 1.10 = 86 %, i.e. ~173 of 200


def test_a_correlated_pair_never_shares_a_task(strategy):
    s = _sched(strategy, 8)
    s.add_agents([agent(0, domain="r"), agent(1, domain="r"), agent(2)])
    rho = np.zeros((4, 4))
    rho[3, 3], rho[0, 0] = 0.9, 0.1                # MI = h(0.1) = 0.33 nats > 0.1; each
                                                   # member above the belief's floor
    s.register.set_cell_state(int(s.link.eng[0]), rho)
    s.refresh_beliefs()
    for j in range(5):
        d = s.decide([task(f"t{j}", 2)], now=float(j))
        (a,) = d.assignments
        assert "a2" in a.agent_ids
        s.release(a.task_id)


def test_per_task_strategy_and_stats():
    s = make_scheduler(strategy="quantum")
    s.add_agents([agent(i) for i in range(6)])
    s.decide([task("a", strategy="round_robin"), task("b", strategy="least_connections"),
              task("c")], now=0.0)
    st = s.stats()
    assert set(st["decision_latency"]) == {"round_robin", "least_connections", "quantum"}
    assert st["agents"] == 6 and st["tasks_held"] == 3 and st["load"] == 3
    assert st["counts"]["assigned"] == 3 and st["shards"]["count"] == 16


@pytest.mark.parametrize("kwargs, needle", [
    ({"strategy": "fifo"}, "strategy"), ({"quantum_mode": "fast"}, "quantum_mode"),
    ({"capacity": 0}, "capacity"), ({"seed": -1}, "seed"), ({"aging_s": 0}, "aging_s"),
    ({"mi_threshold": -1}, "mi_threshold"), ({"reward_failure": -2}, "reward_failure"),
])
def test_constructor_rejects_bad_settings(kwargs, needle):
    from uqo.engine.register import AgentRegister

    with pytest.raises(ValueError, match=needle):
        Scheduler(**{"capacity": 4, "register": AgentRegister(4, backend="numpy"), **kwargs})
