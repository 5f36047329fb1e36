"""Counters and decision-latency percentiles for ``Scheduler.stats()`` (and ``/v1/status``)."""

from __future__ import annotations

from collections import Counter, defaultdict, deque

import numpy as np

WINDOW = 4096


class SchedulerStats:
    """Counts since start and the latency of the last ``WINDOW`` decisions per strategy."""

    def __init__(self):
        self.counts: Counter = Counter()
        self._lat: dict[str, deque] = defaultdict(lambda: deque(maxlen=WINDOW))

    def decision(self, strategy: str, seconds: float, n_tasks: int) -> None:
        self._lat[strategy].append((seconds, n_tasks))

    def latency(self) -> dict:
        out = {}
        for name, window in self._lat.items():
            secs = np.array([s for s, _ in window])
            tasks = sum(n for _, n in window)
            p50, p95, p99 = np.percentile(secs, [50, 95, 99]) * 1e3
            out[name] = {"decisions": len(secs), "tasks": tasks, "p50_ms": float(p50),
                         "p95_ms": float(p95), "p99_ms": float(p99),
                         "tasks_per_s": float(tasks / secs.sum()) if secs.sum() > 0 else 0.0}
        return out
