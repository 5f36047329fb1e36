"""The leader's core: soft state and the decisions that follow each event, with no I/O.

In the style of etcd-io/raft's ``RawNode``: the loop (``uqo.control.leader.loop``) feeds the
core events with the time they happened (``applied``, ``seen``, ``silence``, ``due``, ``decided``,
``ticked``, ...) and takes back a ``Ready`` of actions to carry out: operations for the
scheduler thread, long-polls to wake, submit-to-assigned latencies to observe, whether a
scheduling round is wanted, and a tick report to publish. It carries them out, then calls
``advance()``. Commands to propose (an ``Assign`` for a decision, a ``TimeOut`` for deadlines)
are returned by the event that produces them, for the caller to log.

Contract: nothing here reads a clock, sleeps, touches asyncio, a socket or a file, or draws a
random number; every time is a parameter (``mono``: monotonic seconds, for staleness and
latency; ``wall``: the leader's clock, which commands carry). Soft state is never logged: after
a recovery or a failover ``recover`` rebuilds it from the state machine.

Use cases::

    core = LeaderCore(strategies=STRATEGIES, heartbeat_timeout_s=30)
    core.recover(sm, mono=0.0)                      # after the log replayed
    core.applied(command, result, mono=1.0)         # after each applied command
    ready = core.ready(); ...carry it out...; core.advance()
    core.silence(mono=m)                            # silent agents -> engine
    timeout = core.due(sm.tasks, wall=t)            # TimeOut to log, or None
    ids = core.round_candidates(sm.pending, 4096)
    assign = core.decided(decision, wall=t)         # Assign to log, or None
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..state import commands as cmds
from ..state.machine import StateMachine
from ..state.records import ASSIGNED, PENDING, TERMINAL, Task


@dataclass
class Ready:
    """Actions the loop must carry out, in this order, before ``advance()``.

    ``scheduler_ops``: ``(method, args)`` for the scheduler thread, in order (``add_agent``
    takes an ``AgentInfo``); ``heartbeats``: agent id -> wall time, coalesced; ``wake``: agents
    whose long-polls to release; ``latencies``: submit-to-assigned seconds to observe;
    ``schedule``: a scheduling round is wanted; ``report``: a tick report to publish."""

    scheduler_ops: list[tuple[str, tuple]] = field(default_factory=list)
    heartbeats: dict[str, float] = field(default_factory=dict)
    wake: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    schedule: bool = False
    report: Any = None

    def __bool__(self) -> bool:
        return bool(self.scheduler_ops or self.heartbeats or self.wake or self.latencies
                    or self.schedule or self.report is not None)


class LeaderCore:
    """Soft state of one leader: acceptance times, liveness, deadlines, the next round's tasks.

    ``strategies``: the strategy names a task may ask for; ``heartbeat_timeout_s``: an agent
    silent this long is reported failed to the engine (once, until it is seen again)."""

    def __init__(self, strategies: Iterable[str], heartbeat_timeout_s: float):
        self.strategies = frozenset(strategies)
        self.heartbeat_timeout_s = float(heartbeat_timeout_s)
        self.accepted: dict[str, float] = {}      # task id -> mono at acceptance
        self.last_seen: dict[str, float] = {}     # agent id -> mono
        self.silent: set[str] = set()             # reported failed for silence, not seen since
        self.deadlines: list[tuple[float, str]] = []   # heap of (wall deadline, task id)
        self.fresh: list[str] = []                # submitted since the last scheduling round
        self.full_round = True                    # capacity changed: reconsider every pending
        self.tick_report = None                   # the last published engine report
        self._ready = Ready()
        self._handlers = {cmds.RegisterAgent: self._registered,
                          cmds.DeregisterAgent: self._deregistered,
                          cmds.SubmitTasks: self._submitted, cmds.Assign: self._assigned,
                          cmds.Complete: self._reported, cmds.Fail: self._reported,
                          cmds.Cancel: self._ended, cmds.TimeOut: self._timed_out}

    # ---- Ready / advance ----------------------------------------------------------------
    def has_ready(self) -> bool:
        return bool(self._ready)

    def ready(self) -> Ready:
        """The actions accumulated since the last ``advance``."""
        return self._ready

    def advance(self) -> None:
        """The loop carried out the last ``ready()``."""
        self._ready = Ready()

    def _op(self, method: str, *args) -> None:
        self._ready.scheduler_ops.append((method, args))

    def _poke(self, full: bool = False) -> None:
        self.full_round = self.full_round or full
        self._ready.schedule = True

    # ---- events -------------------------------------------------------------------------
    def recover(self, sm: StateMachine, mono: float) -> None:
        """Rebuild soft state from ``sm`` (after recovery, or on becoming leader)."""
        for agent in sm.agents.values():
            self._op("add_agent", agent.info)
            self.last_seen[agent.info.agent_id] = mono
        for task in sm.tasks.values():
            if task.state in TERMINAL:
                continue
            if task.state == ASSIGNED:
                self._op("hold", task.info.task_id, task.agents)
            self._track_deadline(task)
        self._poke(full=True)

    def seen(self, agent_id: str, mono: float, wall: float) -> None:
        """A heartbeat, a long-poll or a re-registration: the agent is alive."""
        self.last_seen[agent_id] = mono
        self.silent.discard(agent_id)
        self._ready.heartbeats[agent_id] = wall

    def accepting(self, task_ids: Iterable[str], mono: float) -> None:
        """Tasks about to be proposed: their submit-to-assigned clock starts now."""
        for task_id in task_ids:
            self.accepted[task_id] = mono

    def forget(self, task_ids: Iterable[str]) -> None:
        for task_id in task_ids:
            self.accepted.pop(task_id, None)

    def applied(self, command, result, mono: float) -> None:
        """``command`` was committed and applied with ``result`` (never called for refusals).
        Commands that change no soft state (session revocations) have no handler."""
        handler = self._handlers.get(type(command))
        if handler is not None:
            handler(command, result, mono)

    def silence(self, mono: float) -> None:
        """Time passed: agents silent longer than the timeout are reported failed to the engine
        (once, until they are seen again)."""
        limit = mono - self.heartbeat_timeout_s
        for agent_id, seen in self.last_seen.items():
            if seen < limit and agent_id not in self.silent:
                self.silent.add(agent_id)
                self._op("agent_failed", agent_id)

    def due(self, tasks: Mapping[str, Task], wall: float):
        """Time passed: a ``TimeOut`` command for the tasks whose deadline is due, or None."""
        due = []
        while self.deadlines and self.deadlines[0][0] <= wall:
            _, task_id = heapq.heappop(self.deadlines)
            task = tasks.get(task_id)
            if task is not None and task.state not in TERMINAL:
                due.append(task_id)
        return cmds.TimeOut(at=wall, task_ids=tuple(due)) if due else None

    def aging(self) -> None:
        """No round for a while: the next one reconsiders every pending task (priorities
        age)."""
        self.full_round = True

    def round_candidates(self, pending: Mapping[str, Any], limit: int) -> list[str]:
        """Pending task ids the next round decides on; resets the round markers."""
        if self.full_round:
            ids = []
            for task_id in pending:
                ids.append(task_id)
                if len(ids) == limit:
                    break
        else:
            ids = [t for t in self.fresh if t in pending][:limit]
        self.fresh, self.full_round = [], False
        return ids

    def decided(self, decision, wall: float, considered: int, limit: int):
        """The scheduler's ``decision`` on ``considered`` tasks: the ``Assign`` to log (or
        None). A full round that placed something asks for another at once."""
        placements = tuple((a.task_id, tuple(a.agent_ids)) for a in decision.assignments)
        rejected = tuple(decision.rejected.items())
        if considered == limit and placements:
            self._poke(full=True)
        if placements or rejected:
            return cmds.Assign(at=wall, placements=placements, rejected=rejected)
        return None

    def ticked(self, report) -> None:
        """The engine finished a tick: publish its report."""
        self.tick_report = self._ready.report = report

    # ---- after each applied command -----------------------------------------------------
    def _registered(self, command: cmds.RegisterAgent, result, mono: float) -> None:
        self._op("add_agent", command.agent)
        self.last_seen[command.agent.agent_id] = mono
        self._poke(full=True)

    def _deregistered(self, command: cmds.DeregisterAgent, requeued, mono: float) -> None:
        for task_id in requeued:
            self._op("release", task_id)
        self._op("remove_agent", command.agent_id)
        self.last_seen.pop(command.agent_id, None)
        self.silent.discard(command.agent_id)
        self._ready.heartbeats.pop(command.agent_id, None)
        self._ready.wake.append(command.agent_id)
        self._poke(full=True)

    def _submitted(self, command: cmds.SubmitTasks, ids, mono: float) -> None:
        self.fresh.extend(ids)
        for info in command.tasks:
            if info.timeout_s is not None:
                heapq.heappush(self.deadlines, (command.at + info.timeout_s, info.task_id))
        self._poke()

    def _assigned(self, command: cmds.Assign, result, mono: float) -> None:
        for task_id, agent_ids in result.placed:
            t0 = self.accepted.pop(task_id, None)
            if t0 is not None:
                self._ready.latencies.append(mono - t0)
            self._ready.wake.extend(agent_ids)
        for task_id in result.skipped:
            self._op("release", task_id)
        self.forget(result.rejected)
        if result.skipped:
            self._poke(full=True)

    def _reported(self, command, task: Task, mono: float) -> None:
        success = isinstance(command, cmds.Complete)
        self._op("report_outcome", command.agent_id, success, command.latency_s)
        if task.state in TERMINAL:
            self._ended(command, task, mono)

    def _ended(self, command, task: Task, mono: float) -> None:
        self.forget([task.info.task_id])
        if task.assigned_at is not None:
            self._op("release", task.info.task_id)
            self._ready.wake.extend(task.agents)
            self._poke(full=True)

    def _timed_out(self, command: cmds.TimeOut, tasks: list[Task], mono: float) -> None:
        for task in tasks:
            self._ended(command, task, mono)

    def _track_deadline(self, task: Task) -> None:
        if task.info.timeout_s is not None and task.state in (PENDING, ASSIGNED):
            heapq.heappush(self.deadlines, (task.submitted_at + task.info.timeout_s,
                                            task.info.task_id))
