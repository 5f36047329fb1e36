"""``uqo bench ops``: time of the engine's general operations on a batch of two-qubit states.

For each backend it builds N random density matrices ``(N, 4, 4)`` (complex64 by default) and
times each public operation called eagerly, argument checks included, as a user calls it: one
warm-up call (JAX compiles its kernels there), then the median of ``repeats`` calls, with JAX
results waited for. These are the general, exact functions (eigensolvers, Kraus sums); the tick
uses closed forms instead (``uqo bench engine``). JSON goes to ``bench/results/ops-<backend>.json``.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np

from .machine import machine_info


def _states(n: int, dtype) -> np.ndarray:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(n, 4, 4)) + 1j * rng.normal(size=(n, 4, 4))
    rho = a @ np.conj(np.swapaxes(a, -1, -2))
    return (rho / np.trace(rho, axis1=-2, axis2=-1)[:, None, None]).astype(dtype)


def _operations(rho):
    from uqo import engine as E

    h = np.diag([1.0, 2.0, 3.0, 4.0]) + 0.1
    kraus = E.depolarizing(0.1)
    effects = np.array([np.diag([0.9, 0.2]), np.diag([0.1, 0.8])])
    return {
        "partial_trace": lambda: E.partial_trace(rho, (2, 2), 0),
        "purity": lambda: E.purity(rho),
        "von_neumann_entropy": lambda: E.von_neumann_entropy(rho),
        "mutual_information": lambda: E.mutual_information(rho, (2, 2)),
        "concurrence": lambda: E.concurrence(rho),
        "negativity": lambda: E.negativity(rho, (2, 2)),
        "evolve (shared H)": lambda: E.evolve(rho, h, 0.1),
        "apply_kraus (site 0)": lambda: E.apply_kraus(rho, kraus, 0, (2, 2)),
        "measure (site 0)": lambda: E.measure(rho, 1, 0, (2, 2))[1],
        "weak_measure (site 1)": lambda: E.weak_measure(rho, effects, 1, 1, (2, 2))[1],
    }


def _median_seconds(fn, repeats: int) -> float:
    def once():
        t = time.perf_counter()
        out = fn()
        getattr(out, "block_until_ready", lambda: None)()
        return time.perf_counter() - t

    once()
    return statistics.median(once() for _ in range(repeats))


def run(n: int, backend: str, repeats: int, dtype=np.complex64) -> list[dict]:
    from uqo.engine.backend import get_backend

    be = get_backend(backend)
    rho = be.asarray(_states(n, dtype))
    rows = []
    for name, fn in _operations(rho).items():
        sec = _median_seconds(fn, repeats)
        rows.append({"operation": name, "median_ms": sec * 1e3, "systems_per_s": n / sec})
    return rows


def main(n: int, backends: list[str], repeats: int, out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"{'backend':<7} {'operation':<24} {'median ms':>10} {'systems/s':>12}   (N={n}, 4x4 "
          "complex64)")
    for backend in backends:
        rows = run(n, backend, repeats)
        for r in rows:
            print(f"{backend:<7} {r['operation']:<24} {r['median_ms']:>10.1f} "
                  f"{r['systems_per_s']:>12.3g}")
        result = {"benchmark": "engine-ops", "backend": backend, "n_systems": n,
                  "state_shape": [4, 4], "dtype": "complex64", "repeats": repeats,
                  "machine": machine_info(), "results": rows}
        path = out_dir / f"ops-{backend}.json"
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0
