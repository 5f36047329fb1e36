"""Workload families: named presets of ``SimConfig``, each stressing one thing a scheduler
must cope with. ``uqo simulate --family NAME`` runs one; ``--suite standard`` runs them all.

Every family starts from the same base (2,000 agents, 300 s, Poisson 40 tasks/s, heartbeats
every 5 s with 5 % loss, a probe budget of 4 health checks per second) and changes only what
its name says, so a strategy that wins one family by exploiting its quirk has to keep up on the
others. The presets are fixed here, not fitted to any strategy.
"""

from __future__ import annotations

import dataclasses

from .config import SimConfig

BASE = {"probe_rate": 4.0}

FAMILIES: dict[str, tuple[str, dict]] = {
    "independent_flaky": (
        ("15 % of agents complete only 60 % of their tasks; agents fail alone (MTBF 1 h), "
        "no domain outages"),
        {"flaky": 0.15, "agent_mtbf_s": 3600.0, "domain_mtbf_s": 1e9}),
    "correlated_outages": (
        ("80 % of agents in domains of 2; a domain goes down as a whole every 10 min on "
        "average, some far more often (log-normal rate factor, sigma 1); lone failures rare "
        "(MTBF 4 h); 5 % flaky"),
        {"domain_mtbf_s": 600.0, "domain_rate_sigma": 1.0, "agent_mtbf_s": 14400.0,
         "flaky": 0.05}),
    "slow_degradation": (
        ("20 % of agents degrade from 0.995 to 0.5 success over 2 min, onsets spread over the "
        "run; 5 % flaky from the start"),
        {"degrade": 0.2, "flaky": 0.05}),
    "flapping_heartbeats": (
        "20 % of agents lose 40 % of their heartbeats while healthy and reliable; 10 % flaky",
        {"flapping": 0.2, "flapping_loss": 0.4}),
    "bursty_arrivals": (
        "on/off bursts at 4x the mean rate (same mean, 40 tasks/s); 10 % flaky",
        {"arrivals": "bursty"}),
    "heterogeneous": (
        ("reliabilities spread around 0.995 / 0.6 (Beta, concentration 20), speeds log-normal "
        "sigma 0.8 with declared fitness tracking speed, capacity 1..8"),
        {"reliability_conc": 20.0, "speed_sigma": 0.8, "fitness_signal": 0.8,
         "max_capacity": 8}),
    "million": (
        "1,000,000 agents, 60 s, Poisson 1,000 tasks/s, 1,000 probes/s; 10 % flaky",
        {"agents": 1_000_000, "duration_s": 60.0, "rate": 1000.0, "probe_rate": 1000.0}),
}

SUITES = {"standard": tuple(FAMILIES)}


def family_config(name: str, seed: int = 0, **overrides) -> SimConfig:
    """The ``SimConfig`` of family ``name`` with ``seed`` (and any ``overrides``)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; choose from {', '.join(FAMILIES)}")
    return SimConfig(**{**BASE, **FAMILIES[name][1], "seed": seed, **overrides})


def describe(name: str) -> str:
    return FAMILIES[name][0]


def config_doc(cfg: SimConfig) -> dict:
    return dataclasses.asdict(cfg)
