"""The leader's loop: drives ``LeaderCore`` on the event loop and carries out its actions.

Three background tasks, each feeding the core one kind of event:

* scheduling: woken when the core asks for a round (at most one per ``schedule_interval_s``, so
  bursts batch) and once a second anyway (priority aging). A round asks the scheduler thread
  for a decision and logs the core's ``Assign``.
* ticks: every ``tick_interval_s`` the engine advances on the scheduler thread; the report goes
  to the core, which publishes it.
* deadlines: every 0.25 s the core names the tasks whose deadline passed, logged as one
  ``TimeOut``; agents silent too long are reported to the engine before each tick.

``drain()`` carries out the core's ``Ready`` (scheduler queue, heartbeats, long-poll wakes,
latency observations, a round request) and advances it; the orchestrator calls it after every
event it feeds the core, so a wake reaches a long-poll in the same turn of the event loop.
The loop receives only what it uses: the core, the scheduler driver, the waiters, a
``propose`` coroutine function, the state machine's reader, the metrics to observe and the
latency window.

Tracing: a round is a ``scheduler.round`` span linked to the submissions of the tasks it
decided (a round decides many tasks, so links, not parents); its ``Assign`` commits inside it.
Each engine tick is an ``engine.tick`` span.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from ..errors import ControlError
from ..tracing import TRACER, links_to
from .core import LeaderCore
from .driver import SchedulerDriver, task_spec
from .waiters import Waiters

_LOG = logging.getLogger(__name__)


class LeaderLoop:
    def __init__(self, core: LeaderCore, driver: SchedulerDriver, waiters: Waiters,
                 propose: Callable[[object], Awaitable], state: Callable, clock: Callable,
                 metrics, latency, *, tick_interval_s: float, schedule_interval_s: float,
                 max_decide_batch: int, probes=None):
        self.core, self.driver, self.waiters = core, driver, waiters
        self.propose, self.state, self.clock = propose, state, clock
        self.metrics, self.latency = metrics, latency
        self.tick_interval_s, self.schedule_interval_s = tick_interval_s, schedule_interval_s
        self.max_decide_batch = max_decide_batch
        self.probes = probes            # a ProbeBook, or None: no health checks
        self.wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.rounds = self.ticks = 0
        self.last_round_s = 0.0

    # ---- carrying out the core's actions ------------------------------------------------
    def drain(self) -> None:
        if not self.core.has_ready():
            return
        ready = self.core.ready()
        for method, args in ready.scheduler_ops:
            self.driver.queue(method, *args)
        for agent_id, wall in ready.heartbeats.items():
            self.driver.heartbeat(agent_id, wall)
        for agent_id in ready.wake:
            self.waiters.wake(agent_id)
        for seconds in ready.latencies:
            self.latency.add(seconds)
            self.metrics.submit_to_assigned.observe(seconds)
        if ready.report is not None:
            self.metrics.tick_seconds.observe(ready.report.duration_s)
        if ready.schedule:
            self.wake.set()
        self.core.advance()

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        self._last_tick = time.perf_counter()
        for name, step in (("schedule", self._schedule_step), ("tick", self._tick_step),
                           ("deadlines", self._timer_step)):
            self._tasks.append(asyncio.create_task(_forever(name, step), name=f"uqo-{name}"))
        self.drain()
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
            self.core.aging()
        self.wake.clear()
        if self.state().pending:
            await self.schedule_round()
            await asyncio.sleep(self.schedule_interval_s)   # let the next burst gather
        elif self.driver.queued:
            await self.driver.flush()     # registrations reach the scheduler off-peak

    async def schedule_round(self) -> None:
        sm = self.state()
        ids = self.core.round_candidates(sm.pending, self.max_decide_batch)
        specs = [task_spec(sm.tasks[t]) for t in ids]
        if not specs:
            return
        links = links_to(sm.tasks[t].info.trace for t in ids)
        with TRACER.start_as_current_span("scheduler.round", links=links, attributes={
                "uqo.scheduler.tasks": len(ids), "uqo.scheduler.linked": len(links)}) as span:
            t0, wall = time.perf_counter(), self.clock()
            decision = await self.driver.decide(specs, wall)
            self.last_round_s = time.perf_counter() - t0
            self.metrics.decide_seconds.observe(self.last_round_s)
            self.rounds += 1
            span.set_attributes({"uqo.scheduler.placed": len(decision.assignments),
                                 "uqo.scheduler.rejected": len(decision.rejected),
                                 "uqo.scheduler.decide_s": self.last_round_s})
            command = self.core.decided(decision, wall, len(ids), self.max_decide_batch)
            self.drain()
            if command is not None:
                await self.propose(command)

    # ---- engine ticks -------------------------------------------------------------------
    async def _tick_step(self) -> None:
        await asyncio.sleep(self.tick_interval_s)
        self.core.silence(time.monotonic())   # silent agents reach the engine before the tick
        self.drain()
        now = time.perf_counter()
        with TRACER.start_as_current_span("engine.tick") as span:
            report = await self.driver.tick(now - self._last_tick)
            span.set_attributes({"uqo.engine.dt_s": now - self._last_tick,
                                 "uqo.engine.agents": report.n_agents,
                                 "uqo.engine.tick_s": report.duration_s})
        self._last_tick = now
        self.core.ticked(report)
        self.drain()
        self.ticks += 1
        if self.probes is not None:
            mono = time.monotonic()
            self.probes.plan(self.driver.take_probe_plan(), mono)
            for agent_id in self.probes.expired(mono):     # no answer: evidence it is down
                self.driver.queue("probe_result", agent_id, False)

    # ---- timers -------------------------------------------------------------------------
    async def _timer_step(self) -> None:
        await asyncio.sleep(0.25)
        command = self.core.due(self.state().tasks, self.clock())
        if command is not None:
            await self.propose(command)


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
