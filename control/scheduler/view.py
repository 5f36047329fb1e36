"""What strategies read during one decision: per-agent free capacity, the quantum score and the
anti-affinity key, computed on demand for the slots asked about (never for the whole fleet)."""

from __future__ import annotations

import numpy as np

from .compiled import free_of


class View:
    """Per-decision read access to the table, the belief snapshot, adaptive latencies and the
    outcome books (``books``, read at model time ``now``); ``hold_s``: how long a task is
    expected to hold its agents (the quantum strategy's survival horizon).

    ``score(slots) = p * fitness / max_fitness * (1 - load / capacity)`` in ``[0, 1]``, with
    ``p = <1|rho|1>`` the engine readiness; 0 for agents that are down, inactive or full.
    """

    def __init__(self, table, link, mi_threshold: float, latency, books=None, now: float = 0.0,
                 hold_s: float = 10.0):
        self.table, self.link, self.latency = table, link, latency
        self.books, self.now, self.hold_s = books, now, hold_s
        self.mi_threshold = mi_threshold
        self.fit_max = table.max_fitness()

    def free(self, slots: np.ndarray) -> np.ndarray:
        t = self.table
        return free_of(np.asarray(slots), t.active, t.up, t.cap, t.load)   # compiled

    def ready(self, slots: np.ndarray) -> np.ndarray:
        return self.link.readiness(slots).astype(np.float64)

    def quality(self, slots: np.ndarray) -> np.ndarray:
        """``p * fitness / max_fitness``: the score of an idle agent."""
        return self.ready(slots) * (self.table.fitness[slots].astype(np.float64) / self.fit_max)

    def score(self, slots: np.ndarray) -> np.ndarray:
        t = self.table
        free = self.free(slots)
        frac = np.where(free > 0, 1.0 - t.load[slots] / t.cap[slots], 0.0)
        return np.clip(self.quality(slots) * frac, 0.0, 1.0)

    def key(self, slots: np.ndarray) -> np.ndarray:
        return self.link.correlated_key(slots, self.mi_threshold)

    def load_ratio(self, slots: np.ndarray) -> np.ndarray:
        t = self.table
        return t.load[slots] / t.cap[slots]
