"""The leader's soft state: what the scheduler, long-polls and timers need, never logged.

Rebuilt from the state machine after recovery (``rebuild``) and kept in step after every applied
command (``on_applied``): agents added to / removed from the scheduler, capacity released when a
task ends, waiting agents woken when they get work, acceptance times for the
submit-to-assigned latency, task deadlines, and which tasks the next scheduling round considers.
"""

from __future__ import annotations

import heapq
import time
from typing import TYPE_CHECKING

from . import commands as cmds
from .statemachine import ASSIGNED, PENDING, TERMINAL, Task

if TYPE_CHECKING:
    from .service import Orchestrator


class SoftState:
    def __init__(self, orch: Orchestrator):
        from uqo.control.scheduler import STRATEGIES

        self.orch, self.driver = orch, orch.driver
        self.strategies = frozenset(STRATEGIES)
        self.accepted: dict[str, float] = {}      # task id -> perf_counter at acceptance
        self.last_seen: dict[str, float] = {}     # agent id -> monotonic seconds
        self.silent: set[str] = set()             # reported failed for silence, not seen since
        self.deadlines: list[tuple[float, str]] = []
        self.fresh: list[str] = []                # submitted since the last scheduling round
        self.full_round = True                    # capacity changed: reconsider every pending
        self.wake = None                          # asyncio.Event set by Background
        self._handlers = {cmds.RegisterAgent: self._registered,
                          cmds.DeregisterAgent: self._deregistered,
                          cmds.SubmitTasks: self._submitted, cmds.Assign: self._assigned,
                          cmds.Complete: self._reported, cmds.Fail: self._reported,
                          cmds.Cancel: self._ended, cmds.TimeOut: self._timed_out}

    # ---- recovery -----------------------------------------------------------------------
    def rebuild(self) -> None:
        sm, now = self.orch.sm, time.monotonic()
        for agent in sm.agents.values():
            self.driver.queue("add_agent", agent.info)
            self.last_seen[agent.info.agent_id] = now
        for task in sm.tasks.values():
            if task.state in TERMINAL:
                continue
            if task.state == ASSIGNED:
                self.driver.queue("hold", task.info.task_id, task.agents)
            self._track_deadline(task)
        self.full_round = True

    # ---- hooks used by operations -------------------------------------------------------
    def seen(self, agent_id: str) -> None:
        self.last_seen[agent_id] = time.monotonic()
        self.silent.discard(agent_id)
        self.driver.heartbeat(agent_id, self.orch.clock())

    def accepting(self, task_ids: list[str]) -> None:
        now = time.perf_counter()
        for task_id in task_ids:
            self.accepted[task_id] = now

    def forget(self, task_ids: list[str]) -> None:
        for task_id in task_ids:
            self.accepted.pop(task_id, None)

    def poke(self, full: bool = False) -> None:
        """Ask for a scheduling round (``full``: capacity changed, reconsider all pending)."""
        self.full_round = self.full_round or full
        if self.wake is not None:
            self.wake.set()

    def round_candidates(self, limit: int) -> list[str]:
        """Pending task ids the next round should decide on, and reset the round markers."""
        pending = self.orch.sm.pending
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

    # ---- after each applied command -----------------------------------------------------
    def on_applied(self, command, result) -> None:
        self._handlers[type(command)](command, result)

    def _registered(self, command: cmds.RegisterAgent, result) -> None:
        self.driver.queue("add_agent", command.agent)
        self.last_seen[command.agent.agent_id] = time.monotonic()
        self.poke(full=True)

    def _deregistered(self, command: cmds.DeregisterAgent, requeued: list[str]) -> None:
        for task_id in requeued:
            self.driver.queue("release", task_id)
        self.driver.queue("remove_agent", command.agent_id)
        self.last_seen.pop(command.agent_id, None)
        self.silent.discard(command.agent_id)
        self.orch.waiters.wake(command.agent_id)
        self.poke(full=True)

    def _submitted(self, command: cmds.SubmitTasks, ids: list[str]) -> None:
        self.fresh.extend(ids)
        for info in command.tasks:
            if info.timeout_s is not None:
                heapq.heappush(self.deadlines, (command.at + info.timeout_s, info.task_id))
        self.poke()

    def _assigned(self, command: cmds.Assign, result) -> None:
        now = time.perf_counter()
        for task_id, agent_ids in result.placed:
            t0 = self.accepted.pop(task_id, None)
            if t0 is not None:
                self.orch.latency.add(now - t0)
                self.orch.metrics.submit_to_assigned.observe(now - t0)
            for agent_id in agent_ids:
                self.orch.waiters.wake(agent_id)
        for task_id in result.skipped:
            self.driver.queue("release", task_id)
        self.forget(result.rejected)
        if result.skipped:
            self.poke(full=True)

    def _reported(self, command, task: Task) -> None:
        success = isinstance(command, cmds.Complete)
        self.driver.queue("report_outcome", command.agent_id, success, command.latency_s)
        if task.state in TERMINAL:
            self._ended(command, task)

    def _ended(self, command, task: Task) -> None:
        self.forget([task.info.task_id])
        if task.assigned_at is not None:
            self.driver.queue("release", task.info.task_id)
            for agent_id in task.agents:
                self.orch.waiters.wake(agent_id)
            self.poke(full=True)

    def _timed_out(self, command: cmds.TimeOut, tasks: list[Task]) -> None:
        for task in tasks:
            self._ended(command, task)

    def _track_deadline(self, task: Task) -> None:
        if task.info.timeout_s is not None and task.state in (PENDING, ASSIGNED):
            heapq.heappush(self.deadlines, (task.submitted_at + task.info.timeout_s,
                                            task.info.task_id))
