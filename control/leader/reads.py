"""The orchestrator's reads: views of agents and tasks, filtered lists, the status document
and the readings behind the metrics. Reads never go through the log; on a replica the API
calls ``read_barrier`` first for a linearizable read (``replica.py``).

A mixin of ``Orchestrator`` only (``service.py``): it reads ``sm``, ``core``, ``loop``,
``driver``, ``log``, ``cfg``, ``security``, ``latency``, ``waiters``, ``clock``, ``started_at``.
"""

from __future__ import annotations

import asyncio
import time

from ..errors import ControlError
from ..state.records import ASSIGNED, TERMINAL
from ..state.views import agent_view, list_agents, list_tasks, task_view
from .status import build_status


class Reads:
    def get_agent(self, agent_id: str) -> dict:
        return agent_view(self.agent_record(agent_id))

    def list_agents(self, *, visible, **filters) -> dict:
        """``visible(agent) -> bool`` or None (everything): callers must say which."""
        return list_agents(self.sm, visible=visible, **filters)

    def get_task(self, task_id: str) -> dict:
        return task_view(self.task_record(task_id))

    def list_tasks(self, *, visible, **filters) -> dict:
        """``visible(task) -> bool`` or None (everything): callers must say which."""
        return list_tasks(self.sm, visible=visible, **filters)

    async def wait_task(self, task_id: str, states=TERMINAL, timeout_s: float = 30.0) -> dict:
        """Wait (polling the state) until the task is in one of ``states``; its view."""
        deadline = time.monotonic() + timeout_s
        while self.task_record(task_id).state not in states and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self.get_task(task_id)

    def status(self) -> dict:
        now = self.clock()
        return build_status(
            sm=self.sm, core=self.core, loop=self.loop,
            scheduler_stats=self.driver.stats() if self.driver else {},
            strategy=self.cfg.strategy, log_status=self.log_status(), security=self.security,
            latency=self.latency, waiting=len(self.waiters),
            forecast=self.driver.forecast() if self.driver else None,
            domains=self.driver.domains() if self.driver else None,
            uptime_s=max(0.0, now - self.started_at) if self.started_at else 0.0,
            ready=self.ready)

    def _engine_reading(self) -> tuple[str, int]:
        if self.driver is None:
            return "", 0
        return self.driver.register.backend.name, self.driver.engine_fallbacks

    @property
    def tick_report(self):
        """The engine's last published tick report."""
        return self.core.tick_report

    def log_status(self) -> dict:
        return self.log.status() if self.log is not None else {}

    def assigned_count(self) -> int:
        return self.sm.counts.get(ASSIGNED, 0)

    def agent_record(self, agent_id: str):
        """The agent's record in the state machine, or ``not_found`` (404)."""
        agent = self.sm.agents.get(agent_id)
        if agent is None:
            raise ControlError.not_found("agent", agent_id, "agent_id")
        return agent

    def task_record(self, task_id: str):
        """The task's record in the state machine, or ``not_found`` (404)."""
        task = self.sm.tasks.get(task_id)
        if task is None:
            raise ControlError.not_found("task", task_id, "task_id")
        return task
