"""Per-agent peak-EWMA latency (Finagle / Linkerd): a slower observation is taken at once (the
peak), a faster one pulls the average down by ``alpha``. The adaptive strategy's cost of an
agent is ``ewma x (outstanding + 1)``; an agent never observed is costed at the fleet mean of
observed agents (1 s before any observation), so it is neither shunned nor preferred."""

from __future__ import annotations

import math

import numpy as np


class PeakEwma:
    def __init__(self, capacity: int, alpha: float = 0.3):
        self.value = np.full(capacity, np.nan)
        self.alpha = alpha
        self._sum, self._n = 0.0, 0

    def observe(self, slot: int, latency: float) -> None:
        old = self.value[slot]
        if math.isnan(old):
            new = latency
            self._n += 1
        else:
            new = latency if latency > old else old + self.alpha * (latency - old)
            self._sum -= old
        self.value[slot] = new
        self._sum += new

    def reset(self, slots) -> None:
        slots = np.atleast_1d(np.asarray(slots, np.int64))
        old = self.value[slots]
        seen = ~np.isnan(old)
        self._sum -= float(old[seen].sum())
        self._n -= int(seen.sum())
        self.value[slots] = np.nan

    def default(self) -> float:
        return self._sum / self._n if self._n else 1.0

    def cost(self, slots: np.ndarray, load: np.ndarray) -> np.ndarray:
        v = self.value[slots]
        return np.where(np.isnan(v), self.default(), v) * (load + 1)
