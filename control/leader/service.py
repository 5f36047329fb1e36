"""The orchestrator core: state machine + log + scheduler + engine, with typed operations.

Use cases::

    orch = Orchestrator(load_config(overrides={"data_dir": d}))
    await orch.start()                                   # recover, rebuild soft state, tick
    await orch.register_agent(AgentInfo("a1", ("gpu",), clearance=2))
    [task_id] = await orch.submit_tasks([TaskInfo("t1", required_agents=1)])
    await orch.assignments("a1", wait_s=5)               # long-poll: [{"task_id": "t1", ...}]
    await orch.report_outcome("a1", "t1", success=True, latency_s=0.3)
    orch.status()["quantum"]["global_coherence"]
    await orch.stop()                                    # finish in flight, sync the log

Every change goes through the log as a command and is applied by the state machine; an
operation returns once its command is durable and applied, or raises ``ControlError`` having
changed nothing. The scheduler's and the engine's state are soft: rebuilt from the state after
recovery and kept by the pure ``LeaderCore`` (core.py), whose actions ``LeaderLoop`` (loop.py)
carries out after each applied command; never logged one by one.
The HTTP handlers and the embedded SDK are thin layers over this class.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from prometheus_client import CollectorRegistry

from ..config import ServerConfig, consensus_of
from ..errors import ControlError
from ..log import Log
from ..state import commands as cmds
from ..state.applier import CommandApplier
from ..state.idempotency import WRITE_KEY, Replayed
from ..state.machine import StateMachine
from ..state.records import TERMINAL
from ..state.views import agent_view, assignment_view, task_view
from .core import LeaderCore
from .driver import SchedulerDriver
from .loop import LeaderLoop
from .metrics import ServiceMetrics, StateReadings
from .perf import LatencyWindow
from .probes import ProbeBook
from .reads import Reads
from .replica import ReplicaRole, make_log, open_log
from .waiters import Waiters

_LOG = logging.getLogger(__name__)


class Orchestrator(Reads):
    """One orchestrator node: on the single-node log it leads from the start; on etcd
    (``cfg.etcd``) or PBFT (``cfg.consensus = "pbft"``) it starts as a follower and leads while
    it holds the election (etcd) or is the primary (PBFT)
    (``replica.py``). ``clock``: wall-clock seconds, injectable."""

    def __init__(self, cfg: ServerConfig, clock=time.time,
                 registry: CollectorRegistry | None = None, security=None):
        self.cfg, self.clock, self.security = cfg, clock, security
        self.applier = CommandApplier(StateMachine(cfg.retain_terminal or None))
        self.core = self.new_core()
        self.metrics = ServiceMetrics(registry or CollectorRegistry(), StateReadings(
            state=lambda: self.applier.sm, tick_report=lambda: self.core.tick_report,
            log_status=self.log_status, engine=self._engine_reading,
            forecast=lambda: self.driver.forecast() if self.driver else None))
        self.probes = ProbeBook(cfg.probe_timeout_s) if cfg.probe_rate > 0 else None
        self.waiters = Waiters()
        self.latency = LatencyWindow()
        self.log: Log | None = None
        self.driver: SchedulerDriver | None = None
        self.loop: LeaderLoop | None = None
        self.role = ReplicaRole(self)
        self._ready = self.closing = self.started = False
        self.started_at = 0.0

    @property
    def sm(self) -> StateMachine:
        return self.applier.sm

    @property
    def ready(self) -> bool:
        """Serving: started, not shutting down, and (replicated) etcd reachable."""
        return self._ready and getattr(self.log, "healthy", True)

    @ready.setter
    def ready(self, value: bool) -> None:
        self._ready = value

    @property
    def replicated(self) -> bool:
        return consensus_of(self.cfg) != "single"

    def new_core(self) -> LeaderCore:
        return LeaderCore(_strategies(), self.cfg.heartbeat_timeout_s)

    def make_loop(self) -> LeaderLoop:
        return LeaderLoop(
            self.core, self.driver, self.waiters, self._propose, lambda: self.applier.sm,
            self.clock, self.metrics, self.latency, tick_interval_s=self.cfg.tick_interval_s,
            schedule_interval_s=self.cfg.schedule_interval_s,
            max_decide_batch=self.cfg.max_decide_batch, probes=self.probes)

    # ---- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        os.makedirs(self.cfg.data_dir, mode=0o700, exist_ok=True)
        # the engine (imports, allocation, warm-up) builds while the log recovers
        driver = loop.run_in_executor(None, SchedulerDriver, self.cfg)
        try:
            self.log = await make_log(self.cfg, self.metrics.registry)
            if self.replicated:
                self.log.on_role = self.role.changed
            await open_log(self.log, self.applier, self.cfg)
        finally:
            self.driver = await driver
        self.core.ticked(self.driver.initial_report)       # until the first tick with agents
        if not self.replicated:                            # a single node leads at once
            self.core.recover(self.sm, time.monotonic())   # runs on the scheduler thread first
            self.loop = self.make_loop()
            self.applier.on_applied = self._on_applied
            self.loop.start()
        self.started_at, self.ready = self.clock(), True
        self.started = True
        _LOG.info("orchestrator ready: %d agents, %d tasks, recovered in %.3f s",
                  len(self.sm.agents), len(self.sm.tasks), self.log.recovery_s)

    def serving(self, url: str) -> None:
        """The HTTP site listens at ``url``: a replica may now campaign (its URL is what
        followers send clients to)."""
        if self.replicated and self.log is not None:
            self.log.start_election(self.cfg.advertise_url or url)

    async def read_barrier(self) -> None:
        """Before a linearizable read: wait until every write acknowledged before now is
        applied here (a no-op on the single-node log, whose state is the truth)."""
        if self.replicated and self.log is not None:
            await self.log.read_barrier()

    def begin_shutdown(self) -> None:
        """Stop being ready and release long-polls (before in-flight requests are awaited)."""
        self.ready, self.closing = False, True
        self.waiters.release_all()

    async def stop(self) -> None:
        self.begin_shutdown()
        if self.loop is not None:
            await self.loop.stop()
        if self.log is not None:
            await self.log.close()
        await self.role.close()
        if self.loop is not None:
            await self.loop.stop()
        if self.driver is not None:
            self.driver.close()

    def _on_applied(self, command, result) -> None:
        self.core.applied(command, result, time.monotonic())
        if self.loop is not None:      # a new leader's loop drains what gathered once it starts
            self.loop.drain()

    def _seen(self, agent_id: str) -> None:
        if self.replicated and not self.log.is_leader:
            from ..log.etcd import not_leader
            raise not_leader(self.cfg.replica_id, self.log.leader)
        self.core.seen(agent_id, time.monotonic(), self.clock())
        if self.loop is not None:
            self.loop.drain()

    async def _propose(self, command):
        """Log ``command``; its result once applied, or raise the ``ControlError`` refusing it.
        Under a request's idempotency key (``WRITE_KEY``) a client's write is logged ``Keyed``."""
        if self.log is None:
            raise ControlError.unavailable("the orchestrator is not started")
        key = WRITE_KEY.get()
        if key is not None and isinstance(command, cmds.KEYABLE):
            command = cmds.Keyed(at=command.at, principal=key.principal, key=key.key,
                                 digest=key.digest, expires_at=command.at + key.ttl_s,
                                 keep=key.keep, command=cmds.encode(command))
        [result] = await self.log.propose([cmds.encode(command)])
        if isinstance(result, ControlError):
            raise result
        if isinstance(result, Replayed):    # the key's write was applied before: its result
            key.replayed = True
            return result.result
        return result

    # ---- agents -------------------------------------------------------------------------
    async def register_agent(self, info: cmds.AgentInfo) -> tuple[dict, bool]:
        """Register; ``(agent view, created)``. Re-registering the same spec is a no-op."""
        existing = self.sm.agents.get(info.agent_id)
        if existing is not None:
            if existing.info == info:
                self.heartbeat(info.agent_id)
                return agent_view(existing), False
            raise ControlError.conflict("agent_exists", f"agent {info.agent_id!r} is already "
                                        "registered with another spec", "agent_id")
        if len(self.sm.agents) >= self.cfg.capacity:
            raise ControlError.conflict("capacity_exhausted", f"the engine holds at most "
                                        f"{self.cfg.capacity} agents", "agent_id")
        agent = await self._propose(cmds.RegisterAgent(at=self.clock(), agent=info))
        return agent_view(agent), True

    async def deregister_agent(self, agent_id: str) -> list[str]:
        """Remove an agent; returns the ids of its tasks sent back to pending."""
        self.agent_record(agent_id)
        if self.probes is not None:
            self.probes.forget(agent_id)
        return await self._propose(cmds.DeregisterAgent(at=self.clock(), agent_id=agent_id))

    def heartbeat(self, agent_id: str, probe_id: str | None = None,
                  healthy: bool = True) -> dict:
        """The agent is alive; with ``probe_id`` it also answers a health check (``healthy``).
        The reply carries a ``probe`` to run when the leader wants one from this agent."""
        self.agent_record(agent_id)
        self._seen(agent_id)
        out = {"agent_id": agent_id, "received_at": self.clock()}
        if self.probes is None:
            return out
        if probe_id is not None and self.probes.answered(agent_id, probe_id):
            self.driver.queue("probe_result", agent_id, True, bool(healthy))
        probe = self.probes.deliver(agent_id, time.monotonic())
        if probe is not None:
            out["probe"] = probe
        return out

    async def assignments(self, agent_id: str, wait_s: float = 0.0) -> list[dict]:
        """The agent's open assignments; waits up to ``wait_s`` for one if it has none.
        Asking counts as a heartbeat."""
        agent = self.agent_record(agent_id)
        self._seen(agent_id)
        if not agent.tasks and wait_s > 0 and not self.closing:
            await self.waiters.wait(agent_id, min(wait_s, self.cfg.long_poll_max_s))
        agent = self.sm.agents.get(agent_id)
        if agent is None:
            raise ControlError.not_found("agent", agent_id, "agent_id")
        return [assignment_view(self.sm.tasks[t]) for t in agent.tasks]

    async def report_outcome(self, agent_id: str, task_id: str, success: bool,
                             latency_s: float = 0.0, result: str | None = None,
                             reason: str = "") -> dict:
        self.agent_record(agent_id)
        self.task_record(task_id)
        at = self.clock()
        if success:
            command = cmds.Complete(at=at, task_id=task_id, agent_id=agent_id,
                                    latency_s=latency_s, result=result)
        else:
            command = cmds.Fail(at=at, task_id=task_id, agent_id=agent_id,
                                latency_s=latency_s, reason=reason)
        return task_view(await self._propose(command))

    # ---- tasks --------------------------------------------------------------------------
    async def submit_tasks(self, tasks: list[cmds.TaskInfo]) -> list[str]:
        """Accept tasks (all or none); returns their ids once durable."""
        if len(tasks) > self.cfg.max_batch_tasks:
            raise ControlError.invalid(f"{len(tasks)} tasks in one batch; at most "
                                       f"{self.cfg.max_batch_tasks}", "tasks")
        self._check_new_tasks(tasks)
        self.core.accepting([t.task_id for t in tasks], time.monotonic())
        try:
            ids = await self._propose(cmds.SubmitTasks(at=self.clock(), tasks=tuple(tasks)))
        except ControlError:
            self.core.forget([t.task_id for t in tasks])
            raise
        self.metrics.tasks_submitted.inc(len(ids))
        return ids

    def _check_new_tasks(self, tasks: list[cmds.TaskInfo]) -> None:
        strategies = self.core.strategies
        seen: set[str] = set()
        for i, t in enumerate(tasks):
            if t.task_id in self.sm.tasks or t.task_id in seen:
                raise ControlError.conflict("task_exists", f"task {t.task_id!r} already "
                                            "exists", f"tasks[{i}].task_id")
            if t.strategy is not None and t.strategy not in strategies:
                raise ControlError.invalid(f"unknown strategy {t.strategy!r}; one of "
                                           f"{sorted(strategies)}", f"tasks[{i}].strategy")
            seen.add(t.task_id)

    async def cancel_task(self, task_id: str, reason: str = "") -> dict:
        task = self.task_record(task_id)
        if task.state in TERMINAL:
            raise ControlError.conflict("invalid_transition", f"task {task_id!r} is "
                                        f"{task.state}; cannot cancel", "task_id")
        return task_view(await self._propose(cmds.Cancel(at=self.clock(), task_id=task_id,
                                                         reason=reason)))

    # ---- sessions (security) ------------------------------------------------------------
    async def revoke(self, command: cmds.RevokeSessions | cmds.RevokeToken) -> None:
        """Log a session revocation; returns once every later token check refuses it."""
        if not isinstance(command, cmds.RevokeSessions | cmds.RevokeToken):
            raise TypeError(f"not a revocation command: {type(command).__name__}")
        await self._propose(command)

    async def publish_keys(self, command: cmds.PublishKeys | cmds.PutAccount) -> None:
        """Log a replica's token-verification keys (the leader's key publisher does), or an
        account (the user administration does)."""
        await self._propose(command)


def _strategies() -> tuple[str, ...]:
    from ..scheduler import STRATEGIES

    return STRATEGIES
