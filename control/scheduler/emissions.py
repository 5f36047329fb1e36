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
    def __init__(self, s0: float, s1: float, prior: float = 20.0):
        # [weight, successes] per class, starting from the defaults' pseudo-outcomes
        self.n = np.array([prior, prior], np.float64)
        self.ok = np.array([s0 * prior, s1 * prior], np.float64)

    def estimate(self) -> tuple[float, float]:
        """``(s0, s1)``: each class's posterior mean success probability (``s0 < s1``)."""
        s0, s1 = self.ok / self.n
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
        self.n += [float((1.0 - w).sum()), float(w.sum())]
        self.ok += [float(((1.0 - w) * y).sum()), float((w * y).sum())]
