"""Which agents to health-check under a probe budget.

Use cases::

    planner = ProbePlanner(capacity)
    slots = planner.round_robin(table, n=20)           # the next 20 active agents in turn
    slots = planner.info_gain(table, gains, n=20)      # the 20 with the largest expected gain

A probe is a health check: a live agent answers and runs a small synthetic task, a dead one
does not answer. Its *information gain* is the expected drop in the entropy of the agent's
belief, i.e. the mutual information between the probe's outcome and the agent's state; the
estimator that knows the belief computes it (``belief_gains``: both factors, through
``uqo.engine.evidence.probe_gain``; ``readiness_gain`` is the one-qubit case of a probe read like
a heartbeat). Round-robin probing spends the same budget without looking.
"""

from __future__ import annotations

import numpy as np
from uqo.engine.evidence import probe_gain

PROBE_POLICIES = ("info_gain", "round_robin")


def binary_entropy(p) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log1p(-p))


def readiness_gain(p, error: float) -> np.ndarray:
    """Mutual information (nats) between a yes/no probe and a qubit with ``P(|1>) = p``, the
    probe answering "ready" with probability ``1 - error`` when ready and ``error`` when not:
    ``h(p (1 - e) + (1 - p) e) - h(e)``."""
    p = np.asarray(p, np.float64)
    return binary_entropy(p * (1 - error) + (1 - p) * error) - binary_entropy(error)


class ProbePlanner:
    """Chooses probe targets among the table's active agents."""

    def __init__(self):
        self.cursor = 0

    def round_robin(self, table, n: int) -> np.ndarray:
        active = np.flatnonzero(table.active)
        if n <= 0 or len(active) == 0:
            return np.zeros(0, np.int64)
        start = np.searchsorted(active, self.cursor)
        idx = (start + np.arange(min(n, len(active)))) % len(active)
        out = active[idx]
        self.cursor = int(out[-1]) + 1
        return out

    @staticmethod
    def info_gain(table, gains: np.ndarray, n: int) -> np.ndarray:
        """The ``n`` active agents with the largest ``gains`` (ties: lower slot first)."""
        active = np.flatnonzero(table.active)
        if n <= 0 or len(active) == 0:
            return np.zeros(0, np.int64)
        g = gains[active]
        if n >= len(active):
            return active[np.argsort(-g, kind="stable")]
        top = np.argpartition(-g, n - 1)[:n]
        return active[top[np.lexsort((active[top], -g[top]))]]


def belief_gains(sched) -> np.ndarray:
    """Per slot, the expected information gain of probing it (0 for inactive slots): the
    mutual information between the health check's outcome (no answer, healthy, unhealthy) and
    both factors of the agent's belief (``uqo.engine.evidence.probe_gain``). A probe runs a
    synthetic task, so it teaches about reliability as much as liveness; reading liveness alone
    ranked almost every agent equal once heartbeats were near-certain proof of life."""
    sched.link.snapshot()
    gains = np.zeros(sched.capacity)
    active = np.flatnonzero(sched.table.active)
    prm = sched.register.params
    gains[active] = probe_gain(sched.link.readiness(active), sched.link.reliability(active),
                               prm.success_unreliable, prm.success_reliable)
    return gains


def plan_probes(sched, n: int, policy: str) -> np.ndarray:
    """Slots to probe: ``n`` by ``policy`` (``PROBE_POLICIES``)."""
    if policy == "round_robin":
        return sched.probes.round_robin(sched.table, n)
    return sched.probes.info_gain(sched.table, belief_gains(sched), n)
