"""Learning the reliability factor's emission probabilities ``s0``, ``s1`` online (online EM).

Use cases::

    em = EmissionLearner(s0=0.5, s1=0.98)
    em.observe(r_before, success)        # one answered task outcome; r = P(reliable) before it
    s0, s1 = em.estimate()               # posterior means, pushed to the engine each tick

The belief says an agent is reliable (``|1>``) or not and that a reliable one completes a task
with probability ``s1``, an unreliable one with ``s0`` (docs/model.md). Fixed defaults
(0.98 / 0.5) are a guess; a fleet whose good agents complete 99.5 % of their tasks and whose bad
ones 60 % makes that guess miscalibrated at both ends, and the failure forecast with it (a
belief ``r = 0.1`` forecast 45 % failures where 16 % came). This is the M-step of EM for a
two-class mixture, run online (Cappe and Moulines 2009): each outcome ``y`` of an agent whose
belief before it was ``r`` counts for class 1 with responsibility
``w = r P(y | s1) / (r P(y | s1) + (1 - r) P(y | s0))`` and for class 0 with ``1 - w``; each
class's success probability is its Beta posterior mean over those weighted counts, starting
from the defaults worth ``prior`` outcomes each. Only the class labels' belief is used, never the
outcome's future: the estimate at time ``t`` depends on outcomes before ``t`` only.

Hand-written: it is four running sums; no library offers online EM for this one mixture.
"""

from __future__ import annotations

import numpy as np

MARGIN = 0.02       # s0 stays at least this far below s1 (the classes must stay distinct)


class EmissionLearner:
    def __init__(self, s0: float, s1: float, prior: float = 20.0, memory: float = 2000.0):
        # [weight, successes] per class: the defaults' pseudo-outcomes, and the data's, which
        # fade with a memory of ``memory`` outcomes (online EM's step size: the first outcomes
        # were weighed with beliefs that knew nothing yet, so they must not count forever)
        self.prior_n = np.array([prior, prior], np.float64)
        self.prior_ok = np.array([s0 * prior, s1 * prior], np.float64)
        self.memory = float(memory)
        self.n = np.zeros(2)
        self.ok = np.zeros(2)

    def estimate(self) -> tuple[float, float]:
        """``(s0, s1)``: each class's posterior mean success probability (``s0 < s1``)."""
        s0, s1 = (self.prior_ok + self.ok) / (self.prior_n + self.n)
        s1 = float(np.clip(s1, 0.5 + MARGIN, 1.0 - 1e-4))
        return float(np.clip(s0, 1e-4, s1 - MARGIN)), s1

    def observe(self, r, success) -> None:
        """Answered outcomes (``success`` bools) of agents whose ``P(reliable)`` was ``r``."""
        r = np.clip(np.asarray(r, np.float64), 0.0, 1.0)
        y = np.asarray(success, bool)
        s0, s1 = self.estimate()
        l1 = np.where(y, s1, 1.0 - s1) * r
        l0 = np.where(y, s0, 1.0 - s0) * (1.0 - r)
        w = l1 / np.maximum(l0 + l1, 1e-300)
        fade = np.exp(-w.size / self.memory)
        self.n *= fade
        self.ok *= fade
        self.n += [float((1.0 - w).sum()), float(w.sum())]
        self.ok += [float(((1.0 - w) * y).sum()), float((w * y).sum())]


DRIFT_GRID = tuple(1.0 / np.array([3600.0, 1200.0, 400.0, 130.0, 45.0]))


class DriftFit:
    """The reliability drift rate ``nu`` chosen online by prequential likelihood.

    Use cases::

        fit = DriftFit(capacity, p0=0.9, p_star=0.5)
        fit.observe(slot, success, now, s0, s1)   # every answered outcome, in time order
        fit.reset(slots)                          # new agents
        nu = fit.best()                           # the grid rate that predicted best so far

    How fast an agent's reliability changes is a property of the fleet (slow degradation,
    repairs), not a constant: too slow a drift and a long good record hides a degrading agent
    for many failures, too fast and every agent looks new. One scalar copy of the reliability
    filter runs per grid rate (closed form of the register's maps on a diagonal qubit: drift
    ``r -> p* + (r - p*) e^{-nu dt}``, then Bayes with ``s0``, ``s1``); each outcome adds its
    log predictive probability under every rate *before* the filters see it, so the chosen rate
    is the one whose forecasts were best (prequential model selection, Dawid 1984), fitted on
    the past only. Hand-written: a few vectorised lines; the filters are the register's own
    maps in closed form.
    """

    def __init__(self, capacity: int, p0: float, p_star: float, grid=DRIFT_GRID):
        self.grid = np.asarray(grid, np.float64)
        self.p0, self.p_star = float(p0), float(p_star)
        self.r = np.full((len(self.grid), capacity), self.p0)
        self.at = np.full(capacity, np.nan)
        self.loglik = np.zeros(len(self.grid))

    def reset(self, slots) -> None:
        self.r[:, slots], self.at[slots] = self.p0, np.nan

    def observe(self, slot: int, success: bool, now: float, s0: float, s1: float) -> None:
        r = self.r[:, slot]
        if not np.isnan(self.at[slot]):
            r = self.p_star + (r - self.p_star) * np.exp(-self.grid * (now - self.at[slot]))
        p1, p0 = (s1, s0) if success else (1.0 - s1, 1.0 - s0)
        pred = p0 + (p1 - p0) * r
        self.loglik += np.log(np.maximum(pred, 1e-12))
        self.r[:, slot] = r * p1 / np.maximum(pred, 1e-12)
        self.at[slot] = now

    def best(self) -> float:
        """The grid rate with the highest prequential log likelihood (ties: the slowest)."""
        return float(self.grid[int(np.argmax(self.loglik))])
