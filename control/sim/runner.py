"""The discrete-event loop: one strategy on one world.

Time advances in ticks of ``dt``. Within a tick, events (arrivals, task ends, agent and domain
failures, repairs) are processed in time order; at the tick boundary the control plane does what
it does every tick: heartbeats that arrived are fed to the scheduler (a lost heartbeat leaves the
belief to decay), agents silent for ``detect_s`` are declared failed, tasks that waited too long
expire, the queue is decided as one batch (its wall time is the decision latency), and the
engine register advances by ``dt``.

A task runs on its ``k`` agents. Agent ``a`` needs ``nominal x speed_a x noise`` seconds and
completes with probability ``reliability_a``; an agent that is down when assigned (failed but not
yet detected) never acknowledges and fails the task after ``DISPATCH_TIMEOUT_S``; a task fails when
its first agent fails, or at its timeout; every agent's own outcome and latency is reported.
An agent that goes down fails every task it is running; a domain failure that takes down two or
more agents of one running task counts as one *correlated exposure*.
"""

from __future__ import annotations

import heapq
import math
import time

import numpy as np
from scipy.special import ndtri
from uqo.control.scheduler.forecast import FAILURE_MODELS

from .forecasting import ForecastScorer
from .scores import RunScores
from .trace import DOWN, FAILURE, HEARTBEAT, SUCCESS, TIMEOUT, TraceRecorder
from .world import World, crn

DISPATCH_TIMEOUT_S = 5.0


class Simulation:
    def __init__(self, world: World, scheduler, progress=None, forecast_models=FAILURE_MODELS,
                 probe_policy: str | None = None, record: bool = False):
        cfg = world.config
        self.w, self.cfg, self.sched, self.progress = world, cfg, scheduler, progress
        self.scores = RunScores(world.n_agents, cfg.bin_s)
        self.forecast = ForecastScorer(forecast_models, cfg.forecast_horizon_s, world.n_agents) \
            if forecast_models else None
        self._probe_budget, self._probes = 0.0, 0
        self.probe_policy = probe_policy or cfg.probe_policy
        self.recorder = TraceRecorder(world.n_agents, cfg.dt, cfg.heartbeat_s) if record \
            else None
        self._step = 0
        self.alive = np.ones(world.n_agents, bool)
        self.last_heard = np.zeros(world.n_agents)
        self.declared = np.zeros(world.n_agents, bool)
        self.next_hb = crn(cfg.seed, 0, np.arange(world.n_agents), 90) * cfg.heartbeat_s
        self.hb_count = np.zeros(world.n_agents, np.int64)
        self.queue: dict[str, int] = {}
        self.running: dict[int, dict] = {}
        self.by_agent: dict[int, set] = {}
        self.events: list = []
        self._seq = 0
        self._index = {t.task_id: i for i, t in enumerate(world.tasks)}
        self._ids = {s.agent_id: i for i, s in enumerate(world.specs)}

    def run(self) -> RunScores:
        self.slot = self.sched.add_agents(self.w.specs)
        if self.recorder:
            self._record_pairs()
        self._schedule_failures()
        next_task, n_ticks = 0, math.ceil(self.cfg.duration_s / self.cfg.dt)
        for step in range(1, n_ticks + 1):
            self._step = step - 1
            now = step * self.cfg.dt
            next_task = self._arrivals(next_task, now)
            self._events_until(now)
            self._heartbeats(now)
            self._probe(now)
            self._detect(now)
            self._expire(now)
            self._score_forecasts(now)
            self._decide(now)
            self.sched.tick(self.cfg.dt)
            if self.recorder:
                self.recorder.n_ticks = step
            if self.progress:
                self.progress(1)
        return self.scores

    def _record_pairs(self) -> None:
        index = np.full(self.sched.capacity, -1, np.int64)
        index[self.slot] = np.arange(len(self.slot))
        partner = self.sched.link.partner[self.slot]
        self.recorder.pairs(np.where(partner >= 0, index[np.maximum(partner, 0)], -1),
                            self.sched.link.site[self.slot])

    def _record(self, agents, kind: int) -> None:
        if self.recorder:
            self.recorder.event(self._step, agents, kind)

    # ---- events -----------------------------------------------------------------------------
    def _push(self, t: float, kind: str, data) -> None:
        self._seq += 1
        heapq.heappush(self.events, (t, self._seq, kind, data))

    def _schedule_failures(self) -> None:
        for t, agent, repair in self.w.agent_failures.tolist():
            self._push(t, "agent_down", (int(agent), repair))
        for t, dom, repair in self.w.domain_failures.tolist():
            self._push(t, "domain_down", (int(dom), repair))

    def _arrivals(self, i: int, now: float) -> int:
        tasks = self.w.tasks
        while i < len(tasks) and tasks[i].submitted_at <= now:
            self.queue[tasks[i].task_id] = i
            self.scores.counts["arrived"] += 1
            i += 1
        return i

    def _events_until(self, now: float) -> None:
        while self.events and self.events[0][0] <= now:
            t, _, kind, data = heapq.heappop(self.events)
            getattr(self, f"_on_{kind}")(t, data)

    def _on_agent_down(self, t: float, data) -> None:
        agent, repair = data
        if not self.alive[agent]:
            return
        self.alive[agent] = False
        self._push(t + repair, "agent_up", agent)
        for task in list(self.by_agent.get(agent, ())):
            self._fail_running(task, t, agent)

    def _on_domain_down(self, t: float, data) -> None:
        dom, repair = data
        members = self.w.members(dom)
        hits: dict[int, int] = {}
        for a in members[self.alive[members]].tolist():
            for task in self.by_agent.get(a, ()):
                hits[task] = hits.get(task, 0) + 1
        self.scores.exposed += sum(1 for n in hits.values() if n > 1)
        for a in members.tolist():
            self._on_agent_down(t, (a, repair))

    def _on_agent_up(self, t: float, agent: int) -> None:
        self.alive[agent] = True
        self.next_hb[agent] = t

    def _on_task_end(self, t: float, task: int) -> None:
        run = self.running.get(task)
        if run is not None:
            self._finish(task, t, run["cause"], run["ok_agents"], run["lat"], run["report"])

    # ---- control plane per tick ---------------------------------------------------------------
    def _heartbeats(self, now: float) -> None:
        due = np.flatnonzero(self.alive & (self.next_hb <= now))
        if len(due) == 0:
            return
        lost = crn(self.cfg.seed, 1 << 20, due * 1_000_003 + self.hb_count[due], 91) \
            < self.w.heartbeat_loss(due)
        self.hb_count[due] += 1
        self.next_hb[due] += self.cfg.heartbeat_s
        heard = due[~lost]
        self.sched.heartbeats([self.w.specs[a].agent_id for a in heard.tolist()], now)
        self.last_heard[heard], self.declared[heard] = now, False
        self._record(heard, HEARTBEAT)

    def _probe(self, now: float) -> None:
        """Spend the probe budget: the scheduler names the targets; a live agent answers
        (heard now) and runs a synthetic task that succeeds as a real one would; a dead one
        does not answer."""
        self._probe_budget += self.cfg.probe_rate * self.cfg.dt
        n = int(self._probe_budget)
        if n == 0:
            return
        self._probe_budget -= n
        for agent_id in self.sched.probe_targets(n, self.probe_policy):
            a = self._ids[agent_id]
            self._probes += 1
            if not self.alive[a]:
                self.sched.probe_result(agent_id, False)
                self._record(a, TIMEOUT)
                continue
            u = crn(self.cfg.seed, self._probes, np.array([a]), 92)[0]
            healthy = bool(u < self.w.reliability_at(np.array([a]), now)[0])
            self.sched.probe_result(agent_id, True, healthy)
            self._record(a, HEARTBEAT)
            self._record(a, SUCCESS if healthy else FAILURE)
            self.last_heard[a], self.declared[a] = now, False
        self.scores.counts["probes"] += n

    def _score_forecasts(self, now: float) -> None:
        if self.forecast is None:
            return
        self.forecast.load(now, self.sched.load_now())
        if self.forecast.due(now):
            self.forecast.snapshot(now, self.sched, self.slot)

    def _detect(self, now: float) -> None:
        silent = np.flatnonzero(~self.declared & (now - self.last_heard > self.cfg.detect_s))
        for a in silent.tolist():
            self.sched.agent_failed(self.w.specs[a].agent_id)
            self.declared[a] = True
        self._record(silent, DOWN)

    def _expire(self, now: float) -> None:
        tasks = self.w.tasks
        old = [tid for tid, i in self.queue.items()
               if now - tasks[i].submitted_at > self.cfg.max_wait_s]
        for tid in old:
            del self.queue[tid]
            self.scores.expired(now)

    def _decide(self, now: float) -> None:
        if not self.queue:
            return
        batch = [self.w.tasks[i] for i in self.queue.values()]
        t0 = time.perf_counter()
        self.sched.refresh_beliefs()
        self.scores.refresh_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        decision = self.sched.decide(batch, now)
        self.scores.decision(now, time.perf_counter() - t0, len(batch))
        for tid in decision.rejected:
            del self.queue[tid]
            self.scores.counts["rejected"] += 1
        for a in decision.assignments:
            task = self.queue.pop(a.task_id)
            self._start(task, np.array([self._ids[x] for x in a.agent_ids]), now)

    # ---- task execution -----------------------------------------------------------------------
    def _start(self, task: int, agents: np.ndarray, now: float) -> None:
        m = self.scores
        m.counts["assigned"] += 1
        m.waits.append(now - self.w.tasks[task].submitted_at)
        cause, end, ok_agents, lat, report = _outcome(self.w, task, agents, self.alive[agents],
                                                      now)
        self.running[task] = {"agents": agents, "start": now, "cause": cause,
                              "alive": self.alive[agents].copy(),
                              "ok_agents": ok_agents, "lat": lat, "report": report}
        for a in agents.tolist():
            self.by_agent.setdefault(a, set()).add(task)
        self._push(now + end, "task_end", task)

    def _fail_running(self, task: int, t: float, agent: int) -> None:
        run = self.running[task]
        n = len(run["agents"])
        self._finish(task, t, "agent_down", np.zeros(n, bool), np.full(n, t - run["start"]),
                     run["agents"] == agent)

    def _finish(self, task, t, cause, ok_agents, lat, report) -> None:
        run = self.running.pop(task)
        agents = run["agents"]
        for a in agents.tolist():
            self.by_agent[a].discard(task)
        self.scores.busy[agents] += t - run["start"]
        # No answer (dead at dispatch, down mid-task, too slow) is a timeout to the control
        # plane; a live agent whose task failed reports the failure.
        silent = ~run["alive"] | (cause in ("agent_down", "timeout"))
        for a, good, seconds, mute in zip(agents[report].tolist(), ok_agents[report].tolist(),
                                          lat[report].tolist(), silent[report].tolist()):
            self.sched.report_outcome(self.w.specs[a].agent_id, bool(good), float(seconds),
                                      timed_out=bool(mute and not good))
            self._record(a, SUCCESS if good else TIMEOUT if mute else FAILURE)
            if self.forecast is not None:
                self.forecast.outcome(a, bool(good))
        self.sched.release(self.w.tasks[task].task_id)
        self.scores.finished(t, cause is None, cause)


def _outcome(world: World, task: int, agents: np.ndarray, alive: np.ndarray,
             now: float = 0.0) -> tuple:
    """``(cause | None, seconds until the task ends, per-agent ok, per-agent latency, which
    agents report)`` for a task started at ``now`` on ``agents``."""
    cfg = world.config
    noise = np.exp(0.2 * ndtri(np.clip(crn(cfg.seed, task, agents, 1), 1e-12, 1 - 1e-12)))
    lat = world.nominal[task] * world.speed[agents] * noise
    works = crn(cfg.seed, task, agents, 0) < world.reliability_at(agents, now)
    fail_at = np.where(alive, np.where(works, np.inf, 0.5 * lat), DISPATCH_TIMEOUT_S)
    timeout = cfg.timeout_factor * world.nominal[task]
    first = float(fail_at.min())
    if first < min(float(lat.max()), timeout):
        culprit = fail_at == first
        cause = "dead_on_dispatch" if not alive[culprit].all() else "agent_failed"
        ok = ~culprit & (lat <= first)
        return cause, first, ok, np.where(culprit, first, lat), culprit | ok
    if lat.max() > timeout:
        slow = lat > timeout
        return "timeout", timeout, ~slow, np.minimum(lat, timeout), np.ones(len(lat), bool)
    return None, float(lat.max()), np.ones(len(lat), bool), lat, np.ones(len(lat), bool)
