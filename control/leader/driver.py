"""The scheduler and its engine register, driven from one thread so the event loop never waits.

Use cases::

    drv = SchedulerDriver(cfg)                      # builds Scheduler + AgentRegister
    drv.queue("add_agent", spec)                    # soft updates, queued on the loop ...
    drv.heartbeat("a1", now)                        # ... (heartbeats coalesced per agent)
    decision = await drv.decide(task_specs, now)    # ... applied in order, then decide
    report = await drv.tick(1.0)                    # engine tick on the same thread

Everything that touches the scheduler runs on one worker thread, in the order it was queued:
the scheduler and the engine register are not thread-safe, and a tick (numpy on big arrays)
must not block the event loop. Queued operations are applied before the next ``decide`` or
``tick`` job. ``stats()`` returns the copy taken at the end of the last job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from uqo.control.config import ServerConfig

from .status import failure_domains

_LOG = logging.getLogger(__name__)


class SchedulerDriver:
    def __init__(self, cfg: ServerConfig):
        from uqo.control.scheduler import Scheduler
        from uqo.engine.register import AgentRegister

        register = AgentRegister(capacity=cfg.capacity,
                                 backend=None if cfg.backend == "auto" else cfg.backend,
                                 seed=cfg.seed, params=belief_params(cfg))
        self.scheduler = Scheduler(capacity=cfg.capacity, strategy=cfg.strategy,
                                   register=register, seed=cfg.seed,
                                   mi_threshold=cfg.mi_threshold)
        self.register = register
        self._warm_up(register.backend)
        self.initial_report = register.tick(1e-3)    # engine state before any agent is added
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="uqo-sched")
        self._ops: list[tuple[str, tuple]] = []
        self._beats: dict[str, float] = {}
        self._stats: dict = {}
        self.op_errors = 0
        self.probe_rate, self.horizon_s = cfg.probe_rate, cfg.forecast_horizon_s
        self._probe_budget = 0.0
        self._probe_plan: list[str] = []
        self._forecast: dict | None = None
        self._domains: dict | None = None
        self.engine_fallbacks = 0    # the engine moved off its device (failover events)

    @staticmethod
    def _warm_up(backend) -> None:
        """Tick a tiny throwaway register once: the first tick in a process pays for lazy
        imports and kernel set-up (~0.5 s measured), which would otherwise land on the first
        scheduling round after start and show as a latency spike."""
        from uqo.engine.register import AgentRegister

        tiny = AgentRegister(capacity=8, backend=backend)
        tiny.add_singles(2)
        tiny.add_pairs(1)
        tiny.tick(1.0)

    @property
    def queued(self) -> int:
        return len(self._ops) + len(self._beats)

    # ---- queued soft updates (called on the event loop) -------------------------------
    def queue(self, method: str, *args: Any) -> None:
        """Queue ``scheduler.<method>(*args)`` to run before the next job (``add_agent``
        takes the agent's ``AgentInfo``)."""
        self._ops.append((method, args))

    def heartbeat(self, agent_id: str, now: float) -> None:
        self._beats[agent_id] = now

    # ---- jobs (awaited on the event loop, run on the scheduler thread) ------------------
    async def decide(self, tasks: Sequence, now: float):
        return await self._run(lambda: self.scheduler.decide(tasks, now))

    async def tick(self, dt: float):
        return await self._run(lambda: self._tick_job(dt))

    def _tick_job(self, dt: float):
        """The tick, then (same thread) this tick's probe targets and the forecast."""
        report = self.scheduler.tick(dt)
        self._probe_budget += self.probe_rate * dt
        n = int(self._probe_budget)
        if n:
            self._probe_budget -= n
            self._probe_plan = self.scheduler.probe_targets(n)
        self._forecast = self.scheduler.forecast_summary(self.horizon_s)
        self._domains = failure_domains(self.scheduler)
        return report

    def domains(self) -> dict | None:
        """The failure domains taken after the last tick (``status.failure_domains``)."""
        return self._domains

    def take_probe_plan(self) -> list[str]:
        """The agents the last tick chose to health-check (each plan is taken once)."""
        plan, self._probe_plan = self._probe_plan, []
        return plan

    def forecast(self) -> dict | None:
        """The forecast taken after the last tick (``Scheduler.forecast_summary``)."""
        return self._forecast

    async def flush(self) -> None:
        await self._run(lambda: None)

    async def _run(self, job: Callable[[], Any]) -> Any:
        ops, self._ops = self._ops, []
        beats, self._beats = self._beats, {}
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._job, ops, beats, job)

    def _job(self, ops, beats, job):
        adds: list = []
        for method, args in ops:
            if method == "add_agent":             # runs of registrations: one batched call
                adds.append(agent_spec(args[0]))  # AgentInfo -> AgentSpec here, off the loop
                continue
            self._add(adds)
            self._op(method, args)
        self._add(adds)
        for agent_id, now in beats.items():
            try:
                self.scheduler.heartbeat(agent_id, now)
            except ValueError:                     # deregistered since the beat arrived
                self.op_errors += 1
        result = job()
        self._stats = dict(self.scheduler.stats())
        self.engine_fallbacks = len(self.register.events)
        return result

    def _add(self, specs: list) -> None:
        if not specs:
            return
        try:
            self.scheduler.add_agents(specs)
        except ValueError:                         # find the one refused, keep the rest
            for spec in specs:
                self._op("add_agent", (spec,))
        specs.clear()

    def _op(self, method: str, args: tuple) -> None:
        try:
            getattr(self.scheduler, method)(*args)
        except ValueError as exc:                 # e.g. a release of a task holding nothing
            self.op_errors += 1
            _LOG.warning("scheduler.%s%r refused: %s", method, args, exc)

    def stats(self) -> dict:
        return self._stats

    def close(self) -> None:
        self._thread.shutdown(wait=True)


def belief_params(cfg: ServerConfig):
    """The engine's model parameters: the tuned ones of ``cfg.model_params`` (a file written
    by ``uqo tune``) or the defaults, with the heartbeat period agents are configured with."""
    from uqo.engine.params import load_params

    return load_params(cfg.model_params or None, heartbeat_period=cfg.heartbeat_interval_s)


def agent_spec(info):
    """``commands.AgentInfo`` -> the scheduler's (validated) ``AgentSpec``."""
    from uqo.control.scheduler import AgentSpec

    return AgentSpec(agent_id=info.agent_id, capabilities=frozenset(info.capabilities),
                     clearance=info.clearance, compartments=frozenset(info.compartments),
                     capacity=info.capacity, failure_domain=info.failure_domain,
                     fitness=info.fitness)


def task_spec(task):
    """``statemachine.Task`` -> the scheduler's ``TaskSpec``."""
    from uqo.control.scheduler import TaskSpec

    info = task.info
    return TaskSpec(task_id=info.task_id, required_agents=info.required_agents,
                    capabilities=frozenset(info.capabilities),
                    classification=info.classification,
                    compartments=frozenset(info.compartments), priority=info.priority,
                    submitted_at=task.submitted_at, strategy=info.strategy)
