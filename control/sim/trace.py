"""Recorded traces: what the control plane observed of each agent, tick by tick, for tuning.

Use cases::

    rec = TraceRecorder(n_agents, dt=1.0, heartbeat_s=5.0)
    rec.pairs(partner_of)                     # failure-domain pairs as the scheduler paired them
    rec.event(tick, agents, HEARTBEAT)        # ... heartbeats, detections, outcomes
    rec.save("trace.npz"); tr = Trace.load("trace.npz")

A trace holds observations only (never the simulator's hidden truth), so a model tuned on it
could have been tuned on a production log: the agents' failure-domain pairs, the tick length,
the heartbeat period, and one row per event ``(tick, agent, kind)`` in the order observed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

HEARTBEAT, DOWN, SUCCESS, FAILURE, TIMEOUT = range(5)
KIND_NAMES = ("heartbeat", "down", "success", "failure", "timeout")
VERSION = 1


@dataclass(frozen=True)
class Trace:
    n_agents: int
    n_ticks: int
    dt: float
    heartbeat_s: float
    pairs: np.ndarray     # (P, 2) agent indices sharing a failure-domain cell (site A first)
    events: np.ndarray    # (E, 3) int64: tick, agent, kind (events of tick t precede tick t)

    @classmethod
    def load(cls, path) -> Trace:
        try:
            with np.load(path) as z:
                if int(z["version"]) != VERSION:
                    raise ValueError(f"trace {path}: version {int(z['version'])}, "
                                     f"expected {VERSION}")
                return cls(int(z["n_agents"]), int(z["n_ticks"]), float(z["dt"]),
                           float(z["heartbeat_s"]), z["pairs"].astype(np.int64),
                           z["events"].astype(np.int64))
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"cannot read trace {str(path)!r}: {exc}") from None

    def counts(self) -> dict:
        return {KIND_NAMES[k]: int((self.events[:, 2] == k).sum()) for k in range(5)}


class TraceRecorder:
    """Collects events during a simulation and writes a ``Trace``."""

    def __init__(self, n_agents: int, dt: float, heartbeat_s: float):
        self.n_agents, self.dt, self.heartbeat_s = n_agents, dt, heartbeat_s
        self._pairs = np.zeros((0, 2), np.int64)
        self._rows: list[np.ndarray] = []
        self.n_ticks = 0

    def pairs(self, partner: np.ndarray, site: np.ndarray) -> None:
        """``partner[i]`` (-1: none) and ``site[i]`` (0 = A) per agent index."""
        a = np.flatnonzero((partner >= 0) & (site == 0))
        self._pairs = np.column_stack([a, partner[a]]).astype(np.int64)

    def event(self, tick: int, agents, kind: int) -> None:
        agents = np.atleast_1d(np.asarray(agents, np.int64))
        if len(agents):
            self._rows.append(np.column_stack([np.full(len(agents), tick), agents,
                                               np.full(len(agents), kind)]))

    def trace(self) -> Trace:
        ev = np.concatenate(self._rows) if self._rows else np.zeros((0, 3), np.int64)
        return Trace(self.n_agents, self.n_ticks, self.dt, self.heartbeat_s, self._pairs, ev)

    def save(self, path) -> Path:
        tr = self.trace()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            np.savez_compressed(f, version=VERSION, n_agents=tr.n_agents, n_ticks=tr.n_ticks,
                                dt=tr.dt, heartbeat_s=tr.heartbeat_s, pairs=tr.pairs,
                                events=tr.events)
        return path
