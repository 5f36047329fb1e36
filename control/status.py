"""``/v1/status``: the sections of the seed's ``get_system_status()``, from measured values.

Sections: ``quantum`` (the engine's last tick: global coherence, mean entropy, entanglement as
mean pair mutual information and concurrence, readiness, leakage), ``scheduler`` (the
scheduler's own stats plus task counts), ``consensus`` (the log), ``security`` (authentication
mode and ``security_events_24h``), ``performance`` (submit-to-assigned percentiles, last
round and tick durations, uptime). Values not yet measured are ``None``, never invented.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .statemachine import TASK_STATES

if TYPE_CHECKING:
    from .service import Orchestrator

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


def security_section(orch: Orchestrator) -> dict:
    fw = orch.security
    if fw is None:
        return {"authentication": "pass-through (uqo.security not wired)",
                "security_events_24h": 0}
    return {"authentication": "enabled", "security_events_24h": int(fw.security_events_24h())}


def build_status(orch: Orchestrator) -> dict:
    sm, bg = orch.sm, orch.background
    tasks = {state: sm.counts.get(state, 0) for state in TASK_STATES}
    return {
        "quantum": quantum_section(orch.tick_report),
        "scheduler": {"strategy": orch.cfg.strategy, "tasks": tasks,
                      "agents": len(sm.agents),
                      "silent_agents": len(orch.soft.silent) if orch.soft else 0,
                      "rounds": bg.rounds if bg else 0,
                      "stats": orch.driver.stats() if orch.driver else {}},
        "consensus": orch.log_status(),
        "security": security_section(orch),
        "performance": {
            "submit_to_assigned_s": orch.latency.summary(),
            "last_round_s": bg.last_round_s if bg else None,
            "ticks": bg.ticks if bg else 0,
            "uptime_s": max(0.0, orch.clock() - orch.started_at) if orch.started_at else 0.0,
            "long_polls_waiting": len(orch.waiters),
        },
        "ready": orch.ready,
    }
