"""Forecasts: each agent's chance of failing a task in the next N seconds, and the fleet load.

Use cases::

    fail = failure_forecast(sched, slots, horizon_s=10.0, model="quantum")
    sched.load_forecast.forecast(horizon_s=10.0, load_now=...)   # busy agent-slots at now + N

Failure models (each an estimate of ``P(a task given to the agent within the horizon fails)``):

* ``quantum``: from the engine belief, ``1 - q`` with ``q`` what placement reads
  (``quantum.expected``): liveness ``a`` times survival over the expected hold time
  ``exp(-(h + c_pair) H)`` times the reliability's success probability ``s0 + (s1 - s0) r``,
  with ``s0``, ``s1`` learned online (``emissions``). A task fails mostly because its agent is
  unreliable or goes down while holding it; liveness alone (the old ``1 - a``) saw neither and
  scored worse than the base rate;
* ``thompson``: ``1 -`` the mean of the discounted Beta posterior (``outcomes``);
* ``ewma``: ``1 -`` the EWMA success score;
* ``base_rate``: the fleet's pooled failure rate, the same for every agent (the floor any
  forecast must beat).

Load (``LoadForecast``): with ``lam`` the EWMA rate of agent-slots placed per second and ``D``
the EWMA time a task holds its agents, the load ``L`` relaxes toward ``lam D`` (Little's law):
``L(t + N) = L e^{-N/D} + lam D (1 - e^{-N/D})``. Persistence (``L(t + N) = L``) is its baseline.
"""

from __future__ import annotations

import math

import numpy as np

from .quantum import expected, factors
from .view import View

FAILURE_MODELS = ("quantum", "thompson", "ewma", "base_rate")


def failure_forecast(sched, slots: np.ndarray, horizon_s: float, model: str) -> np.ndarray:
    """``(n,)`` probability that a task given to each slot within ``horizon_s`` fails."""
    slots = np.asarray(slots, np.int64)
    now = sched.register.now
    if model == "quantum":
        return 1.0 - expected(_view(sched), slots)
    if model == "thompson":
        return 1.0 - sched.books.mean(slots, now)
    if model == "ewma":
        return 1.0 - sched.books.ewma(slots)
    if model == "base_rate":
        return np.full(len(slots), 1.0 - sched.books.prior_mean())
    raise ValueError(f"model must be one of {FAILURE_MODELS}, got {model!r}")


def belief_factors(sched, slots: np.ndarray) -> dict:
    """The factors of the belief's ``q`` per slot (``quantum.factors``). Where the ``quantum``
    forecast is off, ``1 - factor`` says which part of the model carries it
    (``bench/forecast_split``)."""
    return factors(_view(sched), np.asarray(slots, np.int64))


def _view(sched) -> View:
    """The belief as placement reads it now."""
    sched.link.snapshot()
    return View(sched.table, sched.link, sched.mi_threshold, sched.latency, sched.books,
                sched.register.now, sched.hold_s())


class LoadForecast:
    """EWMA placement rate and hold time (module docstring); fed by the scheduler."""

    def __init__(self, tau_s: float = 60.0, alpha: float = 0.05):
        self.tau_s, self.alpha = tau_s, alpha
        self.rate = 0.0
        self.hold_s = math.nan
        self._units = 0

    def placed(self, units: int) -> None:
        self._units += int(units)

    def released(self, held_s: float) -> None:
        if math.isnan(self.hold_s):
            self.hold_s = float(held_s)
        else:
            self.hold_s += self.alpha * (float(held_s) - self.hold_s)

    def tick(self, dt: float) -> None:
        """Close a window of ``dt`` seconds of placements."""
        if dt <= 0:
            return
        beta = 1.0 - math.exp(-dt / self.tau_s)
        self.rate += beta * (self._units / dt - self.rate)
        self._units = 0

    def forecast(self, horizon_s: float, load_now: float) -> float:
        if math.isnan(self.hold_s) or self.hold_s <= 0:
            return float(load_now)
        decay = math.exp(-horizon_s / self.hold_s)
        return float(load_now * decay + self.rate * self.hold_s * (1.0 - decay))


def forecast_summary(sched, horizon: float, riskiest: int = 5) -> dict:
    """``Scheduler.forecast_summary``: load now and at ``now + horizon``, and the belief's
    failure probabilities over the active agents."""
    load = sched.load_now()
    lf = sched.load_forecast
    out = {"horizon_s": horizon, "load_now": load, "load": lf.forecast(horizon, load),
           "placement_rate_per_s": lf.rate,
           "hold_s": None if math.isnan(lf.hold_s) else lf.hold_s,
           "failure": {"mean": None, "p90": None, "above_half": 0, "riskiest": []}}
    slots = np.flatnonzero(sched.table.active)
    if len(slots) == 0:
        return out
    q = failure_forecast(sched, slots, horizon, "quantum")
    top = np.argsort(-q, kind="stable")[:riskiest]
    out["failure"] = {"mean": float(q.mean()), "p90": float(np.percentile(q, 90)),
                      "above_half": int((q > 0.5).sum()),
                      "riskiest": [{"agent_id": sched.table.ids[slots[i]],
                                    "probability": float(q[i])} for i in top.tolist()]}
    return out
