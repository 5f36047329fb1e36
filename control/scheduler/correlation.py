"""Learning how often a failure-domain pair fails together.

When both members of an engine pair are reported failed within ``window_s`` of each other
(engine time), that is one joint failure. The pair's joint-failure rate is estimated as
``(joint + prior_rate * prior_s) / (observed_s + prior_s)`` (a Gamma-Poisson posterior mean with
the engine's default rate as prior), and handed to the engine as the rate of the pair's
correlated-failure channel; that channel is what builds mutual information between the pair,
and the scheduler's anti-affinity reads that mutual information back.
"""

from __future__ import annotations

import numpy as np


class JointFailures:
    def __init__(self, capacity: int, prior_rate: float, window_s: float = 10.0,
                 prior_s: float = 600.0):
        self.prior_rate, self.window_s, self.prior_s = prior_rate, window_s, prior_s
        self.last_failed = np.full(capacity, -np.inf)
        self.joint = np.zeros(capacity, np.int64)
        self.since = np.zeros(capacity)

    def paired(self, slots: np.ndarray, now: float) -> None:
        """``slots`` start a new pairing at engine time ``now``."""
        self.joint[slots], self.since[slots] = 0, now
        self.last_failed[slots] = -np.inf

    def failed(self, slot: int, partner: int, now: float) -> float | None:
        """Record a failure; returns the pair's new rate when it was a joint failure."""
        self.last_failed[slot] = now
        if partner < 0 or now - self.last_failed[partner] > self.window_s:
            return None
        self.joint[slot] += 1
        self.joint[partner] = self.joint[slot]
        observed = max(now - self.since[slot], 0.0)
        return float((self.joint[slot] + self.prior_rate * self.prior_s)
                     / (observed + self.prior_s))
