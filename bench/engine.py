"""``uqo bench engine``: ticks per second of the agent register against the memory floor.

For each size N (all agents in failure-domain pairs, d = 2, complex64) it builds a register,
runs two warm-up ticks (JAX compiles there), then times ``--ticks`` full ticks with the
diagnostics, and reports the median tick, agent-ticks/s, the bytes the tick must move at least
(the pair state read once and written once), the achieved GB/s and its fraction of the measured
large-copy bandwidth of this machine. JSON goes to ``bench/results/engine-<backend>.json``.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np

from .machine import copy_bandwidth, machine_info


def run_one(n_agents: int, ticks: int, backend: str, progress=None) -> dict:
    from uqo.engine.register import AgentRegister

    reg = AgentRegister(n_agents, backend=backend)
    ids = reg.add_pairs(n_agents // 2)
    rng = np.random.default_rng(0)
    times = []
    for t in range(ticks + 2):
        reg.heartbeat(rng.choice(ids, max(1, n_agents // 100), replace=False))
        reg.record_outcome(rng.choice(ids, max(1, n_agents // 100), replace=False), 1.0)
        t0 = time.perf_counter()
        report = reg.tick(1.0)
        if t >= 2:
            times.append(time.perf_counter() - t0)
        if progress:
            progress()
    state_bytes = (n_agents // 2) * 16 * np.dtype(np.complex64).itemsize
    moved = 2 * state_bytes
    med = statistics.median(times)
    return {"agents": n_agents, "backend": reg.backend.name, "store": type(reg._store).__name__,
            "ticks": ticks,
            "median_tick_s": med, "min_tick_s": min(times),
            "agent_ticks_per_s": n_agents / med, "bytes_per_agent": state_bytes / n_agents,
            "bytes_moved_per_tick": moved, "achieved_gb_s": moved / med / 1e9,
            "global_coherence": report.global_coherence}


def main(agents: list[int], ticks: int, backends: list[str], out: Path) -> int:
    from tqdm import tqdm

    copy_bw = copy_bandwidth(256 << 20)
    rows = []
    total = len(agents) * len(backends) * (ticks + 2)
    with tqdm(total=total, desc="bench engine", unit="tick") as bar:
        for backend in backends:
            for n in agents:
                row = run_one(n, ticks, backend, progress=bar.update)
                row["fraction_of_copy_bw"] = row["achieved_gb_s"] * 1e9 / copy_bw
                row["floor_s"] = row["bytes_moved_per_tick"] / copy_bw
                row["ratio_to_floor"] = row["median_tick_s"] / row["floor_s"]
                rows.append(row)
    _print_table(rows, copy_bw)
    out.mkdir(parents=True, exist_ok=True)
    for backend in {r["backend"] for r in rows}:
        path = out / f"engine-{backend}.json"
        doc = {"benchmark": "engine", "machine": machine_info(),
               "copy_bandwidth_gb_s": copy_bw / 1e9,
               "results": [r for r in rows if r["backend"] == backend]}
        path.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {path}")
    return 0


def _print_table(rows: list[dict], copy_bw: float) -> None:
    print(f"\nmeasured copy bandwidth: {copy_bw / 1e9:.1f} GB/s (read + write)")
    head = (f"{'backend':<8}{'store':>12}{'agents':>10}{'tick ms':>10}{'agent-ticks/s':>15}{'B/agent':>9}"
            f"{'GB/s':>8}{'of copy':>9}{'x floor':>9}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['backend']:<8}{r['store']:>12}{r['agents']:>10,}{r['median_tick_s'] * 1e3:>10.1f}"
              f"{r['agent_ticks_per_s']:>15,.0f}{r['bytes_per_agent']:>9.0f}"
              f"{r['achieved_gb_s']:>8.2f}{r['fraction_of_copy_bw']:>9.1%}"
              f"{r['ratio_to_floor']:>9.1f}")
