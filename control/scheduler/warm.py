"""Load the scheduler's compiled steps before anything is timed.

numba keeps compiled functions on disk (``cache=True``), but a process still loads them on
their first call, and compiles them when the cache is cold: the first decision of a process
paid ~0.2 s warm and ~10-20 s cold. In the simulator that landed on whichever strategy ran
first (the 1M-agent family's 60 decisions put it at the p99: 274 ms for the first strategy,
83 ms for the second in the same world). ``warm_compiled`` runs small decisions of each kind
(exact and sampled belief, Thompson, EWMA; gangs, several signatures, shared agents so the
flow runs) once per process: ``uqo warmup`` calls it, and the simulator before its first run.
"""

from __future__ import annotations

import numpy as np

from .scheduler import Scheduler
from .scored import CANDIDATE_CAP, sorted_draws
from .types import AgentSpec, TaskSpec

_done: set = set()
CAPS = ("cpu", "gpu", "ssd")


def warm_compiled(backend: str = "numpy") -> bool:
    """Run the small decisions once per process and backend; returns whether it ran now."""
    from uqo.engine.register import AgentRegister

    if backend in _done:
        return False
    rng = np.random.default_rng(0)
    specs = [AgentSpec(f"warm-{i}", frozenset({"cpu", *rng.choice(CAPS[1:], int(i % 3))}),
                       int(i % 3), frozenset(), int(1 + i % 4),
                       f"dom-{i // 2}" if i % 5 else None, float(0.5 + (i % 7) / 14))
               for i in range(96)]
    for mode in ("exact", "sample"):
        sched = Scheduler(capacity=len(specs), seed=0, quantum_mode=mode,
                          register=AgentRegister(capacity=len(specs), backend=backend, seed=0))
        sched.add_agents(specs)
        sched.refresh_beliefs()
        for b, strategy in enumerate(("quantum", "thompson", "ewma")):
            tasks = [TaskSpec(f"warm-{mode}-{b}-{j}", int(1 + j % 3),
                              frozenset(CAPS[: 1 + j % 2]), int(j % 2), frozenset(), j % 3,
                              0.0, strategy) for j in range(48)]
            few = [TaskSpec(f"warm-{mode}-{b}-one-{j}", 1, frozenset({"cpu"}), 0, frozenset(),
                            0, 0.0, strategy) for j in range(3)]   # distinct units: first fit
            for batch in (tasks, few):
                for a in sched.decide(batch, now=0.0).assignments:
                    sched.release(a.task_id)
    sorted_draws(np.array([2 * CANDIDATE_CAP]), CANDIDATE_CAP, rng)   # fleets above the cap
    _done.add(backend)
    return True
