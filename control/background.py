"""The orchestrator's background work on the event loop: scheduling rounds, engine ticks,
deadlines and silent agents.

* Scheduling: woken by submissions and capacity changes (at most one round per
  ``schedule_interval_s``, so bursts batch), and once a second anyway (priority aging). A round
  asks the scheduler (on its thread) for a decision and logs it as one ``assign`` command.
* Ticks: every ``tick_interval_s`` the engine register advances on the scheduler thread; agents
  silent for ``heartbeat_timeout_s`` are reported failed to the engine first (soft state).
* Deadlines: tasks past ``submitted_at + timeout_s`` are timed out by one logged command.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from typing import TYPE_CHECKING

from . import commands as cmds
from .driver import task_spec
from .errors import ControlError
from .statemachine import TERMINAL

if TYPE_CHECKING:
    from .service import Orchestrator

_LOG = logging.getLogger(__name__)


class Background:
    def __init__(self, orch: Orchestrator):
        self.orch, self.cfg = orch, orch.cfg
        self.wake = asyncio.Event()
        orch.soft.wake = self.wake
        self._tasks: list[asyncio.Task] = []
        self.rounds = self.ticks = 0
        self.last_round_s = 0.0

    def start(self) -> None:
        self._last_tick = time.perf_counter()
        for name, step in (("schedule", self._schedule_step), ("tick", self._tick_step),
                           ("deadlines", self._deadline_step)):
            self._tasks.append(asyncio.create_task(_forever(name, step), name=f"uqo-{name}"))
        self.wake.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # ---- scheduling ---------------------------------------------------------------------
    async def _schedule_step(self) -> None:
        try:
            await asyncio.wait_for(self.wake.wait(), timeout=1.0)
        except TimeoutError:
            self.orch.soft.full_round = True          # aging: reconsider everything
        self.wake.clear()
        if self.orch.sm.pending:
            await self.schedule_round()
            await asyncio.sleep(self.cfg.schedule_interval_s)   # let the next burst gather
        elif self.orch.driver.queued:
            await self.orch.driver.flush()     # registrations reach the scheduler off-peak

    async def schedule_round(self) -> None:
        orch = self.orch
        ids = orch.soft.round_candidates(self.cfg.max_decide_batch)
        specs = [task_spec(orch.sm.tasks[t]) for t in ids]
        if not specs:
            return
        t0, now = time.perf_counter(), orch.clock()
        decision = await orch.driver.decide(specs, now)
        self.last_round_s = time.perf_counter() - t0
        orch.metrics.decide_seconds.observe(self.last_round_s)
        self.rounds += 1
        placements = tuple((a.task_id, tuple(a.agent_ids)) for a in decision.assignments)
        rejected = tuple(decision.rejected.items())
        if placements or rejected:
            await orch._propose(cmds.Assign(at=now, placements=placements, rejected=rejected))
        if len(ids) == self.cfg.max_decide_batch and placements:
            orch.soft.poke(full=True)      # more were waiting than one round takes: go on

    # ---- engine ticks -------------------------------------------------------------------
    async def _tick_step(self) -> None:
        await asyncio.sleep(self.cfg.tick_interval_s)
        self._report_silent_agents()
        now = time.perf_counter()
        report = await self.orch.driver.tick(now - self._last_tick)
        self._last_tick = now
        self.orch.tick_report = report
        self.orch.metrics.tick_seconds.observe(report.duration_s)
        self.ticks += 1

    def _report_silent_agents(self) -> None:
        soft, limit = self.orch.soft, time.monotonic() - self.cfg.heartbeat_timeout_s
        for agent_id, seen in soft.last_seen.items():
            if seen < limit and agent_id not in soft.silent:
                soft.silent.add(agent_id)
                self.orch.driver.queue("agent_failed", agent_id)

    # ---- deadlines ----------------------------------------------------------------------
    async def _deadline_step(self) -> None:
        await asyncio.sleep(0.25)
        due = self._due_tasks(self.orch.clock())
        if due:
            await self.orch._propose(cmds.TimeOut(at=self.orch.clock(), task_ids=tuple(due)))

    def _due_tasks(self, now: float) -> list[str]:
        heap, tasks, due = self.orch.soft.deadlines, self.orch.sm.tasks, []
        while heap and heap[0][0] <= now:
            _, task_id = heapq.heappop(heap)
            task = tasks.get(task_id)
            if task is not None and task.state not in TERMINAL:
                due.append(task_id)
        return due


async def _forever(name: str, step) -> None:
    """Run ``step`` again and again; a failure is logged and the loop goes on (a background
    loop that died silently would leave tasks pending for ever)."""
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except ControlError as exc:
            _LOG.warning("background %s: %s", name, exc.message)
            await asyncio.sleep(0.5)
        except Exception:  # noqa: BLE001 - a dead loop would strand every pending task
            _LOG.exception("background %s failed; retrying in 1 s", name)
            await asyncio.sleep(1.0)
