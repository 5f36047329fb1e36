"""Learning how often agents fail, alone and together with their failure-domain partner.

When both members of an engine pair are reported failed within ``window_s`` of each other
(engine time), that is one *joint* failure; every other failure is a *lone* one. Rates are
Gamma-Poisson posterior means, pooled over the fleet first and then per pair (empirical Bayes):

* the fleet's joint rate ``(J + r0 P0) / (T + P0)`` (``J`` joint failures over ``T`` pair-seconds
  observed, ``r0`` the engine's default ``corr_rate`` as a prior worth ``P0`` pair-seconds);
* each pair's rate ``(j + pooled S) / (t + S)``: a pair that has failed together leans away
  from the fleet's rate as its own evidence grows (``S`` seconds of prior weight);
* the lone hazard ``(L + h0 H0) / (A + H0)`` per agent-second (``A`` agent-seconds observed).

The pair rate drives the engine's correlated-failure channel of that pair, which builds the
pair's mutual information (anti-affinity reads it back) and lowers both members' liveness
before either has failed on its own; the hazard drives every agent's damping toward down.
"""

from __future__ import annotations

import numpy as np


class JointFailures:
    def __init__(self, capacity: int, prior_rate: float, window_s: float = 10.0,
                 prior_s: float = 300.0, pool_prior_s: float = 3600.0,
                 prior_hazard: float = 1.0 / 3600.0):
        self.prior_rate, self.window_s, self.prior_s = prior_rate, window_s, prior_s
        self.pool_prior_s, self.prior_hazard = pool_prior_s, prior_hazard
        self.last_failed = np.full(capacity, -np.inf)
        self.joint = np.zeros(capacity, np.int64)
        self.since = np.zeros(capacity)
        self.lone = 0
        self.agent_seconds = 0.0

    def paired(self, slots: np.ndarray, now: float) -> None:
        """``slots`` start a new pairing at engine time ``now``."""
        self.joint[slots], self.since[slots] = 0, now
        self.last_failed[slots] = -np.inf

    def failed(self, slot: int, partner: int, now: float) -> bool:
        """Record a failure; True when it completes a joint failure of the pair."""
        self.last_failed[slot] = now
        if partner < 0 or now - self.last_failed[partner] > self.window_s:
            self.lone += 1
            return False
        self.lone -= 1                 # the partner's failure was counted as lone: it was not
        self.joint[slot] += 1
        self.joint[partner] = self.joint[slot]
        self.last_failed[[slot, partner]] = -np.inf     # consumed: one joint failure each
        return True

    def elapsed(self, agents: int, dt: float) -> None:
        """``agents`` agents were watched for ``dt`` more seconds."""
        self.agent_seconds += agents * dt

    def pooled_rate(self, heads: np.ndarray, now: float) -> float:
        """The fleet's joint-failure rate per pair-second (``heads``: one slot per pair)."""
        observed = float(np.maximum(now - self.since[heads], 0.0).sum())
        joint = float(self.joint[heads].sum())
        return (joint + self.prior_rate * self.pool_prior_s) / (observed + self.pool_prior_s)

    def pair_rates(self, heads: np.ndarray, now: float) -> np.ndarray:
        """Each pair's joint-failure rate (pairs given by one slot each)."""
        pooled = self.pooled_rate(heads, now)
        observed = np.maximum(now - self.since[heads], 0.0)
        return (self.joint[heads] + pooled * self.prior_s) / (observed + self.prior_s)

    def hazard(self) -> float:
        """Lone failures per agent-second."""
        h0 = self.prior_hazard
        return (max(self.lone, 0) + h0 * 3600.0) / (self.agent_seconds + 3600.0)


def learn_rates(sched) -> None:
    """Hand the learned rates to the engine before a tick: each pair cell's joint-failure rate
    (the register's ``pair_rate`` books, by cell) and, where the register keeps one, every
    agent's lone hazard."""
    link, reg, joint = sched.link, sched.register, sched.joint
    heads = np.flatnonzero((link.partner >= 0) & (link.site == 0) & sched.table.active)
    if len(heads):
        reg.pair_rate[reg.cell[link.eng[heads]]] = joint.pair_rates(heads, reg.now)
    if hasattr(reg, "set_hazard"):
        reg.set_hazard(joint.hazard())
