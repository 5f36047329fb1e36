"""``uqo demo``: a fleet of agents in failure-domain pairs, ticked with live observations.

Each tick a few percent of agents send heartbeats, some report task outcomes (mostly
successes), and a few are seen failed; the register evolves every belief state and the table
shows what the scheduler would see.
"""

from __future__ import annotations

import time

import numpy as np


def run_demo(n_agents: int, ticks: int, backend: str, seed: int = 0) -> int:
    from rich.console import Console
    from rich.table import Table
    from tqdm import tqdm

    from uqo.engine.register import AgentRegister

    console = Console()
    t0 = time.perf_counter()
    reg = AgentRegister(n_agents, backend=backend, seed=seed)
    ids = reg.add_pairs(n_agents // 2)
    if n_agents % 2:
        ids = np.concatenate([ids, reg.add_singles(1)])
    console.print(f"register: {n_agents:,} agents ({n_agents // 2:,} pairs) on "
                  f"[bold]{reg.backend.name}[/] ({reg.backend.device}), built in "
                  f"{time.perf_counter() - t0:.2f} s")
    rng = np.random.default_rng(seed)
    reports = []
    k = max(1, n_agents // 50)
    for _ in tqdm(range(ticks), desc="ticks", unit="tick"):
        reg.heartbeat(rng.choice(ids, k, replace=False))
        done = rng.choice(ids, k, replace=False)
        reg.record_outcome(done, np.where(rng.random(k) < 0.9, 1.0, -1.0))
        reg.observe_failure(rng.choice(ids, max(1, k // 100), replace=False))
        reports.append(reg.tick(1.0))
    console.print(_table(reports, Table))
    ready = reg.readiness()[ids]
    console.print(f"readiness: p10 {np.quantile(ready, 0.1):.3f}  median "
                  f"{np.median(ready):.3f}  p90 {np.quantile(ready, 0.9):.3f}; agents above 0.9: "
                  f"{int((ready > 0.9).sum()):,}")
    return 0


def _table(reports, table_cls):
    table = table_cls(title="fleet diagnostics per tick")
    for col in ("tick", "ms", "global coherence", "mean entropy (nats)", "mean readiness",
                "pair MI (nats)", "concurrence", "leakage (nats)"):
        table.add_column(col, justify="right")
    step = max(1, len(reports) // 12)
    for i, r in enumerate(reports):
        if i % step and i != len(reports) - 1:
            continue
        table.add_row(f"{i + 1}", f"{r.duration_s * 1e3:.0f}", f"{r.global_coherence:.4f}",
                      f"{r.mean_entropy:.4f}", f"{r.mean_readiness:.4f}",
                      f"{r.mean_pair_mi:.5f}", f"{r.mean_concurrence:.5f}",
                      f"{r.leakage:,.1f}")
    return table
