"""``/v1/status``: the sections of the seed's ``get_system_status()``, from measured values.

Sections: ``forecast`` (the belief's forecast for the next ``forecast_horizon_s``: load and
per-agent failure probability, ``Scheduler.forecast_summary``; None before the first tick),
``quantum`` (the engine's last tick: global coherence, mean entropy, entanglement as
mean pair mutual information and concurrence, readiness, leakage), ``scheduler`` (the
scheduler's own stats plus task counts), ``consensus`` (the log), ``security`` (authentication
mode and ``security_events_24h``), ``performance`` (submit-to-assigned percentiles, last
round and tick durations, uptime). Values not yet measured are ``None``, never invented.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..state.machine import TASK_STATES, StateMachine

if TYPE_CHECKING:
    from .core import LeaderCore
    from .loop import LeaderLoop
    from .perf import LatencyWindow

COHERENCE_THRESHOLD = 0.6


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def quantum_section(report) -> dict:
    if report is None:
        return {"global_coherence": None, "mean_entropy": None, "entanglement": None}
    coherence = _num(report.global_coherence)
    return {
        "global_coherence": coherence, "mean_entropy": _num(report.mean_entropy),
        "entanglement": {"mean_pair_mutual_information": _num(report.mean_pair_mi),
                         "mean_concurrence": _num(report.mean_concurrence)},
        "mean_readiness": _num(report.mean_readiness), "leakage": _num(report.leakage),
        "n_agents": int(report.n_agents), "n_pairs": int(report.n_pairs),
        "coherence_threshold": COHERENCE_THRESHOLD,
        "degraded": coherence is not None and coherence < COHERENCE_THRESHOLD,
        "tick_duration_s": _num(report.duration_s),
    }


def security_section(security) -> dict:
    if security is None:
        return {"authentication": "pass-through (uqo.security not wired)",
                "security_events_24h": 0}
    return {"authentication": "enabled",
            "security_events_24h": int(security.security_events_24h())}


def build_status(*, sm: StateMachine, core: LeaderCore, loop: LeaderLoop | None,
                 scheduler_stats: dict, strategy: str, log_status: dict, security,
                 latency: LatencyWindow, waiting: int, uptime_s: float, ready: bool,
                 forecast: dict | None = None) -> dict:
    """The whole ``/v1/status`` document from the parts that hold each value."""
    tasks = {state: sm.counts.get(state, 0) for state in TASK_STATES}
    return {
        "quantum": quantum_section(core.tick_report),
        "scheduler": {"strategy": strategy, "tasks": tasks, "agents": len(sm.agents),
                      "silent_agents": len(core.silent),
                      "rounds": loop.rounds if loop else 0, "stats": scheduler_stats},
        "consensus": log_status,
        "security": security_section(security),
        "forecast": forecast,
        "performance": {
            "submit_to_assigned_s": latency.summary(),
            "last_round_s": loop.last_round_s if loop else None,
            "ticks": loop.ticks if loop else 0,
            "uptime_s": uptime_s,
            "long_polls_waiting": waiting,
        },
        "ready": ready,
    }
