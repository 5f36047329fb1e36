"""StateMachine: the task lifecycle, refusals that change nothing, determinism, snapshots."""

import copy

import pytest
from uqo.control.errors import ControlError
from uqo.control.state.commands import (
    AgentInfo,
    Assign,
    Cancel,
    Complete,
    DeregisterAgent,
    Fail,
    RegisterAgent,
    SubmitTasks,
    TaskInfo,
    TimeOut,
)
from uqo.control.state.machine import StateMachine


def _machine():
    sm, n = StateMachine(), iter(range(1, 10_000))
    def apply(cmd):
        return sm.apply(next(n), 1, cmd)
    return sm, apply


def _fleet(apply, *ids):
    for a in ids:
        apply(RegisterAgent(at=1.0, agent=AgentInfo(a, ("gpu",))))


def test_gang_task_completes_when_every_agent_succeeds():
    sm, apply = _machine()
    _fleet(apply, "a1", "a2")
    apply(SubmitTasks(at=2.0, tasks=(TaskInfo("t1", required_agents=2),)))
    placed = apply(Assign(at=3.0, placements=(("t1", ("a1", "a2")),)))
    assert placed.placed == [("t1", ("a1", "a2"))] and not placed.skipped
    assert sm.agents["a1"].tasks == ("t1",) and "t1" not in sm.pending
    apply(Complete(at=4.0, task_id="t1", agent_id="a1", result="half"))
    assert sm.tasks["t1"].state == "assigned" and sm.agents["a1"].tasks == ()
    apply(Complete(at=5.0, task_id="t1", agent_id="a2"))
    task = sm.tasks["t1"]
    assert (task.state, task.finished_at, task.result) == ("completed", 5.0, "half")
    assert sm.counts["completed"] == 1 and sm.counts["assigned"] == 0


def test_first_failure_fails_the_gang_and_frees_every_agent():
    sm, apply = _machine()
    _fleet(apply, "a1", "a2")
    apply(SubmitTasks(at=2.0, tasks=(TaskInfo("t1", required_agents=2),)))
    apply(Assign(at=3.0, placements=(("t1", ("a1", "a2")),)))
    apply(Fail(at=4.0, task_id="t1", agent_id="a2", reason="oom"))
    assert sm.tasks["t1"].state == "failed" and sm.tasks["t1"].reason == "oom"
    assert sm.agents["a1"].tasks == () == sm.agents["a2"].tasks


@pytest.mark.parametrize("cmd, code", [
    (SubmitTasks(at=1.0, tasks=(TaskInfo("new"), TaskInfo("t1"))), "task_exists"),
    (SubmitTasks(at=1.0, tasks=(TaskInfo("x"), TaskInfo("x"))), "task_exists"),
    (RegisterAgent(at=1.0, agent=AgentInfo("a1")), "agent_exists"),
    (DeregisterAgent(at=1.0, agent_id="ghost"), "agent_not_found"),
    (Complete(at=1.0, task_id="t1", agent_id="a1"), "invalid_transition"),
    (Complete(at=1.0, task_id="nope", agent_id="a1"), "task_not_found"),
    (Cancel(at=1.0, task_id="done"), "invalid_transition"),
])
def test_refused_commands_change_nothing(cmd, code):
    sm, apply = _machine()
    _fleet(apply, "a1")
    apply(SubmitTasks(at=1.0, tasks=(TaskInfo("t1"), TaskInfo("done"))))
    apply(Cancel(at=1.0, task_id="done"))
    before = sm.snapshot()
    with pytest.raises(ControlError) as err:
        apply(cmd)
    assert err.value.code == code
    assert _state(StateMachine.restore(sm.snapshot())) == _state(StateMachine.restore(before))


def _state(sm):
    return (sm.agents, sm.tasks, list(sm.pending), dict(+sm.counts))


def test_assign_skips_stale_placements_and_records_rejections():
    sm, apply = _machine()
    _fleet(apply, "a1")
    apply(SubmitTasks(at=1.0, tasks=(TaskInfo("t1"), TaskInfo("t2"), TaskInfo("t3"))))
    apply(Cancel(at=2.0, task_id="t2"))
    out = apply(Assign(at=3.0, placements=(("t1", ("a1",)), ("t2", ("a1",)),
                                           ("t3", ("gone",))),
                       rejected=(("t3", "insufficient_eligible_agents: 0 < 5"),)))
    assert out.placed == [("t1", ("a1",))] and out.skipped == ["t2", "t3"]
    assert sm.tasks["t3"].state == "rejected"
    assert sm.tasks["t3"].reason.startswith("insufficient_eligible_agents")


def test_deregistering_an_agent_requeues_its_tasks():
    sm, apply = _machine()
    _fleet(apply, "a1", "a2")
    apply(SubmitTasks(at=1.0, tasks=(TaskInfo("t1", required_agents=2),)))
    apply(Assign(at=2.0, placements=(("t1", ("a1", "a2")),)))
    assert apply(DeregisterAgent(at=3.0, agent_id="a1")) == ["t1"]
    task = sm.tasks["t1"]
    assert (task.state, task.agents, task.attempts) == ("pending", (), 1)
    assert "t1" in sm.pending and sm.agents["a2"].tasks == ()


def test_timeout_ends_only_unfinished_tasks():
    sm, apply = _machine()
    apply(SubmitTasks(at=1.0, tasks=(TaskInfo("t1", timeout_s=1.0), TaskInfo("t2"))))
    apply(Cancel(at=1.5, task_id="t2"))
    out = apply(TimeOut(at=2.0, task_ids=("t1", "t2", "unknown")))
    assert [t.info.task_id for t in out] == ["t1"]
    assert sm.tasks["t1"].state == "timed_out" and sm.tasks["t2"].state == "cancelled"


def test_replay_is_deterministic_and_snapshot_round_trips():
    log = [RegisterAgent(at=1.0, agent=AgentInfo(f"a{i}", ("x",), clearance=i % 4))
           for i in range(5)]
    log += [SubmitTasks(at=2.0, tasks=tuple(TaskInfo(f"t{i}", priority=i % 3)
                                            for i in range(20)))]
    log += [Assign(at=3.0, placements=tuple((f"t{i}", (f"a{i % 5}",)) for i in range(10)))]
    log += [Complete(at=4.0, task_id=f"t{i}", agent_id=f"a{i % 5}") for i in range(5)]
    log += [Cancel(at=5.0, task_id="t15"), DeregisterAgent(at=6.0, agent_id="a4")]
    one, two = StateMachine(), StateMachine()
    for i, cmd in enumerate(log, 1):
        one.apply(i, 1, cmd)
        two.apply(i, 1, copy.deepcopy(cmd))
    assert one.snapshot() == two.snapshot()
    back = StateMachine.restore(one.snapshot())
    assert _state(back) == _state(one) and back.applied_index == len(log)
    back.apply(len(log) + 1, 2, SubmitTasks(at=7.0, tasks=(TaskInfo("late"),)))
    assert back.tasks["late"].seq > max(t.seq for t in one.tasks.values())


def test_retention_drops_oldest_finished_tasks():
    sm = StateMachine(retain_terminal=2)
    sm.apply(1, 1, SubmitTasks(at=1.0, tasks=tuple(TaskInfo(f"t{i}") for i in range(4))))
    for i in range(4):
        sm.apply(2 + i, 1, Cancel(at=2.0, task_id=f"t{i}"))
    assert sorted(sm.tasks) == ["t2", "t3"] and sm.counts["cancelled"] == 2


def test_indexes_must_increase():
    sm = StateMachine()
    sm.apply(5, 1, SubmitTasks(at=1.0, tasks=(TaskInfo("t"),)))
    with pytest.raises(ValueError, match="already applied"):
        sm.apply(5, 1, Cancel(at=1.0, task_id="t"))
    with pytest.raises(ValueError, match="retain_terminal"):
        StateMachine(retain_terminal=-1)
