"""The scheduler: which agents run which task (DESIGN.md section 4).

Use cases::

    sched = Scheduler(capacity=100_000, strategy="quantum", seed=0)
    sched.add_agent(AgentSpec("a1", frozenset({"gpu"}), clearance=2, failure_domain="rack-1"))
    d = sched.decide([TaskSpec("t1", 2, frozenset({"gpu"}), classification=1)], now=0.0)
    d.assignments, d.pending, d.rejected
    sched.release("t1")                                    # done: capacity back
    sched.report_outcome("a1", success=True, latency_s=0.2)
    sched.heartbeat("a1", now=1.0); sched.tick(1.0)

One ``decide`` places a batch: tasks are ordered by effective priority (aging), grouped by
strategy, and each strategy proposes candidates that the matching steps (``listed``, ``ranked``)
turn into whole gangs within capacity; a task that lost a conflict gets up to ``ROUNDS``
rounds with fresh candidates. Hard constraints are checked on every candidate by the table's
predicate, so no strategy can place an agent lacking a capability, clearance or compartment.
``decide`` is deterministic given the seed, the sequence of calls and their arguments: its
random stream is ``PCG64([seed, decision number])``.
"""

from __future__ import annotations

import functools
import math
import time
from itertools import repeat

import numpy as np
from uqo.engine.partition import HashRing

from .batch import check_tasks, compile_batch
from .belief import BeliefLink
from .classical import Adaptive, LeastConnections, PowerOfTwo, RoundRobin
from .correlation import JointFailures, learn_rates
from .forecast import LoadForecast
from .insight import BeliefQueries, _finite
from .latency import PeakEwma
from .ledger import Ledger
from .outcomes import OutcomeBooks
from .probing import ProbePlanner
from .quantum import QuantumExact, QuantumSample
from .registry import AgentTable
from .scored import Scored, ewma, thompson, thompson_mean
from .sources import Sources
from .stats import SchedulerStats
from .types import QUANTUM_MODES, STRATEGIES, Assignment, Decision
from .view import View

_assignment = functools.partial(tuple.__new__, Assignment)   # ((t, ids)) -> Assignment, no frame

ROUNDS = 3


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _checked_outcome(success, timed_out, latency_s) -> float:
    """``report_outcome``'s arguments checked (``ValueError`` naming the bad one); the latency."""
    if not isinstance(success, (bool, np.bool_)):
        raise ValueError(f"success must be a bool, got {success!r}")  # noqa: TRY004 (one error type for bad input)
    if not isinstance(timed_out, (bool, np.bool_)) or (timed_out and success):
        raise ValueError(f"timed_out must be a bool and excludes success, got {timed_out!r}")
    latency = _finite(latency_s, "latency_s")
    if latency < 0:
        raise ValueError(f"latency_s must be >= 0, got {latency_s!r}")
    return latency

class Scheduler(BeliefQueries):
    """Eligibility, strategies, batched gang matching and engine feedback (module docstring).

    ``mi_threshold`` (nats): never both members of an engine pair whose mutual information is
    above it in one task. ``aging_s``: waiting this long raises a task's priority by one level.
    ``shards``: engine partitions of the consistent-hash ring (bounded loads, ``eps`` 0.25).
    """

    def __init__(self, capacity: int = 1_000_000, strategy: str = "quantum", register=None,
                 seed: int = 0, mi_threshold: float = 0.1, quantum_mode: str = "exact",
                 aging_s: float = 30.0, shards: int = 16, reward_success: float = 0.5,
                 reward_failure: float = -1.0):
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be an int >= 1, got {capacity!r}")
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        if quantum_mode not in QUANTUM_MODES:
            raise ValueError(f"quantum_mode must be one of {QUANTUM_MODES}, got {quantum_mode!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        if not (isinstance(mi_threshold, (int, float)) and mi_threshold >= 0):
            raise ValueError(f"mi_threshold must be a number >= 0, got {mi_threshold!r}")
        for name, r in (("reward_success", reward_success), ("reward_failure", reward_failure)):
            if not (isinstance(r, (int, float)) and -1 <= r <= 1):
                raise ValueError(f"{name} must be in [-1, 1], got {r!r}")
        self.aging_s = _positive(aging_s, "aging_s")
        register = register if register is not None else _make_register(capacity, seed)
        if register.capacity < capacity:
            raise ValueError(f"register capacity {register.capacity} < scheduler capacity "
                             f"{capacity}")
        self.capacity, self.strategy, self.seed = capacity, strategy, seed
        self.mi_threshold, self.quantum_mode = float(mi_threshold), quantum_mode
        self.rewards = (float(reward_success), float(reward_failure))
        self.table = AgentTable(capacity)
        self.sources = Sources(self.table)
        self.link = BeliefLink(register, capacity)
        self.ring = HashRing(shards)
        self.latency = PeakEwma(capacity)
        self.books = OutcomeBooks(capacity)
        self.load_forecast = LoadForecast()
        self.probes = ProbePlanner()
        self._started: dict[str, float] = {}
        self.joint = JointFailures(capacity, register.params.corr_rate)
        self._strategies = {"quantum": QuantumExact() if quantum_mode == "exact"
                            else QuantumSample(), "round_robin": RoundRobin(),
                            "least_connections": LeastConnections(),
                            "power_of_two": PowerOfTwo(), "adaptive": Adaptive(),
                            "thompson": Scored("thompson", thompson, mean=thompson_mean),
                            "ewma": Scored("ewma", ewma)}
        # task -> (slots, gens, a, b): its agents are slots[a:b] (one decision's arrays shared)
        self._held: dict[str, tuple[np.ndarray, np.ndarray, int, int]] = {}
        self._stats = SchedulerStats()
        self._decisions = 0

    @property
    def register(self):
        return self.link.reg

    # ---- fleet ------------------------------------------------------------------------------
    def add_agent(self, spec) -> int:
        """Register one agent; returns its slot."""
        return int(self.add_agents([spec])[0])

    def add_agents(self, specs) -> np.ndarray:
        """Register many agents at once (one engine call per kind); returns their slots.
        Registering is a sign of life: it counts as a heartbeat."""
        specs = list(specs)
        slots = self.table.add(specs)
        self.table.shard[slots] = self.ring.assign_many([s.agent_id for s in specs])
        self.link.add(slots, self.table.domain[slots])
        self.link.heartbeat(slots)
        self.latency.reset(slots)
        self.books.reset(slots)
        paired = slots[self.link.partner[slots] >= 0]
        self.joint.paired(np.r_[paired, self.link.partner[paired]], self.register.now)
        self._stats.counts["agents_added"] += len(slots)
        return slots

    def remove_agent(self, agent_id: str) -> None:
        """Unregister; tasks holding it keep their record until ``release``."""
        slot = self.table.slot(agent_id)
        partner = int(self.link.partner[slot])
        self.link.remove(slot, int(self.table.domain[slot]))
        if partner >= 0 and self.link.partner[partner] >= 0:
            self.joint.paired(np.array([partner, self.link.partner[partner]]),
                              self.register.now)
        self.ring.release(int(self.table.shard[slot]))
        self.latency.reset(slot)
        self.books.reset(slot)
        self.table.remove(agent_id)
        self._stats.counts["agents_removed"] += 1

    # ---- decisions --------------------------------------------------------------------------
    def decide(self, tasks, now: float) -> Decision:
        """Place a batch of tasks (see module docstring). Bad input raises ``ValueError`` and
        changes nothing."""
        t0 = time.perf_counter()
        now = _finite(now, "now")
        tasks = check_tasks(tasks)
        held = [t.task_id for t in tasks if t.task_id in self._held]
        if held:
            raise ValueError(f"task_id {held[0]!r} already holds agents; release it first")
        batch, rejected = compile_batch(tasks, now, self.aging_s, self.strategy, self._need,
                                        self.sources.get)
        self.link.snapshot()
        view = View(self.table, self.link, self.mi_threshold, self.latency, self.books,
                    self.register.now, self.hold_s())
        ledger = Ledger(self.table)
        rng = np.random.Generator(np.random.PCG64([self.seed, self._decisions]))
        self._decisions += 1
        for name, rows in _by_strategy(batch):
            s0 = time.perf_counter()
            self._run(name, view, ledger, batch, rows, rng)
            self._stats.decision(name, time.perf_counter() - s0, len(rows))
        decision = self._result(batch, ledger, rejected)
        decision.latency_s = time.perf_counter() - t0
        return decision

    def _need(self, caps, comps, level):
        return self.table.compile_need(caps, comps, level)


    def _run(self, name, view, ledger, batch, rows, rng) -> None:
        strategy, stats = self._strategies[name], self._stats.counts
        for _ in range(ROUNDS):
            before = ledger.count
            rows = strategy.place(view, ledger, batch, rows, rng, stats)
            if len(rows) == 0 or ledger.count == before:
                break

    def _result(self, batch, ledger, rejected: dict) -> Decision:
        out = Decision(rejected=dict(rejected))
        rows, flat, k = ledger.gangs()              # row order; whole lists per step
        n_placed = len(flat)
        if len(rows):
            names, gens = self.table.ids[flat].tolist(), self.table.gen[flat]
            ends = np.cumsum(k).tolist()
            starts = [0, *ends[:-1]]
            ids = [batch.tasks[r].task_id for r in rows.tolist()]
            self._held.update(zip(ids, zip(repeat(flat), repeat(gens), starts, ends)))
            self._started.update(dict.fromkeys(ids, self.register.now))
            gangs = map(tuple, map(names.__getitem__, map(slice, starts, ends)))
            out.assignments = list(map(_assignment, zip(ids, gangs)))    # all C-level calls
        self.load_forecast.placed(n_placed)
        placed = set(rows.tolist())
        out.pending = [t.task_id for r, t in enumerate(batch.tasks) if r not in placed]
        c = self._stats.counts
        c["decisions"] += 1
        c["assigned"] += len(out.assignments)
        c["pending"] += len(out.pending)
        c["rejected"] += len(out.rejected)
        return out

    def release(self, task_id: str) -> None:
        """The task finished or was cancelled: its agents' capacity comes back."""
        try:
            flat, gens, a, b = self._held.pop(task_id)
        except (KeyError, TypeError):
            raise ValueError(f"task_id {task_id!r} holds no agents") from None
        slots = flat[a:b]
        same = self.table.gen[slots] == gens[a:b]
        np.subtract.at(self.table.load, slots[same], 1)
        start = self._started.pop(task_id, None)
        if start is not None:
            self.load_forecast.released(self.register.now - start)
        self._stats.counts["released"] += 1

    def hold(self, task_id: str, agent_ids) -> None:
        """Record an assignment decided elsewhere (log replay on a follower, restart)."""
        if not isinstance(task_id, str) or not task_id or task_id in self._held:
            raise ValueError(f"task_id {task_id!r} is invalid or already holds agents")
        slots = np.array([self.table.slot(a) for a in agent_ids], np.int64)
        if len(slots) == 0 or len(np.unique(slots)) != len(slots):
            raise ValueError(f"agent_ids must be distinct and non-empty, got {agent_ids!r}")
        np.add.at(self.table.load, slots, 1)
        self._held[task_id] = (slots, self.table.gen[slots].copy(), 0, len(slots))
        self._started[task_id] = self.register.now

    def held(self, task_id: str) -> tuple[str, ...] | None:
        """The agents ``task_id`` holds (``None`` if it holds none)."""
        hit = self._held.get(task_id)
        if hit is None:
            return None
        slots, _, a, b = hit
        return tuple(self.table.ids[slots[a:b]].tolist())

    # ---- feedback ---------------------------------------------------------------------------
    def report_outcome(self, agent_id: str, success: bool, latency_s: float,
                       timed_out: bool = False) -> None:
        """A task outcome on ``agent_id``: a rotation of its belief at the next tick (toward
        ready on success, away on failure) and a peak-EWMA latency sample. ``timed_out``: the
        agent never answered (dead, or hung), as opposed to reporting a failure; it implies
        ``success=False``."""
        slot = self.table.slot(agent_id)
        latency = _checked_outcome(success, timed_out, latency_s)
        self.link.outcome(slot, "success" if success else "timeout" if timed_out
                          else "failure")
        self.latency.observe(slot, latency)
        self.books.observe(slot, bool(success), self.register.now)
        self._stats.counts["outcomes_ok" if success else
                           "outcomes_timed_out" if timed_out else "outcomes_failed"] += 1

    # ---- probing ----------------------------------------------------------------------------
    def agent_failed(self, agent_id: str) -> None:
        """``agent_id`` was observed failed: a "no answer" measurement (its partner's belief is
        updated through the joint state); it takes no new tasks until its next heartbeat."""
        slot = self.table.slot(agent_id)
        self.table.up[slot] = False
        self.link.failed(slot)
        partner = int(self.link.partner[slot])
        if self.joint.failed(slot, partner, self.register.now):
            self._stats.counts["joint_failures"] += 1
        self._stats.counts["failures"] += 1

    def refresh_beliefs(self) -> None:
        """Apply queued heartbeats and failures to the engine now (``decide`` does it anyway
        at its start; calling this first keeps that engine work out of decision latency)."""
        self.link.snapshot(force=True)
        self._prepare()

    def tick(self, dt: float):
        """Advance the engine register by ``dt`` seconds; returns its ``TickReport``. Ends by
        taking the belief snapshot and refreshing every agent's placement weights (a tick
        changes them all), so that this work is paid by the tick, on its thread, and the next
        decision refreshes only the agents observed since."""
        self.load_forecast.tick(dt)
        self.joint.elapsed(self.table.n_active, dt)
        learn_rates(self)
        report = self.link.tick(dt)
        self.link.snapshot()
        self._prepare()
        return report

    def _prepare(self) -> None:
        """Bring kept per-agent weights up to the current snapshot (``Scored.prepare``)."""
        for strategy in self._strategies.values():
            prepare = getattr(strategy, "prepare", None)
            if prepare is not None:
                prepare(self.link)


def _by_strategy(batch) -> list[tuple[str, np.ndarray]]:
    """Rows per strategy, strategies in order of their most urgent row."""
    names = np.array(batch.strategy, dtype=object)
    out = []
    for name in dict.fromkeys(batch.strategy):
        out.append((name, np.flatnonzero(names == name)))
    return out


def _make_register(capacity: int, seed: int):
    from uqo.engine.params import belief_defaults
    from uqo.engine.register import AgentRegister

    return AgentRegister(capacity=capacity, backend="auto", seed=seed,
                         params=belief_defaults())
