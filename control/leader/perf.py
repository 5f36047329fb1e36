"""Recent latencies and their percentiles, for ``/v1/status`` (``performance`` section).

A fixed-size ring of the last ``size`` samples: percentiles describe recent behaviour, memory
stays bounded. (Prometheus histograms keep the long-run distribution; see ``metrics``.)
"""

from __future__ import annotations

from collections import deque

import numpy as np


class LatencyWindow:
    def __init__(self, size: int = 10_000):
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be an int >= 1, got {size!r}")
        self._samples: deque[float] = deque(maxlen=size)
        self.count = 0

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)
        self.count += 1

    def summary(self) -> dict:
        """``{"count", "p50", "p95", "p99", "max"}`` in seconds over the window (None if empty)."""
        if not self._samples:
            return {"count": self.count, "p50": None, "p95": None, "p99": None, "max": None}
        arr = np.fromiter(self._samples, float, len(self._samples))
        p50, p95, p99 = np.percentile(arr, [50, 95, 99])
        return {"count": self.count, "p50": float(p50), "p95": float(p95), "p99": float(p99),
                "max": float(arr.max())}
