"""Per-agent task-outcome statistics, the classical strategies' whole knowledge of an agent.

Use cases::

    books = OutcomeBooks(capacity=1000)
    books.observe(slot, ok=False, now=12.0)       # one task outcome (or health check)
    books.mean(slots, now)                         # posterior mean success (Beta-Bernoulli)
    books.sample(slots, now, rng)                  # one Thompson draw per agent
    books.ewma(slots)                              # exponentially weighted success score

Beta-Bernoulli with a staleness discount (discounted Thompson sampling, Raj and Kalyani 2017):
an agent's success and failure counts are multiplied by ``0.5 ** (age / half_life_s)`` as they
age, so evidence from long ago weighs less and a degrading agent is noticed. The prior is
empirical Bayes: mean = the fleet's pooled (equally discounted) success rate, strength
``prior_strength`` pseudo-outcomes, so a new agent starts where the fleet is, not at 1/2.

EWMA success score: ``s <- s + alpha (y - s)`` per outcome (``y`` = 1 success, 0 failure),
starting at the fleet's pooled rate.

Time is the caller's logical clock (the scheduler passes the engine's model time); nothing
here reads a wall clock.
"""

from __future__ import annotations

import numpy as np


class OutcomeBooks:
    """Discounted Beta counts and EWMA scores per slot (module docstring)."""

    def __init__(self, capacity: int, half_life_s: float = 300.0, prior_strength: float = 2.0,
                 ewma_alpha: float = 0.2):
        self.half_life_s, self.prior_strength, self.alpha = half_life_s, prior_strength, \
            ewma_alpha
        self.succ = np.zeros(capacity)
        self.fail = np.zeros(capacity)
        self.at = np.zeros(capacity)
        self.score = np.full(capacity, np.nan)
        self.count = np.zeros(capacity, np.int64)
        self._pool = np.zeros(2)        # discounted fleet successes, failures
        self._pool_at = 0.0

    def _decay(self, age) -> np.ndarray:
        return 0.5 ** (np.maximum(age, 0.0) / self.half_life_s)

    def observe(self, slot: int, ok: bool, now: float) -> None:
        """One outcome of ``slot`` at logical time ``now``."""
        d = self._decay(now - self.at[slot])
        self.succ[slot] = self.succ[slot] * d + (1.0 if ok else 0.0)
        self.fail[slot] = self.fail[slot] * d + (0.0 if ok else 1.0)
        self.at[slot] = now
        self._pool = self._pool * self._decay(now - self._pool_at) + \
            np.array([1.0, 0.0] if ok else [0.0, 1.0])
        self._pool_at = max(self._pool_at, now)
        old = self.score[slot]
        start = self.prior_mean() if np.isnan(old) else old
        self.score[slot] = start + self.alpha * ((1.0 if ok else 0.0) - start)
        self.count[slot] += 1

    def reset(self, slots) -> None:
        """``slots`` are new agents: no evidence yet."""
        slots = np.atleast_1d(np.asarray(slots, np.int64))
        self.succ[slots], self.fail[slots], self.at[slots] = 0.0, 0.0, 0.0
        self.score[slots], self.count[slots] = np.nan, 0

    def prior_mean(self) -> float:
        """The fleet's pooled success rate (Laplace-smoothed)."""
        s, f = self._pool
        return float((s + 1.0) / (s + f + 2.0))

    def posterior(self, slots: np.ndarray, now: float) -> tuple[np.ndarray, np.ndarray]:
        """Beta parameters ``(a, b)`` of each slot's success probability at ``now``."""
        d = self._decay(now - self.at[slots])
        m = self.prior_mean()
        a = self.prior_strength * m + self.succ[slots] * d
        b = self.prior_strength * (1.0 - m) + self.fail[slots] * d
        return a, b

    def mean(self, slots: np.ndarray, now: float) -> np.ndarray:
        a, b = self.posterior(slots, now)
        return a / (a + b)

    def sample(self, slots: np.ndarray, now: float, rng: np.random.Generator) -> np.ndarray:
        """One Thompson draw of each slot's success probability."""
        a, b = self.posterior(slots, now)
        return rng.beta(a, b)

    def ewma(self, slots: np.ndarray) -> np.ndarray:
        s = self.score[slots]
        return np.where(np.isnan(s), self.prior_mean(), s)
