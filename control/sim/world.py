"""The simulated world, generated once from a seed and shared by every strategy.

What the scheduler is told (agent specs, task specs) and what it is not (speeds, reliabilities,
failure times) are drawn here, before any strategy runs. Randomness that depends on which agents
a strategy picks (task outcomes, per-agent task times) comes from ``crn``: a counter-based hash of
``(seed, task, agent, stream)``, so two strategies that put the same agent on the same task see
the same outcome (common random numbers, the standard variance-reduction device for comparing
policies).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from uqo.control.scheduler import AgentSpec, TaskSpec

from .config import SimConfig

N_CAPS, N_TYPES, N_TEMPLATES = 12, 32, 24
COMPARTMENTS = (frozenset(), frozenset({"alpha"}), frozenset({"beta"}))


@dataclass(frozen=True)
class World:
    config: SimConfig
    specs: list            # AgentSpec per agent index
    speed: np.ndarray      # (A,) task-time multiplier (hidden)
    reliability: np.ndarray  # (A,) probability the agent completes a task (hidden)
    domain: np.ndarray     # (A,) failure-domain index, -1 none
    tasks: list            # TaskSpec per task index, submitted_at = arrival time
    nominal: np.ndarray    # (T,) nominal task duration
    agent_failures: np.ndarray   # (F, 3): time, agent, repair seconds
    domain_failures: np.ndarray  # (G, 3): time, domain, repair seconds
    hb_loss: np.ndarray | None = None  # (A,) heartbeat loss probability (None: the config's)
    onset: np.ndarray | None = None    # (A,) start of degradation (inf: never; None: none)

    @property
    def n_agents(self) -> int:
        return len(self.specs)

    def members(self, domain: int) -> np.ndarray:
        return np.flatnonzero(self.domain == domain)

    def reliability_at(self, agents: np.ndarray, t: float) -> np.ndarray:
        """Each agent's probability of completing a task started at ``t`` (degradation
        included: linear from the onset down to ``degrade_floor`` over ``degrade_ramp_s``)."""
        base = self.reliability[agents]
        if self.onset is None:
            return base
        cfg = self.config
        frac = np.clip((t - self.onset[agents]) / cfg.degrade_ramp_s, 0.0, 1.0)
        return base - np.maximum(base - cfg.degrade_floor, 0.0) * frac

    def heartbeat_loss(self, agents: np.ndarray) -> np.ndarray:
        if self.hb_loss is None:
            return np.full(len(agents), self.config.heartbeat_loss)
        return self.hb_loss[agents]


def build_world(cfg: SimConfig) -> World:
    """The world of ``cfg``. Draws for the workload-family features (spread reliabilities,
    degradation, flapping heartbeats, per-domain rates, informative fitness) come from a second
    stream, so a config without them builds the same world as before they existed."""
    rng = np.random.default_rng([cfg.seed, 1])
    extra = np.random.default_rng([cfg.seed, 2])
    specs, domain = _agents(cfg, rng)
    speed = rng.lognormal(0.0, cfg.speed_sigma, cfg.agents)
    flaky = rng.random(cfg.agents) < cfg.flaky
    reliability = np.where(flaky, cfg.flaky_reliability, cfg.reliability)
    if cfg.reliability_conc > 0:
        c = cfg.reliability_conc
        reliability = extra.beta(c * reliability, c * (1 - reliability))
    if cfg.fitness_signal > 0:
        specs = _informative_fitness(specs, speed, cfg.fitness_signal)
    tasks, nominal = _tasks(cfg, rng, specs)
    n_dom = int(domain.max()) + 1
    dom_mtbf = cfg.domain_mtbf_s * extra.lognormal(0.0, cfg.domain_rate_sigma, max(n_dom, 0)) \
        if cfg.domain_rate_sigma > 0 else cfg.domain_mtbf_s
    hb_loss = np.where(extra.random(cfg.agents) < cfg.flapping, cfg.flapping_loss,
                       cfg.heartbeat_loss) if cfg.flapping > 0 else None
    onset = None
    if cfg.degrade > 0:
        starts = extra.uniform(0.1, 0.9, cfg.agents) * cfg.duration_s
        onset = np.where(extra.random(cfg.agents) < cfg.degrade, starts, np.inf)
    return World(cfg, specs, speed, reliability, domain, tasks, nominal,
                 _failures(rng, cfg.agents, cfg.agent_mtbf_s, cfg),
                 _failures(rng, n_dom, dom_mtbf, cfg), hb_loss, onset)


def _informative_fitness(specs: list, speed: np.ndarray, signal: float) -> list:
    """Declared fitness = ``(1 - signal) x`` the drawn value ``+ signal x`` a value in [0.5, 1]
    that falls with the agent's (hidden) speed rank: faster agents declare more."""
    rank = np.argsort(np.argsort(speed)) / max(len(speed) - 1, 1)
    honest = 1.0 - 0.5 * rank
    return [dataclasses.replace(s, fitness=float((1 - signal) * s.fitness + signal * h))
            for s, h in zip(specs, honest)]


def _agents(cfg: SimConfig, rng) -> tuple[list, np.ndarray]:
    caps = [f"cap{i:02d}" for i in range(N_CAPS)]
    pop = 1.0 / np.arange(1, N_CAPS + 1)
    types = [frozenset(rng.choice(caps, rng.integers(2, 6), replace=False, p=pop / pop.sum()))
             for _ in range(N_TYPES)]
    kind = rng.integers(0, N_TYPES, cfg.agents)
    level = rng.choice(4, cfg.agents, p=[0.3, 0.3, 0.25, 0.15])
    comp = rng.choice(3, cfg.agents, p=[0.7, 0.2, 0.1])
    cap = rng.integers(1, cfg.max_capacity + 1, cfg.agents)
    fit = rng.uniform(0.5, 1.0, cfg.agents)
    n_dom = int(cfg.in_domains * cfg.agents) // cfg.domain_size
    domain = np.full(cfg.agents, -1, np.int64)
    who = rng.permutation(cfg.agents)[:n_dom * cfg.domain_size]
    domain[who] = np.repeat(np.arange(n_dom), cfg.domain_size)
    specs = [AgentSpec(f"agent-{i}", types[kind[i]], int(level[i]), COMPARTMENTS[comp[i]],
                       int(cap[i]), None if domain[i] < 0 else f"dom-{domain[i]}",
                       float(fit[i])) for i in range(cfg.agents)]
    return specs, domain


def _templates(cfg: SimConfig, rng, specs: list) -> list:
    caps = [f"cap{i:02d}" for i in range(6)]
    out = []
    while len(out) < N_TEMPLATES:
        need = frozenset(rng.choice(caps, rng.integers(1, 3), replace=False))
        level = int(rng.choice(4, p=[0.5, 0.3, 0.15, 0.05]))
        comp = COMPARTMENTS[int(rng.choice(3, p=[0.85, 0.1, 0.05]))]
        eligible = sum(need <= s.capabilities and s.clearance >= level and comp <= s.compartments
                       for s in specs)
        if eligible >= 4 * cfg.max_k:
            out.append((need, level, comp))
    return out


def _tasks(cfg: SimConfig, rng, specs: list) -> tuple[list, np.ndarray]:
    templates = _templates(cfg, rng, specs)
    times = _arrival_times(cfg, rng)
    which = rng.integers(0, len(templates), len(times))
    k = rng.integers(1, cfg.max_k + 1, len(times))
    prio = rng.choice(5, len(times), p=[0.3, 0.3, 0.2, 0.15, 0.05])
    sigma = 0.5
    nominal = rng.lognormal(np.log(cfg.mean_duration_s) - sigma ** 2 / 2, sigma, len(times))
    tasks = [TaskSpec(f"task-{i}", int(k[i]), templates[which[i]][0], templates[which[i]][1],
                      templates[which[i]][2], int(prio[i]), float(times[i]))
             for i in range(len(times))]
    return tasks, nominal


def _arrival_times(cfg: SimConfig, rng) -> np.ndarray:
    if cfg.arrivals == "poisson":
        n = rng.poisson(cfg.rate * cfg.duration_s)
        return np.sort(rng.uniform(0, cfg.duration_s, n))
    on_mean = 15.0
    off_mean = on_mean * (cfg.burst_factor - 1)
    t, times = 0.0, []
    while t < cfg.duration_s:
        on = rng.exponential(on_mean)
        n = rng.poisson(cfg.rate * cfg.burst_factor * on)
        times.append(t + np.sort(rng.uniform(0, on, n)))
        t += on + rng.exponential(off_mean)
    out = np.concatenate(times)
    return out[out < cfg.duration_s]


def _failures(rng, n: int, mtbf, cfg: SimConfig) -> np.ndarray:
    """Poisson failure times per unit over the run: rows (time, unit, repair seconds);
    ``mtbf`` a number or one per unit."""
    if n <= 0:
        return np.zeros((0, 3))
    count = rng.poisson(cfg.duration_s / np.asarray(mtbf, np.float64), n)
    unit = np.repeat(np.arange(n), count)
    when = rng.uniform(0, cfg.duration_s, len(unit))
    repair = rng.exponential(cfg.repair_s, len(unit))
    order = np.argsort(when, kind="stable")
    return np.column_stack([when[order], unit[order], repair[order]])


_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def crn(seed: int, task: int, agents: np.ndarray, stream: int) -> np.ndarray:
    """Uniforms in [0, 1) for ``(seed, task, agent, stream)``: splitmix64 of the mixed key, so
    the value depends on nothing but its key."""
    a = np.asarray(agents, np.uint64)
    with np.errstate(over="ignore"):
        z = (np.uint64(seed) * _GOLD + np.uint64(task) * _M1 + a * _M2
             + np.uint64(stream + 1) * _GOLD)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
