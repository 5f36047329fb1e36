"""Scoring forecasts on a simulated run: per-agent failure probabilities and the fleet load.

Every ``horizon`` seconds each model forecasts, for every agent, the probability that a task
outcome it reports in the next ``horizon`` seconds is a failure; each outcome reported in that
window is then scored against its agent's forecast (Brier score ``(q - y)^2`` and log loss
``-y log q - (1 - y) log(1 - q)``, ``q`` clipped to ``[EPS, 1 - EPS]``). All models watch the same
run (the same outcomes, heartbeats and failures), so their scores are paired.

The load forecast for ``now + horizon`` is scored by its absolute error against the load then,
beside persistence (the load now).
"""

from __future__ import annotations

import numpy as np
from uqo.control.scheduler.forecast import belief_factors, failure_forecast

EPS = 1e-4
LOAD_MODELS = ("little", "persistence")


class ForecastScorer:
    log: list | None = None     # a list here records every scored outcome: (agent, y,
                                # {model: q}, {belief factor: value}) (``bench/forecast_split``
                                # splits the scores by agent kind and the belief by factor)

    def __init__(self, models: tuple, horizon: float, n_agents: int):
        self.models, self.horizon = tuple(models), horizon
        self.q: dict[str, np.ndarray] | None = None
        self.factors: dict[str, np.ndarray] = {}
        self.window_end = -np.inf
        self._sq = {m: [] for m in self.models}
        self._ll = {m: [] for m in self.models}
        self._y: list[float] = []
        self._load_due: list[tuple[float, dict]] = []
        self._load_err = {m: [] for m in LOAD_MODELS}
        self.n_agents = n_agents

    def due(self, now: float) -> bool:
        return now >= self.window_end

    def snapshot(self, now: float, sched, slots: np.ndarray) -> None:
        """Take every model's forecast for the agents at ``slots`` (sim agent order)."""
        self.q = {m: np.clip(failure_forecast(sched, slots, self.horizon, m), EPS, 1 - EPS)
                  for m in self.models}
        self.window_end = now + self.horizon
        if self.log is not None:
            self.factors = belief_factors(sched, slots)
        load = sched.load_now()
        self._load_due.append((now + self.horizon, {
            "little": sched.load_forecast.forecast(self.horizon, load), "persistence": load}))

    def outcome(self, agent: int, ok: bool) -> None:
        if self.q is None:
            return
        y = 0.0 if ok else 1.0
        self._y.append(y)
        if self.log is not None:
            self.log.append((agent, y, {m: float(self.q[m][agent]) for m in self.models},
                             {k: float(v[agent]) for k, v in self.factors.items()}))
        for m in self.models:
            q = float(self.q[m][agent])
            self._sq[m].append((q - y) ** 2)
            self._ll[m].append(-np.log(q) if y else -np.log1p(-q))

    def load(self, now: float, load: int) -> None:
        while self._load_due and self._load_due[0][0] <= now:
            _, pred = self._load_due.pop(0)
            for m, v in pred.items():
                self._load_err[m].append(abs(v - load))

    def summary(self) -> dict:
        n = len(self._y)
        out = {"horizon_s": self.horizon, "outcomes": n,
               "failure_rate": float(np.mean(self._y)) if n else None, "models": {}}
        for m in self.models:
            out["models"][m] = {"brier": float(np.mean(self._sq[m])) if n else None,
                                "log_loss": float(np.mean(self._ll[m])) if n else None}
        out["load_mae"] = {m: float(np.mean(v)) if v else None
                           for m, v in self._load_err.items()}
        return out
