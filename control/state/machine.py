"""The deterministic state machine: agents and tasks, changed only by logged commands.

Use cases::

    sm = StateMachine()
    sm.apply(1, 1, RegisterAgent(at=t, agent=AgentInfo("a1", ("gpu",))))
    sm.apply(2, 1, SubmitTasks(at=t, tasks=(TaskInfo("t1", required_agents=1),)))
    sm.apply(3, 1, Assign(at=t, placements=(("t1", ("a1",)),)))
    sm.tasks["t1"].state == ASSIGNED
    data = sm.snapshot(); StateMachine.restore(data).tasks == sm.tasks

Contract: ``apply(index, term, command)`` either raises ``ControlError`` *before changing
anything* or applies the whole command and returns its result. It reads no clock, no random
source and no scheduler, so replaying a log gives the same state on every replica. Application
order is log order; indexes must increase.

Task lifecycle::

    pending -> assigned -> completed | failed        (gang: completed when every agent succeeds,
    pending | assigned -> cancelled | timed_out       failed at the first failure)
    pending -> rejected                               (the scheduler can never place it)
    assigned -> pending                               (an agent of its gang was deregistered)
"""

from __future__ import annotations

from collections import Counter, deque

import msgspec
from uqo.control.errors import ControlError

from . import commands
from .commands import (
    KEYABLE,
    Assign,
    Cancel,
    Complete,
    DeregisterAgent,
    Fail,
    Keyed,
    PublishKeys,
    PutAccount,
    RegisterAgent,
    RevokeSessions,
    RevokeToken,
    SubmitTasks,
    TimeOut,
)
from .idempotency import KeyRecord, KeyTable, Replayed
from .labels import LabelCounts
from .records import (
    ASSIGNED,
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    REJECTED,
    TERMINAL,
    TIMED_OUT,
    Agent,
    Task,
)
from .security import SecuritySnapshot, SecurityState


class AssignResult(msgspec.Struct):
    """``placed``: gangs now assigned; ``skipped``: placements refused because the task or an
    agent changed since the decision (the leader must release them in its scheduler)."""

    placed: list[tuple[str, tuple[str, ...]]]
    skipped: list[str]
    rejected: list[str]


class _Snapshot(msgspec.Struct, array_like=True):
    index: int
    term: int
    seq: int
    agents: list[Agent]
    tasks: list[Task]
    pending: list[str]
    finished: list[str]
    security: SecuritySnapshot | None = None
    keys: list[KeyRecord] = []      # idempotency keys; last, defaulted: older snapshots decode


class StateMachine:
    """Agents and tasks. ``retain_terminal``: how many finished tasks to keep (oldest dropped
    first); ``None`` keeps all."""

    def __init__(self, retain_terminal: int | None = None):
        if retain_terminal is not None and (not isinstance(retain_terminal, int)
                                            or retain_terminal < 0):
            raise ValueError(f"retain_terminal must be None or an int >= 0, got "
                             f"{retain_terminal!r}")
        self.retain_terminal = retain_terminal
        self.agents: dict[str, Agent] = {}
        self.tasks: dict[str, Task] = {}
        self.pending: dict[str, None] = {}          # task ids awaiting placement, in order
        self.counts: Counter[str] = Counter()       # tasks by state
        self.labels = LabelCounts()                 # tasks by label and state
        self.agent_labels: Counter[tuple] = Counter()   # agents by (clearance, compartments)
        self.security = SecurityState()             # session epochs, revoked tokens
        self.keys = KeyTable()                      # idempotency keys (idempotency.py)
        self.applied_index = self.applied_term = 0
        self.task_order: list[str] = []             # ids by seq (holes allowed: check seq)
        self.task_seqs: list[int] = []
        self.agent_order: list[str] = []
        self.agent_seqs: list[int] = []
        self._seq = 0
        self._finished: deque[str] = deque()
        self._handlers = {RegisterAgent: self._register, DeregisterAgent: self._deregister,
                          SubmitTasks: self._submit, Assign: self._assign,
                          Complete: self._complete, Fail: self._fail, Cancel: self._cancel,
                          TimeOut: self._timeout, Keyed: lambda cmd: _apply_keyed(self, cmd),
                          RevokeSessions: self.security.revoke_sessions,
                          RevokeToken: self.security.revoke_token,
                          PublishKeys: self.security.publish_keys,
                          PutAccount: self.security.put_account}

    # ---- the one entry point ----------------------------------------------------------
    def apply(self, index: int, term: int, command):
        """Apply ``command`` logged at ``index`` (> ``applied_index``) in ``term``."""
        if index <= self.applied_index:
            raise ValueError(f"index {index} already applied (applied_index "
                             f"{self.applied_index})")
        self.applied_index, self.applied_term = index, term
        self.keys.expire(command.at)    # bookkeeping by the entry's own time, like the index
        return self._handlers[type(command)](command)

    # ---- agents -------------------------------------------------------------------------
    def _register(self, cmd: RegisterAgent) -> Agent:
        agent_id = cmd.agent.agent_id
        if agent_id in self.agents:
            raise ControlError.conflict("agent_exists", f"agent {agent_id!r} is already "
                                        "registered with another spec", "agent_id")
        agent = Agent(cmd.agent, self._next_seq(), cmd.at)
        self.agents[agent_id] = agent
        self.agent_labels[(cmd.agent.clearance, cmd.agent.compartments)] += 1
        self.agent_order.append(agent_id)
        self.agent_seqs.append(agent.seq)
        return agent

    def _deregister(self, cmd: DeregisterAgent) -> list[str]:
        agent = self._agent(cmd.agent_id)
        requeued = list(agent.tasks)
        for task_id in requeued:
            self._requeue(self.tasks[task_id])
        del self.agents[cmd.agent_id]
        self.agent_labels[(agent.info.clearance, agent.info.compartments)] -= 1
        return requeued

    def _requeue(self, task: Task) -> None:
        for other in task.agents:
            if other in self.agents:
                self._drop_assignment(self.agents[other], task.info.task_id)
        self._move(task, PENDING)
        task.agents, task.done, task.assigned_at = (), (), None
        task.attempts += 1
        self.pending[task.info.task_id] = None

    # ---- tasks --------------------------------------------------------------------------
    def _submit(self, cmd: SubmitTasks) -> list[str]:
        seen: set[str] = set()
        for i, info in enumerate(cmd.tasks):
            if info.task_id in self.tasks or info.task_id in seen:
                raise ControlError.conflict("task_exists", f"task {info.task_id!r} already "
                                            "exists", f"tasks[{i}].task_id")
            seen.add(info.task_id)
        for info in cmd.tasks:
            task = Task(info, self._next_seq(), cmd.at)
            self.tasks[info.task_id] = task
            self.task_order.append(info.task_id)
            self.task_seqs.append(task.seq)
            self.pending[info.task_id] = None
            self.labels.add(info, PENDING)
        self.counts[PENDING] += len(cmd.tasks)
        return [info.task_id for info in cmd.tasks]

    def _assign(self, cmd: Assign) -> AssignResult:
        out = AssignResult([], [], [])
        for task_id, agent_ids in cmd.placements:
            task = self.tasks.get(task_id)
            if (task is None or task.state != PENDING or not agent_ids
                    or any(a not in self.agents for a in agent_ids)):
                out.skipped.append(task_id)
                continue
            self._place(task, agent_ids, cmd.at)
            out.placed.append((task_id, agent_ids))
        for task_id, reason in cmd.rejected:
            task = self.tasks.get(task_id)
            if task is not None and task.state == PENDING:
                self._finish(task, REJECTED, cmd.at, reason)
                out.rejected.append(task_id)
        return out

    def _place(self, task: Task, agent_ids: tuple[str, ...], at: float) -> None:
        del self.pending[task.info.task_id]
        self._move(task, ASSIGNED)
        task.agents, task.assigned_at = tuple(agent_ids), at
        for agent_id in agent_ids:
            agent = self.agents[agent_id]
            agent.tasks = agent.tasks + (task.info.task_id,)

    def _complete(self, cmd: Complete) -> Task:
        task = self._reporting(cmd.task_id, cmd.agent_id)
        self._drop_assignment(self.agents[cmd.agent_id], cmd.task_id)
        task.done = task.done + (cmd.agent_id,)
        if cmd.result is not None:
            task.result = cmd.result
        if len(task.done) == len(task.agents):
            self._finish(task, COMPLETED, cmd.at, None)
        return task

    def _fail(self, cmd: Fail) -> Task:
        task = self._reporting(cmd.task_id, cmd.agent_id)
        self._finish(task, FAILED, cmd.at, cmd.reason or f"agent {cmd.agent_id} failed")
        return task

    def _cancel(self, cmd: Cancel) -> Task:
        task = self._task(cmd.task_id)
        if task.state in TERMINAL:
            raise ControlError.conflict("invalid_transition", f"task {cmd.task_id!r} is "
                                        f"{task.state}; cannot cancel", "task_id")
        self._finish(task, CANCELLED, cmd.at, cmd.reason or "cancelled")
        return task

    def _timeout(self, cmd: TimeOut) -> list[Task]:
        out = []
        for task_id in cmd.task_ids:
            task = self.tasks.get(task_id)
            if task is not None and task.state not in TERMINAL:
                self._finish(task, TIMED_OUT, cmd.at, "deadline passed")
                out.append(task)
        return out

    # ---- helpers ------------------------------------------------------------------------
    def _reporting(self, task_id: str, agent_id: str) -> Task:
        task = self._task(task_id)
        self._agent(agent_id)
        if task.state != ASSIGNED:
            raise ControlError.conflict("invalid_transition", f"task {task_id!r} is "
                                        f"{task.state}, not assigned", "task_id")
        if agent_id not in task.agents or agent_id in task.done:
            raise ControlError.conflict("not_assigned", f"agent {agent_id!r} holds no open "
                                        f"assignment of task {task_id!r}", "agent_id")
        return task

    def _finish(self, task: Task, state: str, at: float, reason: str | None) -> None:
        task_id = task.info.task_id
        self.pending.pop(task_id, None)
        for agent_id in task.agents:
            if agent_id in self.agents:
                self._drop_assignment(self.agents[agent_id], task_id)
        self._move(task, state)
        task.finished_at, task.reason = at, reason
        self._finished.append(task_id)
        self._evict()

    def _evict(self) -> None:
        if self.retain_terminal is None:
            return
        while len(self._finished) > self.retain_terminal:
            task = self.tasks.pop(self._finished.popleft(), None)
            if task is not None:   # None: an id reused after eviction, already dropped
                self.counts[task.state] -= 1
                self.labels.add(task.info, task.state, -1)

    def _move(self, task: Task, state: str) -> None:
        self.counts[task.state] -= 1
        self.counts[state] += 1
        self.labels.move(task.info, task.state, state)
        task.state = state

    @staticmethod
    def _drop_assignment(agent: Agent, task_id: str) -> None:
        if task_id in agent.tasks:
            agent.tasks = tuple(t for t in agent.tasks if t != task_id)

    def _task(self, task_id: str) -> Task:
        task = self.tasks.get(task_id)
        if task is None:
            raise ControlError.not_found("task", task_id, "task_id")
        return task

    def _agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise ControlError.not_found("agent", agent_id, "agent_id")
        return agent

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # ---- snapshots ----------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """The whole state as bytes (MessagePack); ``restore`` inverts it."""
        tasks = [self.tasks[t] for t, s in zip(self.task_order, self.task_seqs)
                 if t in self.tasks and self.tasks[t].seq == s]
        agents = [self.agents[a] for a, s in zip(self.agent_order, self.agent_seqs)
                  if a in self.agents and self.agents[a].seq == s]
        snap = _Snapshot(self.applied_index, self.applied_term, self._seq, agents, tasks,
                         list(self.pending), list(self._finished), self.security.snapshot(),
                         self.keys.records())
        return msgspec.msgpack.encode(snap)

    @classmethod
    def restore(cls, data: bytes, retain_terminal: int | None = None) -> StateMachine:
        """A state machine equal to the one whose ``snapshot()`` gave ``data``."""
        snap = msgspec.msgpack.decode(data, type=_Snapshot)
        sm = cls(retain_terminal)
        sm.applied_index, sm.applied_term, sm._seq = snap.index, snap.term, snap.seq
        # comprehensions, not a loop of appends: this runs over every task on restart
        sm.agent_order = [a.info.agent_id for a in snap.agents]
        sm.agent_seqs = [a.seq for a in snap.agents]
        sm.agents = dict(zip(sm.agent_order, snap.agents))
        sm.agent_labels = Counter((a.info.clearance, a.info.compartments) for a in snap.agents)
        sm.task_order = [t.info.task_id for t in snap.tasks]
        sm.task_seqs = [t.seq for t in snap.tasks]
        sm.tasks = dict(zip(sm.task_order, snap.tasks))
        sm.counts = Counter(t.state for t in snap.tasks)
        sm.labels = LabelCounts.of(snap.tasks)
        sm.security = SecurityState.restore(snap.security)
        sm.keys = KeyTable(snap.keys)
        sm._handlers[RevokeSessions] = sm.security.revoke_sessions
        sm._handlers[RevokeToken] = sm.security.revoke_token
        sm._handlers[PublishKeys] = sm.security.publish_keys
        sm._handlers[PutAccount] = sm.security.put_account
        sm._finished.extend(snap.finished)
        sm.pending = dict.fromkeys(snap.pending)
        return sm


def _apply_keyed(sm: StateMachine, cmd: Keyed):
    """Apply the wrapped command once per key; a repeat returns ``Replayed`` (a copy of the
    first result), or raises 422 if the key came with another request."""
    record = sm.keys.lookup(cmd.principal, cmd.key, cmd.digest, cmd.at)
    if record is not None:
        return Replayed(record.result())
    try:
        inner = commands.decode(cmd.command)
    except msgspec.DecodeError as exc:
        raise ControlError.invalid(f"a keyed command wraps no command: {exc}", None) from None
    if not isinstance(inner, KEYABLE):
        raise ControlError.invalid(f"{type(inner).__name__} cannot carry an idempotency "
                                   "key", None)
    result = sm._handlers[type(inner)](inner)
    sm.keys.record(cmd, sm.applied_index, result)
    return result
