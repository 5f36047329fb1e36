"""``/v1/status``: the sections of the seed's ``get_system_status()``, from measured values.

Sections: ``forecast`` (the belief's forecast for the next ``forecast_horizon_s``: load and
per-agent failure probability, ``Scheduler.forecast_summary``; None before the first tick),
``quantum`` (the engine's last tick: global coherence, mean entropy, entanglement as
mean pair mutual information and concurrence, readiness, leakage), ``scheduler`` (the
scheduler's own stats plus task counts), ``consensus`` (the log), ``security`` (authentication
mode and ``security_events_24h``), ``performance`` (submit-to-assigned percentiles, last
round and tick durations, uptime), ``failure_domains`` (per failure domain: its agents, the
pair cells the belief keeps for it and their mutual information, ``failure_domains``; None
before the first tick). Values not yet measured are ``None``, never invented.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..state.machine import StateMachine
from ..state.records import TASK_STATES

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


MAX_DOMAINS = 50       # domains listed in /v1/status: the most correlated first


def failure_domains(sched, limit: int = MAX_DOMAINS) -> dict:
    """Per failure domain, from the belief's joint states: the scheduler pairs a domain's
    agents two by two into pair cells (``uqo.control.scheduler.belief``), and each pair's mutual
    information ``S(A) + S(B) - S(AB)`` (nats) is how much one member's state tells about the
    other's, i.e. how correlated their failures are believed to be. Returns ``count`` (domains
    with an active agent) and ``domains``: the ``limit`` with the highest mean pair MI (ties by
    name), each ``{domain, agents, agents_up, pairs, mean_pair_mutual_information,
    max_pair_mutual_information}`` (the MI fields None for a domain without a pair yet).
    Run on the scheduler's thread (it reads the register)."""
    table, link = sched.table, sched.link
    slots = np.flatnonzero(table.active & (table.domain >= 0))
    if len(slots) == 0:
        return {"count": 0, "domains": []}
    dom = table.domain[slots]
    n = int(dom.max()) + 1
    agents = np.bincount(dom, minlength=n)
    up = np.bincount(dom, weights=table.up[slots], minlength=n)
    head = (link.partner[slots] >= 0) & (link.site[slots] == 0)       # one slot per pair cell
    mi = sched.register.pair_mutual_information()[link.eng[slots[head]]].astype(np.float64)
    pairs = np.bincount(dom[head], minlength=n)
    total = np.bincount(dom[head], weights=mi, minlength=n)
    top = np.full(n, -np.inf)
    np.maximum.at(top, dom[head], mi)
    names = {i: name for name, i in table.domain_ids.items()}
    present = np.flatnonzero(agents)
    mean = np.divide(total, pairs, out=np.zeros(n), where=pairs > 0)
    # the ``limit`` highest mean MI (ties by name) chosen in numpy: a fleet may have many domains
    label = np.array([names[d] for d in present.tolist()])
    chosen = present[np.lexsort((label, -mean[present]))[:limit]]
    rows = []
    for d in chosen.tolist():
        paired = pairs[d] > 0
        rows.append({"domain": names[d], "agents": int(agents[d]), "agents_up": int(up[d]),
                     "pairs": int(pairs[d]),
                     "mean_pair_mutual_information": float(mean[d]) if paired else None,
                     "max_pair_mutual_information": float(top[d]) if paired else None})
    return {"count": len(present), "domains": rows}


def build_status(*, sm: StateMachine, core: LeaderCore, loop: LeaderLoop | None,
                 scheduler_stats: dict, strategy: str, log_status: dict, security,
                 latency: LatencyWindow, waiting: int, uptime_s: float, ready: bool,
                 forecast: dict | None = None, domains: dict | None = None) -> dict:
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
        "failure_domains": domains,
        "performance": {
            "submit_to_assigned_s": latency.summary(),
            "last_round_s": loop.last_round_s if loop else None,
            "ticks": loop.ticks if loop else 0,
            "uptime_s": uptime_s,
            "long_polls_waiting": waiting,
        },
        "ready": ready,
    }
