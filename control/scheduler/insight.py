"""The scheduler's questions to its belief: where to probe, what a probe answered, what the
forecast says, how long a task holds its agents, and its status counters. A mixin of ``Scheduler`` (kept apart so the
class stays small); it reads ``table``, ``register``, ``link``, ``load_forecast`` and
``_stats``, ``ring``, ``_held``, ``strategy`` of the scheduler it is mixed into.
"""

from __future__ import annotations

import math

import numpy as np

from .forecast import failure_forecast, forecast_summary
from .probing import PROBE_POLICIES, plan_probes
from .quantum import DEFAULT_HOLD_S


class BeliefQueries:
    """Probing, forecasts, the hold-time estimate and ``stats`` of a ``Scheduler``."""

    def probe_targets(self, n: int, policy: str = "info_gain") -> list[str]:
        """The ``n`` agents to health-check now: largest expected information gain of their
        belief (``info_gain``), or the next ones in turn (``round_robin``)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an int >= 0, got {n!r}")
        if policy not in PROBE_POLICIES:
            raise ValueError(f"policy must be 'info_gain' or 'round_robin', got {policy!r}")
        return self.table.ids[plan_probes(self, n, policy)].tolist()

    def probe_result(self, agent_id: str, answered: bool, healthy: bool = False,
                     latency_s: float = 0.0) -> None:
        """A health check's result: no answer counts as a failed task; an answer is a
        heartbeat plus the synthetic task's outcome (``healthy``)."""
        if not isinstance(answered, (bool, np.bool_)):
            raise ValueError(f"answered must be a bool, got {answered!r}")  # noqa: TRY004 (one error type for bad input)
        if answered:
            self.heartbeats([agent_id], self.register.now)
        self.report_outcome(agent_id, bool(answered and healthy), latency_s,
                            timed_out=not answered)
        self._stats.counts["probes"] += 1

    def failure_forecast(self, horizon_s: float, model: str = "quantum",
                         agent_ids=None) -> np.ndarray:
        """Per agent (``agent_ids``, default every active agent in slot order), the probability
        that a task given to it within ``horizon_s`` fails (``forecast`` module)."""
        horizon = _finite(horizon_s, "horizon_s")
        slots = np.flatnonzero(self.table.active) if agent_ids is None else \
            np.array([self.table.slot(a) for a in agent_ids], np.int64)
        return failure_forecast(self, slots, horizon, model)

    def forecast_summary(self, horizon_s: float, riskiest: int = 5) -> dict:
        """The fleet's forecast for the next ``horizon_s`` seconds (``/v1/status``): the load
        now and then, and the per-agent failure probabilities (mean, p90, how many above 1/2,
        the ``riskiest`` agents)."""
        return forecast_summary(self, _finite(horizon_s, "horizon_s"), riskiest)

    def hold_s(self) -> float:
        """Expected time a task holds its agents: the load forecast's, 10 s before any."""
        h = self.load_forecast.hold_s
        return DEFAULT_HOLD_S if np.isnan(h) else float(h)

    def load_now(self) -> int:
        return int(self.table.load[self.table.active].sum())

    def heartbeat(self, agent_id: str, now: float) -> None:
        """``agent_id`` was seen alive: weak measurement in the engine; it is up again."""
        self.heartbeats([agent_id], now)

    def heartbeats(self, agent_ids, now: float) -> None:
        """Many heartbeats at once (one engine call); unknown ids raise before any is applied.
        A failure declared within two heartbeat periods is taken back from the hazard's count
        (``correlation.JointFailures.heard``)."""
        slots = np.array([self.table.slot(a) for a in agent_ids], np.int64)
        _finite(now, "now")
        if len(slots) == 0:
            return
        self.table.up[slots] = True
        self.link.heartbeat(slots)
        self.joint.heard(slots, self.register.now, 2.0 * self.register.params.heartbeat_period)

    # ---- status -----------------------------------------------------------------------------
    def stats(self) -> dict:
        t = self.table
        report = self.register.report
        return {
            "agents": t.n_active, "agents_up": int((t.active & t.up).sum()),
            "tasks_held": len(self._held), "load": int(t.load[t.active].sum()),
            "capacity": int(t.cap[t.active].sum()),
            "strategy": self.strategy, "quantum_mode": self.quantum_mode,
            "counts": dict(self._stats.counts),
            "decision_latency": self._stats.latency(),
            "shards": {"count": self.ring.shards, "max_over_mean": self.ring.imbalance()},
            "engine": None if report is None else {k: float(v) for k, v in
                                                   report.__dict__.items()},
        }


def _finite(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)
