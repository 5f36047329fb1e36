"""Shared builders for the scheduler tests: small fleets on a numpy engine register."""

from __future__ import annotations

import numpy as np
import pytest
from uqo.control.scheduler import AgentSpec, Scheduler, TaskSpec


def make_scheduler(capacity: int = 64, **kw) -> Scheduler:
    from uqo.engine.params import belief_defaults
    from uqo.engine.register import AgentRegister

    reg = AgentRegister(capacity=capacity, backend="numpy", seed=kw.get("seed", 0),
                        params=belief_defaults())
    return Scheduler(capacity=capacity, register=reg, **kw)


def agent(i: int, caps=("cpu",), clearance: int = 0, comps=(), capacity: int = 1,
          domain: str | None = None, fitness: float = 1.0) -> AgentSpec:
    return AgentSpec(f"a{i}", frozenset(caps), clearance, frozenset(comps), capacity, domain,
                     fitness)


def task(name: str, k: int = 1, caps=("cpu",), level: int = 0, comps=(), priority: int = 1,
         at: float = 0.0, strategy: str | None = None) -> TaskSpec:
    return TaskSpec(name, k, frozenset(caps), level, frozenset(comps), priority, at, strategy)


def set_readiness(sched: Scheduler, agent_id: str, p: float) -> None:
    """Put a single agent's belief state at readiness ``p`` (diagonal, no coherence)."""
    slot = sched.table.slot(agent_id)
    sched.register.set_cell_state(int(sched.link.eng[slot]), np.diag([1 - p, p]))
    sched.refresh_beliefs()


LABELS = (("quantum", "sample"), ("quantum", "exact"), ("round_robin", "sample"),
          ("least_connections", "sample"), ("power_of_two", "sample"), ("adaptive", "sample"),
          ("thompson", "sample"), ("ewma", "sample"))


@pytest.fixture(params=LABELS, ids=lambda p: p[0] if p[1] == "sample" else "quantum_exact")
def strategy(request):
    return request.param
