"""What one simulation run scores (named apart from the control plane's Prometheus metrics):
counters and samples, and the summary that goes into the table, JSON and plot."""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def percentiles(values, qs=(50, 95, 99)) -> dict:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {f"p{q}": None for q in qs}
    return {f"p{q}": float(v) for q, v in zip(qs, np.percentile(arr, qs))}


class RunScores:
    """Counters and samples of one run (one strategy on one world)."""

    def __init__(self, n_agents: int, bin_s: float):
        self.bin_s = bin_s
        self.counts: dict[str, int] = defaultdict(int)
        self.waits: list[float] = []
        self.batch_s: list[float] = []
        self.batch_tasks: list[int] = []
        self.refresh_s: list[float] = []
        self.busy = np.zeros(n_agents)
        self.exposed = 0
        self._bins: dict[int, dict] = defaultdict(lambda: defaultdict(float))

    def _bin(self, t: float) -> dict:
        return self._bins[int(t // self.bin_s)]

    def decision(self, t: float, seconds: float, n_tasks: int) -> None:
        self.batch_s.append(seconds)
        self.batch_tasks.append(n_tasks)
        b = self._bin(t)
        b["decide_s"] += seconds
        b["decisions"] += 1

    def expired(self, t: float) -> None:
        self.counts["expired"] += 1
        self._bin(t)["failed"] += 1

    def finished(self, t: float, ok: bool, cause: str | None) -> None:
        self.counts["succeeded" if ok else f"failed_{cause}"] += 1
        self._bin(t)["ok" if ok else "failed"] += 1

    def summary(self, duration_s: float) -> dict:
        c = self.counts
        failed = sum(v for k, v in c.items() if k.startswith("failed_"))
        done = c["succeeded"] + failed + c["expired"]
        busy = self.busy[self.busy > 0]
        per_task = [s / n * 1e6 for s, n in zip(self.batch_s, self.batch_tasks) if n]
        return {
            "arrived": c["arrived"], "assigned": c["assigned"], "succeeded": c["succeeded"],
            "failed": failed, "expired": c["expired"], "rejected": c["rejected"],
            "failed_by_cause": {k[7:]: v for k, v in c.items() if k.startswith("failed_")},
            "throughput_per_s": c["succeeded"] / duration_s,
            "success_rate": c["succeeded"] / done if done else None,
            "queue_wait_s": percentiles(self.waits),
            "decision_ms_per_batch": {k: (v * 1e3 if v is not None else None)
                                      for k, v in percentiles(self.batch_s).items()},
            "decision_us_per_task": percentiles(per_task),
            "belief_refresh_ms": {k: (v * 1e3 if v is not None else None)
                                  for k, v in percentiles(self.refresh_s).items()},
            "load_imbalance_max_over_mean": float(busy.max() / busy.mean()) if len(busy) else None,
            "correlated_exposure": self.exposed,
        }

    def series(self, duration_s: float | None = None) -> dict:
        """Per-bin success rate and mean decision latency; bins starting at or after
        ``duration_s`` (events stamped at the very end) are left out."""
        keys = sorted(k for k in self._bins
                      if duration_s is None or k * self.bin_s < duration_s)
        out = {"t": [k * self.bin_s for k in keys], "success_rate": [], "decide_ms": []}
        for k in keys:
            b = self._bins[k]
            n = b["ok"] + b["failed"]
            out["success_rate"].append(b["ok"] / n if n else None)
            out["decide_ms"].append(b["decide_s"] / b["decisions"] * 1e3 if b["decisions"]
                                    else None)
        return out
