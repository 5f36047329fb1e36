"""LeaderCore: events in, actions out, time as a parameter (no clock, no asyncio, no I/O).

Each test drives the core with a real StateMachine and checks the Ready it returns; a last test
proves the core module imports nothing that does I/O or reads time.
"""

import ast
from pathlib import Path

from uqo.control.leader.core import LeaderCore
from uqo.control.scheduler import Assignment, Decision
from uqo.control.state import commands as c
from uqo.control.state.machine import StateMachine

STRATEGIES = ("quantum", "round_robin")


class Harness:
    """A state machine and a core, fed in log order as the leader's loop would."""

    def __init__(self, timeout_s: float = 30.0):
        self.sm = StateMachine()
        self.core = LeaderCore(STRATEGIES, heartbeat_timeout_s=timeout_s)
        self.index = 0

    def apply(self, command, mono: float = 0.0):
        self.index += 1
        result = self.sm.apply(self.index, 1, command)
        self.core.applied(command, result, mono)
        return result

    def take(self):
        ready = self.core.ready()
        self.core.advance()
        return ready


def _agent(agent_id, domain=None):
    return c.RegisterAgent(at=0.0, agent=c.AgentInfo(agent_id, ("gpu",), failure_domain=domain))


def test_registration_queues_the_agent_and_asks_for_a_full_round():
    h = Harness()
    h.apply(_agent("a1"), mono=5.0)
    ready = h.take()
    assert ready.scheduler_ops == [("add_agent", (c.AgentInfo("a1", ("gpu",)),))]
    assert ready.schedule and h.core.full_round
    assert h.core.last_seen == {"a1": 5.0}
    assert not h.core.has_ready()          # advance() cleared it


def test_assignment_wakes_the_gang_and_measures_submit_to_assigned():
    h = Harness()
    for a in ("a1", "a2"):
        h.apply(_agent(a))
    h.take()
    h.core.accepting(["t1"], mono=10.0)
    h.apply(c.SubmitTasks(at=0.0, tasks=(c.TaskInfo("t1", required_agents=2),)), mono=10.0)
    assert h.take().schedule
    assert h.core.round_candidates(h.sm.pending, limit=10) == ["t1"]
    decision = Decision(assignments=[Assignment("t1", ("a1", "a2"))], pending=[], rejected={})
    assign = h.core.decided(decision, wall=1.0, considered=1, limit=10)
    assert assign == c.Assign(at=1.0, placements=(("t1", ("a1", "a2")),), rejected=())
    h.apply(assign, mono=10.25)
    ready = h.take()
    assert ready.wake == ["a1", "a2"] and ready.latencies == [0.25]
    assert h.core.accepted == {}


def test_an_assignment_the_state_refused_is_released_in_the_scheduler():
    h = Harness()
    h.apply(_agent("a1"))
    h.apply(c.SubmitTasks(at=0.0, tasks=(c.TaskInfo("t1"),)))
    h.apply(c.Cancel(at=0.0, task_id="t1"))
    h.take()
    h.apply(c.Assign(at=1.0, placements=(("t1", ("a1",)),)))
    ready = h.take()
    assert ("release", ("t1",)) in ready.scheduler_ops and ready.schedule
    assert h.core.full_round


def test_silence_is_reported_once_until_the_agent_is_seen_again():
    h = Harness(timeout_s=30.0)
    h.apply(_agent("a1"), mono=0.0)
    h.take()
    h.core.silence(mono=29.0)
    assert not h.core.has_ready()
    h.core.silence(mono=31.0)
    h.core.silence(mono=40.0)
    assert h.take().scheduler_ops == [("agent_failed", ("a1",))]
    h.core.seen("a1", mono=41.0, wall=1041.0)
    assert h.take().heartbeats == {"a1": 1041.0}
    h.core.silence(mono=80.0)
    assert h.take().scheduler_ops == [("agent_failed", ("a1",))]


def test_due_deadlines_become_one_timeout_command():
    h = Harness()
    h.apply(c.SubmitTasks(at=100.0, tasks=(c.TaskInfo("t1", timeout_s=5.0),
                                           c.TaskInfo("t2", timeout_s=50.0),
                                           c.TaskInfo("t3", timeout_s=5.0))))
    h.apply(c.Cancel(at=101.0, task_id="t3"))
    assert h.core.due(h.sm.tasks, wall=104.0) is None
    command = h.core.due(h.sm.tasks, wall=106.0)
    assert command == c.TimeOut(at=106.0, task_ids=("t1",))
    assert h.core.due(h.sm.tasks, wall=106.0) is None       # popped once


def test_recover_rebuilds_soft_state_from_the_state_machine():
    h = Harness()
    h.apply(_agent("a1"))
    h.apply(c.SubmitTasks(at=0.0, tasks=(c.TaskInfo("t1", timeout_s=9.0), c.TaskInfo("t2"))))
    h.apply(c.Assign(at=1.0, placements=(("t1", ("a1",)),)))
    fresh = LeaderCore(STRATEGIES, heartbeat_timeout_s=30.0)
    fresh.recover(h.sm, mono=7.0)
    ready = fresh.ready()
    assert ready.scheduler_ops == [("add_agent", (h.sm.agents["a1"].info,)),
                                   ("hold", ("t1", ("a1",)))]
    assert fresh.deadlines == [(9.0, "t1")] and fresh.last_seen == {"a1": 7.0}
    assert ready.schedule and fresh.full_round


def test_round_candidates_are_the_fresh_tasks_unless_a_full_round_is_due():
    h = Harness()
    h.apply(c.SubmitTasks(at=0.0, tasks=tuple(c.TaskInfo(f"t{i}") for i in range(5))))
    assert h.core.round_candidates(h.sm.pending, limit=3) == ["t0", "t1", "t2"]   # full
    h.apply(c.SubmitTasks(at=0.0, tasks=(c.TaskInfo("t9"),)))
    assert h.core.round_candidates(h.sm.pending, limit=3) == ["t9"]               # fresh only
    h.core.aging()
    assert h.core.round_candidates(h.sm.pending, limit=10) == ["t0", "t1", "t2", "t3", "t4",
                                                               "t9"]


def test_the_core_does_no_io_and_reads_no_clock():
    source = Path(__file__).resolve().parents[3] / "control" / "leader" / "core.py"
    tree = ast.parse(source.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert not imported & {"asyncio", "time", "os", "socket", "random", "threading",
                           "logging", "numpy"}, imported
