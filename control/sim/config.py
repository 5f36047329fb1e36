"""Simulation parameters, validated (errors name the parameter and its value)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

ARRIVALS = ("poisson", "bursty")


@dataclass(frozen=True)
class SimConfig:
    """One simulated workload. Times are seconds of simulated time.

    Fleet: ``agents`` agents with ``capacity`` 1..``max_capacity``; a fraction ``flaky`` of them
    fail tasks with probability ``1 - flaky_reliability`` (hidden from the scheduler); speeds are
    log-normal (``speed_sigma``). Agents sit in failure domains of ``domain_size`` (a fraction
    ``in_domains`` of the fleet). Failures: each agent alone every ``agent_mtbf_s`` on average,
    each domain as a whole every ``domain_mtbf_s``; repair takes ``repair_s`` on average.
    Heartbeats every ``heartbeat_s``, each lost with probability ``heartbeat_loss``; the control
    plane declares an agent failed after ``detect_s`` of silence.
    Tasks: ``arrivals`` ``poisson`` or ``bursty`` (on/off modulated, ``burst_factor`` x the rate
    while on, same mean) at ``rate`` per second; ``k`` uniform in 1..``max_k``; durations
    log-normal with mean ``mean_duration_s``; timeout ``timeout_factor`` x the nominal duration;
    a task waiting longer than ``max_wait_s`` expires.
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
    flaky: float = 0.1
    flaky_reliability: float = 0.6
    reliability: float = 0.995
    domain_size: int = 2
    in_domains: float = 0.8
    agent_mtbf_s: float = 3600.0
    domain_mtbf_s: float = 1800.0
    repair_s: float = 60.0
    heartbeat_s: float = 5.0
    heartbeat_loss: float = 0.05
    detect_s: float = 15.0
    bin_s: float = 10.0

    def __post_init__(self):
        if self.arrivals not in ARRIVALS:
            raise ValueError(f"arrivals must be one of {ARRIVALS}, got {self.arrivals!r}")
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "arrivals":
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


_MAY_BE_ZERO = ("seed", "flaky", "heartbeat_loss", "in_domains")
_INTS = ("agents", "max_k", "max_capacity", "domain_size", "seed")
_FRACTIONS = ("flaky", "flaky_reliability", "reliability", "heartbeat_loss", "in_domains")
