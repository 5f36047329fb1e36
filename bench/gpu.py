"""``uqo bench gpu``: kernel correctness against numpy, then the fused tick's speed per backend.

1. Checks: every fused kernel available here (``numba``, ``jax`` fused, ``cupy`` CUDA) ticks a
   random register of 4,096 pairs and is compared with the numpy reference (max abs error, pass
   at 1e-5).
2. Benchmarks, for each N (agents, all in pairs): warm-up, then the median of ``--ticks`` fused
   pair ticks on state that stays on the device (parameters prepared once: the register's host
   bookkeeping is measured by ``uqo bench engine``). Per row: agent-ticks/s, bytes of state read
   and written per tick (128 B per pair each way: complex64 4x4), achieved GB/s, that as a
   fraction of the device's copy bandwidth measured in the same run, and speed versus the numpy
   reference on the CPU (measured at the smallest N, extrapolated linearly above it).
3. NVML telemetry before and after; JSON to ``bench/results/gpu-<host kind>.json``.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path

import numpy as np

from .machine import copy_bandwidth, machine_info

KERNEL_BACKENDS = ("cupy", "jax", "numba", "numpy")
STATE_BYTES_PER_PAIR = 16 * 8


def random_pairs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 4, 4)) + 1j * rng.normal(size=(n, 4, 4))
    rho = a @ a.conj().transpose(0, 2, 1)
    rho = (rho / np.trace(rho, axis1=1, axis2=2).real[:, None, None]).astype(np.complex64)
    params = [rng.uniform(0, 0.05, n).astype(np.float32) for _ in range(7)]
    params += [np.where(rng.random(n) < 0.01, 1.0, 0.0).astype(np.float32) for _ in range(2)]
    return rho, rng.uniform(0, 1, n), params


def _available(name: str) -> str | None:
    """None when the backend can run here, else the reason."""
    from uqo.kernels.stores import numba_available

    if name == "numba":
        return None if numba_available() else "numba is not installed"
    if name == "cupy":
        from uqo.engine.backend import available_backends

        ok, why = available_backends(probe=True)["cupy"]
        return None if ok else why
    return None


def _runner(name: str, rho, s, params):
    """``(tick(), sync(), result())``: one in-place fused tick of ``name`` on its device, a
    device sync, and the current ``(rho, diag)``."""
    if name == "numba":
        from uqo.kernels import numba_tick as nt

        out = np.empty((len(nt.PAIR_KEYS), len(rho)))
        return ((lambda: nt.pairs_inplace(rho, s, params, 0.05, math.pi / 4, out)),
                (lambda: None), (lambda: (rho, dict(zip(nt.PAIR_KEYS, out)))))
    if name == "numpy":
        from uqo.engine.tick import tick_pairs

        return ((lambda: tick_pairs(rho, s, *params, 0.05, math.pi / 4)), (lambda: None),
                None)
    if name == "jax":
        return _jax_runner(rho, s, params)
    return _cupy_runner(rho, s, params)


def _jax_runner(rho, s, params):
    import jax
    from uqo.engine.backend import get_backend
    from uqo.engine.store import make_store

    store = make_store(get_backend("jax"))
    state = {"rho": jax.device_put(rho), "s": jax.device_put(s),
             "args": [jax.device_put(p) for p in params]}

    def tick():
        state["rho"], state["s"], state["diag"] = store.run_pairs(
            state["rho"], state["s"], len(rho), state["args"], 0.05, math.pi / 4)
    return (tick, lambda: jax.block_until_ready(state["rho"]),
            lambda: (state["rho"], state["diag"]))


def _cupy_runner(rho, s, params):
    import cupy
    from uqo.kernels import cupy_tick as ct

    d_rho, d_s = cupy.asarray(rho), cupy.asarray(s)
    d_params = cupy.asarray(np.stack(params))
    live = cupy.ones(len(rho), cupy.uint8)
    out = cupy.empty((len(ct.PAIR_KEYS), len(rho)), cupy.float32)
    agg = cupy.zeros(len(ct.PAIR_AGGREGATES), cupy.float64)
    return ((lambda: ct.pairs_inplace(d_rho, d_s, d_params, live, 0.05, math.pi / 4, out, agg)),
            cupy.cuda.get_current_stream().synchronize,
            lambda: (d_rho, dict(zip(ct.PAIR_KEYS, out))))


def check_kernels(n: int = 4096) -> list[dict]:
    """Max abs error of each available fused kernel against the numpy reference."""
    from uqo.engine.backend import to_numpy
    from uqo.engine.tick import tick_pairs

    rho, s, params = random_pairs(n, seed=1)
    want_rho, want = tick_pairs(rho, s, *params, 0.05, math.pi / 4)
    rows = []
    for name in ("numba", "jax", "cupy"):
        why = _available(name)
        if why:
            rows.append({"kernel": name, "status": "skipped", "reason": why})
            continue
        r, ss = rho.copy(), s.copy()
        tick, sync, result = _runner(name, r, ss, [p.copy() for p in params])
        tick()
        sync()
        got_rho, got = result()
        err = max(float(np.abs(to_numpy(got_rho) - want_rho).max()),
                  *(float(np.abs(to_numpy(got[k]) - want[k]).max()) for k in want))
        rows.append({"kernel": name, "status": "pass" if err <= 1e-5 else "FAIL",
                     "max_abs_error": err})
    return rows


def device_copy_bandwidth(name: str) -> float:
    """Bytes/s (read + written) of a large copy on ``name``'s device."""
    if name != "cupy":
        return copy_bandwidth(256 << 20)
    import cupy

    src = cupy.ones(1 << 28, cupy.float32)
    dst = cupy.empty_like(src)
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    times = []
    for _ in range(6):
        start.record()
        cupy.copyto(dst, src)
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop) / 1e3)
    return 2 * src.nbytes / statistics.median(times[1:])


def bench_one(name: str, n_agents: int, ticks: int) -> dict:
    rho, s, params = random_pairs(n_agents // 2)
    tick, sync, _ = _runner(name, rho, s, params)
    for _ in range(2):
        tick()
    sync()
    times = []
    for _ in range(ticks):
        t0 = time.perf_counter()
        tick()
        sync()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    moved = 2 * STATE_BYTES_PER_PAIR * (n_agents // 2)
    return {"backend": name, "agents": n_agents, "ticks": ticks, "median_tick_s": med,
            "agent_ticks_per_s": n_agents / med, "bytes_per_agent": STATE_BYTES_PER_PAIR / 2,
            "bytes_moved_per_tick": moved, "achieved_gb_s": moved / med / 1e9}


def peer_comparison() -> dict:
    """The same-workload comparison with dynamiqs (``uqo.bench.peers``; optional extra
    ``peers``): ``{"status", "reason", ...}``, skipped with the reason when it is missing."""
    from .peers import compare

    return compare(systems=8192, steps=100)


def main(agents: list[int], ticks: int, backends: list[str], out: Path,
         check_only: bool = False) -> int:
    from uqo.kernels.nvml import gpu_telemetry

    before = gpu_telemetry()
    checks = check_kernels()
    _print_checks(checks)
    rows: list[dict] = []
    if not check_only:
        rows = _bench_all(agents, ticks, backends)
        _print_table(rows)
    peer = peer_comparison()
    print(f"peer (dynamiqs): {peer['status']}: {peer['reason']}")
    doc = {"benchmark": "gpu", "machine": machine_info(), "telemetry_before": before,
           "telemetry_after": gpu_telemetry(), "checks": checks, "results": rows,
           "peer": peer}
    out.mkdir(parents=True, exist_ok=True)
    kind = "gpu" if before["available"] else "cpu"
    path = out / f"gpu-{kind}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {path}")
    return 0 if all(c["status"] != "FAIL" for c in checks) else 1


def _bench_all(agents, ticks, backends) -> list[dict]:
    rows, copy_bw = [], {}
    for name in backends:
        why = _available(name)
        if why:
            print(f"{name}: skipped ({why})")
            continue
        copy_bw[name] = device_copy_bandwidth(name)
        for n in agents:
            if name == "numpy" and n > 2_000_000:
                continue   # the generic reference takes seconds per tick; its scaling is linear
            row = bench_one(name, n, ticks)
            row["copy_bandwidth_gb_s"] = copy_bw[name] / 1e9
            row["fraction_of_copy_bw"] = row["achieved_gb_s"] * 1e9 / copy_bw[name]
            rows.append(row)
    ref = [r for r in rows if r["backend"] == "numpy"]
    for r in rows:
        if ref:
            r["speedup_vs_numpy"] = r["agent_ticks_per_s"] / ref[0]["agent_ticks_per_s"]
    return rows


def _print_checks(checks: list[dict]) -> None:
    print("kernel checks against the numpy reference (4,096 random pairs, tolerance 1e-5):")
    for c in checks:
        detail = c.get("reason") or f"max abs error {c['max_abs_error']:.2e}"
        print(f"  {c['kernel']:<6} {c['status']:<8} {detail}")


def _print_table(rows: list[dict]) -> None:
    head = (f"{'backend':<8}{'agents':>12}{'tick ms':>10}{'agent-ticks/s':>16}{'B/agent':>9}"
            f"{'GB/s':>9}{'of copy':>9}{'vs numpy':>10}")
    print(head)
    print("-" * len(head))
    for r in rows:
        vs = f"{r['speedup_vs_numpy']:.1f}x" if "speedup_vs_numpy" in r else "-"
        print(f"{r['backend']:<8}{r['agents']:>12,}{r['median_tick_s'] * 1e3:>10.2f}"
              f"{r['agent_ticks_per_s']:>16,.0f}{r['bytes_per_agent']:>9.0f}"
              f"{r['achieved_gb_s']:>9.2f}{r['fraction_of_copy_bw']:>9.1%}{vs:>10}")
