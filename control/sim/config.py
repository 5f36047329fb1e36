"""Simulation parameters, validated (errors name the parameter and its value)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

ARRIVALS = ("poisson", "bursty")
PROBE_POLICIES = ("round_robin", "info_gain")
_TEXT = {"arrivals": ARRIVALS, "probe_policy": PROBE_POLICIES}


@dataclass(frozen=True)
class SimConfig:
    """One simulated workload. Times are seconds of simulated time.

    Fleet: ``agents`` agents with ``capacity`` 1..``max_capacity``; a fraction ``flaky`` of them
    complete a task with probability ``flaky_reliability``, the rest with ``reliability``
    (hidden from the scheduler). ``reliability_conc`` > 0 spreads each agent's value as
    ``Beta(c m, c (1 - m))`` around that two-point value ``m`` (continuous heterogeneity).
    A fraction ``degrade`` of agents degrades: from a random onset in the middle 80 % of the run,
    its reliability falls linearly to ``degrade_floor`` over ``degrade_ramp_s``.
    Speeds are log-normal (``speed_sigma``); ``fitness_signal`` in [0, 1] is how much the
    declared fitness tells about speed (0: not at all, the declared value is noise).
    Agents sit in failure domains of ``domain_size`` (a fraction ``in_domains`` of the fleet).
    Failures: each agent alone every ``agent_mtbf_s`` on average, each domain as a whole every
    ``domain_mtbf_s`` (per domain times a log-normal factor of ``domain_rate_sigma``, so some
    domains fail far more often); repair takes ``repair_s`` on average.
    Heartbeats every ``heartbeat_s``, each lost with probability ``heartbeat_loss`` (a fraction
    ``flapping`` of agents loses ``flapping_loss`` of them while healthy); the control plane
    declares an agent failed after ``detect_s`` of silence.
    Tasks: ``arrivals`` ``poisson`` or ``bursty`` (on/off modulated, ``burst_factor`` x the rate
    while on, same mean) at ``rate`` per second; ``k`` uniform in 1..``max_k``; durations
    log-normal with mean ``mean_duration_s``; timeout ``timeout_factor`` x the nominal duration;
    a task waiting longer than ``max_wait_s`` expires.
    Probing: ``probe_rate`` health checks per second (0: none), targets chosen by
    ``probe_policy`` (``round_robin`` or ``info_gain``); a probe to a live agent is a heartbeat
    and a synthetic task outcome, to a dead one a timeout.
    Forecasts are scored every ``forecast_horizon_s`` over the next ``forecast_horizon_s``.
    """

    agents: int = 2000
    duration_s: float = 300.0
    dt: float = 1.0
    seed: int = 0
    arrivals: str = "poisson"
    rate: float = 40.0
    burst_factor: float = 4.0
    max_k: int = 8
    mean_duration_s: float = 10.0
    timeout_factor: float = 3.0
    max_wait_s: float = 120.0
    max_capacity: int = 4
    speed_sigma: float = 0.4
    fitness_signal: float = 0.0
    flaky: float = 0.1
    flaky_reliability: float = 0.6
    reliability: float = 0.995
    reliability_conc: float = 0.0
    degrade: float = 0.0
    degrade_floor: float = 0.5
    degrade_ramp_s: float = 120.0
    domain_size: int = 2
    in_domains: float = 0.8
    agent_mtbf_s: float = 3600.0
    domain_mtbf_s: float = 1800.0
    domain_rate_sigma: float = 0.0
    repair_s: float = 60.0
    heartbeat_s: float = 5.0
    heartbeat_loss: float = 0.05
    flapping: float = 0.0
    flapping_loss: float = 0.4
    detect_s: float = 15.0
    probe_rate: float = 0.0
    probe_policy: str = "info_gain"
    forecast_horizon_s: float = 10.0
    bin_s: float = 10.0

    def __post_init__(self):
        for name, choices in _TEXT.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in _TEXT:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{f.name} must be a finite number, got {v!r}")
            if v < 0 or (v == 0 and f.name not in _MAY_BE_ZERO):
                raise ValueError(f"{f.name} must be > 0, got {v!r}")
            if f.name in _INTS and not isinstance(v, int):
                raise ValueError(f"{f.name} must be an int, got {v!r}")
            if f.name in _FRACTIONS and v > 1:
                raise ValueError(f"{f.name} must be in [0, 1], got {v!r}")
        if self.domain_size < 2:
            raise ValueError(f"domain_size must be >= 2, got {self.domain_size!r}")
        if self.dt > self.duration_s:
            raise ValueError(f"dt ({self.dt}) must not exceed duration_s ({self.duration_s})")


_MAY_BE_ZERO = ("seed", "flaky", "heartbeat_loss", "in_domains", "fitness_signal",
                "reliability_conc", "degrade", "domain_rate_sigma", "flapping", "flapping_loss",
                "probe_rate", "degrade_floor")
_INTS = ("agents", "max_k", "max_capacity", "domain_size", "seed")
_FRACTIONS = ("flaky", "flaky_reliability", "reliability", "heartbeat_loss", "in_domains",
              "fitness_signal", "degrade", "degrade_floor", "flapping", "flapping_loss")
