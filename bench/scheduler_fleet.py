"""The benchmark's synthetic fleet and task templates (shared by ``uqo bench scheduler``).

Agents: 32 capabilities with Zipf popularity; 256 agent types of 2-6 capabilities; clearance
40/30/20/10 % at levels 0..3; compartments (none 60 %, {k0} 20 %, {k1,k2} 10 %, {k3} 10 %);
capacity 1..4; fitness uniform in [0.5, 1]; 80 % of agents in failure-domain pairs.
Tasks: ``templates`` signatures of 1-2 of the 12 most popular capabilities, a classification
(40/30/20/10 %) and usually no compartment; ``k`` uniform in 1..8; priority 0..4.
"""

from __future__ import annotations

import numpy as np

COMPARTMENT_SETS = (frozenset(), frozenset({"k0"}), frozenset({"k1", "k2"}), frozenset({"k3"}))


def fleet(n: int, seed: int = 0) -> list:
    from uqo.control.scheduler import AgentSpec

    rng = np.random.default_rng([seed, 7])
    caps = [f"c{i:02d}" for i in range(32)]
    pop = 1.0 / np.arange(1, 33)
    types = [frozenset(rng.choice(caps, rng.integers(2, 7), replace=False, p=pop / pop.sum()))
             for _ in range(256)]
    kind = rng.integers(0, 256, n)
    level = rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1])
    comp = rng.choice(4, n, p=[0.6, 0.2, 0.1, 0.1])
    cap = rng.integers(1, 5, n)
    fit = rng.uniform(0.5, 1.0, n)
    return [AgentSpec(f"agent-{i}", types[kind[i]], int(level[i]), COMPARTMENT_SETS[comp[i]],
                      int(cap[i]), f"dom-{i // 2}" if i % 10 < 8 else None, float(fit[i]))
            for i in range(n)]


def templates(count: int, seed: int = 0) -> list:
    rng = np.random.default_rng([seed, 8])
    caps = [f"c{i:02d}" for i in range(12)]
    return [(frozenset(rng.choice(caps, rng.integers(1, 3), replace=False)),
             int(rng.choice(4, p=[0.4, 0.3, 0.2, 0.1])),
             COMPARTMENT_SETS[int(rng.choice(4, p=[0.8, 0.1, 0.05, 0.05]))])
            for _ in range(count)]


def batch(rng, temps: list, size: int, prefix: str, strategy: str | None) -> list:
    from uqo.control.scheduler import TaskSpec

    which = rng.integers(0, len(temps), size)
    k = rng.integers(1, 9, size)
    prio = rng.integers(0, 5, size)
    return [TaskSpec(f"{prefix}-{j}", int(k[j]), temps[which[j]][0], temps[which[j]][1],
                     temps[which[j]][2], int(prio[j]), 0.0, strategy) for j in range(size)]
