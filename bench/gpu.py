"""``uqo bench gpu``: kernel correctness against numpy, then the fused tick's speed per backend.

1. Checks: every fused kernel available here (``numba``, ``jax`` fused, ``cupy`` CUDA) ticks a
   random register of 4,096 pairs and is compared with the numpy reference (max abs error, pass
   at 1e-5).
2. Benchmarks, for each N (agents, all in pairs): warm-up, then the median of ``--ticks`` fused
   pair ticks on state that stays on the device (parameters prepared once: the register's host
   bookkeeping is measured by ``uqo bench engine``). Per row: agent-ticks/s, bytes of state read
   and written per tick (128 B per pair each way: complex64 4x4), achieved GB/s, that as a
   fraction of the device's copy bandwidth measured in the same run, speed versus the numpy
   reference on the CPU (measured at the smallest N; per agent it is flat), the device bytes
   held per agent, and what the timed ticks allocated (CuPy: pool mallocs counted by a memory
   hook; JAX: live device arrays and bytes in use before and after; numpy/numba: tracemalloc).
3. ``--tune`` (CuPy): every launch configuration of ``uqo.kernels.cupy_tick.TUNE_CONFIGS``
   (block size, register cap, shared-memory staging) is checked against numpy and timed at
   ``--tune-agents``; the fastest is printed with the ``UQO_CUDA_CONFIG`` value that selects it.
4. NVML telemetry before and after; the dynamiqs comparison (``uqo.bench.peers``) when it is
   installed. JSON to ``bench/results/gpu-<device>.json`` (``gpu-cpu.json`` without a GPU) and
   a plot beside it (``.png``: throughput and fraction of copy bandwidth against N).

Large N: the states are 2**18 distinct random cells repeated to N on the device (generating and
copying hundreds of millions of random cells from the host would take minutes); the tick's cost
per cell depends on the cell's class (entangled or not, rewarded or not), which the repetition
keeps in proportion.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .machine import copy_bandwidth, machine_info

KERNEL_BACKENDS = ("cupy", "jax", "numba", "numpy")
STATE_BYTES_PER_PAIR = 16 * 8
UNIQUE_CELLS = 1 << 18
NUMPY_MAX_AGENTS = 2_000_000     # the generic reference takes seconds per tick above this
HOST_MAX_AGENTS = 20_000_000     # jax/numba rows above this are skipped: the largest N is CuPy's


def random_pairs(n: int, seed: int = 0):
    """``(rho (k, 4, 4) complex64, s (k,), params 9 x (k,) float32)`` for ``k = min(n,
    UNIQUE_CELLS)`` random cells (Hilbert-Schmidt states; 1% of sites rewarded)."""
    k = min(n, UNIQUE_CELLS)
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(k, 4, 4)) + 1j * rng.normal(size=(k, 4, 4))
    rho = a @ a.conj().transpose(0, 2, 1)
    rho = (rho / np.trace(rho, axis1=1, axis2=2).real[:, None, None]).astype(np.complex64)
    params = [rng.uniform(0, 0.05, k).astype(np.float32) for _ in range(7)]
    params += [np.where(rng.random(k) < 0.01, 1.0, 0.0).astype(np.float32) for _ in range(2)]
    return rho, rng.uniform(0, 1, k), params


def _repeat(x: np.ndarray, n: int) -> np.ndarray:
    return x if len(x) == n else np.resize(x, (n,) + x.shape[1:])


@dataclasses.dataclass
class Run:
    """One backend's in-place tick on its device: ``tick()``, ``sync()``, ``result() -> (rho,
    diag)``, the device bytes it holds and ``allocations(ticks) -> dict``."""

    tick: Callable
    sync: Callable
    result: Callable | None
    device_bytes: int
    allocations: Callable[[int], dict]


def _available(name: str) -> str | None:
    """None when the backend can run here, else the reason."""
    from uqo.kernels.numba_store import numba_available

    if name == "numba":
        return None if numba_available() else "numba is not installed"
    if name == "cupy":
        from uqo.engine.backend import available_backends

        ok, why = available_backends(probe=True)["cupy"]
        return None if ok else why
    return None


def _host_allocations(run: Run, ticks: int) -> dict:
    tracemalloc.start()
    try:
        for _ in range(ticks):
            run.tick()
        run.sync()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"method": "tracemalloc (host)", "ticks": ticks, "peak_bytes": peak,
            "peak_bytes_per_agent": None}


def _inputs(params):
    """The bench's tick inputs: ``params`` (the nine per-cell arrays), J dt 0.05, theta0 pi/4."""
    from uqo.kernels.tick_inputs import PairInputs

    return PairInputs(*params, coupling_dt=0.05, theta0=math.pi / 4)


def _runner(name: str, n_pairs: int, rho, s, params, config=None) -> Run:
    if name == "numba":
        from uqo.kernels import numba_tick as nt

        rho, s = _repeat(rho, n_pairs), _repeat(s, n_pairs)
        params = [_repeat(p, n_pairs) for p in params]
        out = np.empty((len(nt.PAIR_KEYS), n_pairs))
        inputs = _inputs(params)
        run = Run(lambda: nt.pairs_inplace(rho, s, inputs, out),
                  lambda: None, lambda: (rho, dict(zip(nt.PAIR_KEYS, out))),
                  rho.nbytes + s.nbytes + sum(p.nbytes for p in params) + out.nbytes, None)
        run.allocations = lambda ticks: _host_allocations(run, ticks)
        return run
    if name == "numpy":
        from uqo.engine.tick import tick_pairs

        rho, s = _repeat(rho, n_pairs), _repeat(s, n_pairs)
        params = [_repeat(p, n_pairs) for p in params]
        inputs = _inputs(params)
        run = Run(lambda: tick_pairs(rho, s, inputs), lambda: None, None,
                  rho.nbytes + s.nbytes + sum(p.nbytes for p in params), None)
        run.allocations = lambda ticks: _host_allocations(run, ticks)
        return run
    if name == "jax":
        return _jax_runner(n_pairs, rho, s, params)
    return _cupy_runner(n_pairs, rho, s, params, config)


def _jax_runner(n_pairs, rho, s, params) -> Run:
    import jax
    import jax.numpy as jnp
    from uqo.engine.backend import get_backend
    from uqo.engine.register.storage import make_store

    store = make_store(get_backend("jax"))

    def put(x):
        return jnp.resize(jax.device_put(x), (n_pairs,) + x.shape[1:])
    state = {"rho": put(rho), "s": put(s), "args": [put(p) for p in params]}
    inputs = _inputs(state["args"])

    def tick():
        state["rho"], state["s"], state["diag"] = store.run_pairs(
            state["rho"], state["s"], n_pairs, inputs)

    def sync():
        jax.block_until_ready(state["rho"])

    def allocations(ticks):
        dev = jax.devices()[0]
        stats = getattr(dev, "memory_stats", lambda: None)
        sync()
        live0, mem0 = len(jax.live_arrays()), (stats() or {}).get("bytes_in_use")
        for _ in range(ticks):
            tick()
        sync()
        live1, mem1 = len(jax.live_arrays()), (stats() or {}).get("bytes_in_use")
        return {"method": "jax.live_arrays + device memory_stats", "ticks": ticks,
                "live_arrays_before": live0, "live_arrays_after": live1,
                "bytes_in_use_before": mem0, "bytes_in_use_after": mem1}

    held = sum(int(x.nbytes) for x in (state["rho"], state["s"], *state["args"]))
    return Run(tick, sync, lambda: (state["rho"], state["diag"]), held, allocations)


def _cupy_tile(cupy, host: np.ndarray, n: int):
    """``host`` repeated to ``n`` rows, built on the device (one host->device copy)."""
    block = cupy.asarray(host)
    out = cupy.empty((n,) + host.shape[1:], host.dtype)
    for start in range(0, n, len(block)):
        stop = min(n, start + len(block))
        out[start:stop] = block[:stop - start]
    return out


def _cupy_runner(n_pairs, rho, s, params, config) -> Run:
    import cupy
    from cupy.cuda import memory_hook
    from uqo.kernels import cupy_tick as ct

    d_rho, d_s = _cupy_tile(cupy, rho, n_pairs), _cupy_tile(cupy, s, n_pairs)
    d_params = _cupy_tile(cupy, np.stack(params, axis=1), n_pairs).T.copy()   # (9, n) rows
    live = cupy.ones(n_pairs, cupy.uint8)
    out = cupy.empty((len(ct.PAIR_KEYS), n_pairs), cupy.float32)
    agg = cupy.zeros(len(ct.PAIR_AGGREGATES), cupy.float64)
    sync = cupy.cuda.get_current_stream().synchronize

    def tick():
        ct.pairs_inplace(d_rho, d_s, d_params, live, 0.05, math.pi / 4, out, agg, config)

    class Count(memory_hook.MemoryHook):
        name = "uqo-bench-count"

        def __init__(self):
            self.mallocs, self.bytes = 0, 0

        def malloc_preprocess(self, **kw):
            self.mallocs += 1
            self.bytes += int(kw.get("size", 0))

    def allocations(ticks):
        pool = cupy.get_default_memory_pool()
        sync()
        used0, hook = pool.used_bytes(), Count()
        with hook:
            for _ in range(ticks):
                tick()
            sync()
        return {"method": "cupy MemoryHook (pool mallocs) + pool.used_bytes", "ticks": ticks,
                "mallocs": hook.mallocs, "malloc_bytes": hook.bytes,
                "pool_used_before": used0, "pool_used_after": pool.used_bytes()}

    held = sum(int(x.nbytes) for x in (d_rho, d_s, d_params, live, out, agg))
    return Run(tick, sync, lambda: (d_rho, dict(zip(ct.PAIR_KEYS, out))), held, allocations)


def check_kernels(n: int = 4096, names=("numba", "jax", "cupy"), config=None) -> list[dict]:
    """Max abs error of each available fused kernel against the numpy reference."""
    from uqo.engine.backend import to_numpy
    from uqo.engine.tick import tick_pairs

    rho, s, params = random_pairs(n, seed=1)
    want_rho, want = tick_pairs(rho, s, _inputs(params))
    rows = []
    for name in names:
        why = _available(name)
        if why:
            rows.append({"kernel": name, "status": "skipped", "reason": why})
            continue
        run = _runner(name, n, rho.copy(), s.copy(), [p.copy() for p in params], config)
        run.tick()
        run.sync()
        got_rho, got = run.result()
        err = max(float(np.abs(to_numpy(got_rho) - want_rho).max()),
                  *(float(np.abs(to_numpy(got[k]) - want[k]).max()) for k in want))
        rows.append({"kernel": name, "status": "pass" if err <= 1e-5 else "FAIL",
                     "max_abs_error": err})
    return rows


def device_copy_bandwidth(name: str) -> float:
    """Bytes/s (read + written) of a large copy on ``name``'s device."""
    if name == "jax":
        return _jax_copy_bandwidth()
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
    del src, dst
    return 2 * (1 << 28) * 4 / statistics.median(times[1:])


def _jax_copy_bandwidth() -> float:
    """A streaming pass on JAX's default device (``x + 1``: one read and one write per element;
    a plain copy can be elided by XLA). On a CPU-only JAX this is the host's bandwidth."""
    import jax
    import jax.numpy as jnp

    x = jnp.ones(1 << 28, jnp.float32)
    step = jax.jit(lambda a: a + 1.0)
    step(x).block_until_ready()
    times = []
    for _ in range(6):
        t0 = time.perf_counter()
        step(x).block_until_ready()
        times.append(time.perf_counter() - t0)
    del x
    return 2 * (1 << 28) * 4 / statistics.median(times[1:])


def bench_one(name: str, n_agents: int, ticks: int, config=None) -> dict:
    n_pairs = n_agents // 2
    run = _runner(name, n_pairs, *random_pairs(n_pairs), config=config)
    for _ in range(2):
        run.tick()
    run.sync()
    times = []
    for _ in range(ticks):
        t0 = time.perf_counter()
        run.tick()
        run.sync()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    moved = 2 * STATE_BYTES_PER_PAIR * n_pairs
    return {"backend": name, "agents": n_agents, "ticks": ticks, "median_tick_s": med,
            "best_tick_s": min(times), "agent_ticks_per_s": n_agents / med,
            "bytes_per_agent": STATE_BYTES_PER_PAIR / 2,
            "device_bytes_per_agent": run.device_bytes / n_agents,
            "bytes_moved_per_tick": moved, "achieved_gb_s": moved / med / 1e9,
            "allocations_during_ticks": run.allocations(min(ticks, 3))}


def tune(n_agents: int, ticks: int) -> list[dict]:
    """Every CuPy launch configuration: checked against numpy, then timed at ``n_agents``."""
    from uqo.kernels.cupy_tick import TUNE_CONFIGS

    rows = []
    for config in TUNE_CONFIGS:
        check = check_kernels(names=("cupy",), config=config)[0]
        row = {"config": config.label, "check": check["status"],
               "max_abs_error": check.get("max_abs_error")}
        if check["status"] == "pass":
            timed = bench_one("cupy", n_agents, ticks, config)
            row.update(median_tick_s=timed["median_tick_s"], achieved_gb_s=timed["achieved_gb_s"])
        rows.append(row)
    return rows


def peer_comparison(systems: int = 8192, steps: int = 100) -> dict:
    """The same-workload comparison with dynamiqs (``uqo.bench.peers``; optional extra
    ``peers``): ``{"status", "reason", ...}``, skipped with the reason when it is missing."""
    from .peers import compare

    try:
        return compare(systems=systems, steps=steps)
    except Exception as exc:  # noqa: BLE001  (the peer's own failure must not lose our rows)
        return {"status": "error", "reason": f"{type(exc).__name__}: {str(exc)[:300]}"}


def result_path(out: Path, telemetry: dict) -> Path:
    """``gpu-<first device's name>.json`` (lower case, dashes), or ``gpu-cpu.json``."""
    if not telemetry.get("available") or not telemetry.get("devices"):
        return out / "gpu-cpu.json"
    slug = re.sub(r"[^a-z0-9]+", "-", telemetry["devices"][0]["name"].lower()).strip("-")
    return out / f"gpu-{slug or 'unknown'}.json"


def main(agents: list[int], ticks: int, backends: list[str], out: Path,
         check_only: bool = False, tune_agents: int | None = None,
         peer_systems: int = 8192, peer_steps: int = 100) -> int:
    from uqo.kernels.nvml import gpu_telemetry

    before = gpu_telemetry()
    checks = check_kernels()
    _print_checks(checks)
    rows: list[dict] = []
    tuning: list[dict] | str | None = None
    if not check_only:
        rows = _bench_all(agents, ticks, backends)
        _print_table(rows)
        if tune_agents:
            why = _available("cupy")
            tuning = f"skipped: {why}" if why else tune(tune_agents, ticks)
            _print_tuning(tuning, tune_agents)
    peer = peer_comparison(peer_systems, peer_steps)
    print(f"peer (dynamiqs): {peer['status']}: {peer['reason']}")
    doc = {"benchmark": "gpu", "machine": machine_info(), "telemetry_before": before,
           "telemetry_after": gpu_telemetry(), "checks": checks, "results": rows,
           "tuning": tuning, "peer": peer}
    out.mkdir(parents=True, exist_ok=True)
    path = result_path(out, before)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {path}")
    if rows:
        print(f"wrote {plot(rows, path.with_suffix('.png'), doc['machine'], before)}")
    failed = any(c["status"] == "FAIL" for c in checks)
    failed |= isinstance(tuning, list) and any(t["check"] == "FAIL" for t in tuning)
    return 1 if failed else 0


def _bench_all(agents, ticks, backends) -> list[dict]:
    rows, copy_bw = [], {}
    for name in backends:
        why = _available(name)
        if why:
            print(f"{name}: skipped ({why})")
            continue
        copy_bw[name] = device_copy_bandwidth(name)
        for n in agents:
            limit = {"numpy": NUMPY_MAX_AGENTS, "cupy": None}.get(name, HOST_MAX_AGENTS)
            if limit and n > limit:
                print(f"{name}: {n:,} agents skipped (above {limit:,}; per-agent cost is flat)")
                continue
            try:
                row = bench_one(name, n, ticks)
            except Exception as exc:  # noqa: BLE001 - e.g. out of device memory at the largest N
                print(f"{name}: {n:,} agents failed: {type(exc).__name__}: {exc}")
                rows.append({"backend": name, "agents": n, "error": f"{type(exc).__name__}: "
                             f"{exc}"})
                continue
            row["copy_bandwidth_gb_s"] = copy_bw[name] / 1e9
            row["fraction_of_copy_bw"] = row["achieved_gb_s"] * 1e9 / copy_bw[name]
            rows.append(row)
    ref = [r for r in rows if r["backend"] == "numpy" and "error" not in r]
    for r in rows:
        if ref and "error" not in r:
            r["speedup_vs_numpy"] = r["agent_ticks_per_s"] / ref[0]["agent_ticks_per_s"]
    return rows


def plot(rows: list[dict], path: Path, machine: dict, telemetry: dict) -> Path:
    """Two panels: agent-ticks/s against N per backend (log-log), and the achieved fraction of
    the device's copy bandwidth; the 80% target line on the second."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if "error" not in r]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in dict.fromkeys(r["backend"] for r in ok):
        mine = sorted((r for r in ok if r["backend"] == name), key=lambda r: r["agents"])
        n = [r["agents"] for r in mine]
        left.plot(n, [r["agent_ticks_per_s"] for r in mine], "o-", label=name)
        right.plot(n, [100 * r["fraction_of_copy_bw"] for r in mine], "o-", label=name)
    left.set(xscale="log", yscale="log", xlabel="agents", ylabel="agent-ticks / s",
             title="fused pair tick throughput")
    right.axhline(80, color="grey", ls="--", lw=1, label="target (80%)")
    right.set(xscale="log", xlabel="agents", ylabel="% of measured copy bandwidth",
              title="state bytes moved vs copy bandwidth")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    gpu = (telemetry.get("devices") or [{}])[0].get("name") if telemetry.get("available") \
        else None
    fig.suptitle(f"uqo bench gpu: {gpu or machine.get('cpu', '?')}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _print_checks(checks: list[dict]) -> None:
    print("kernel checks against the numpy reference (4,096 random pairs, tolerance 1e-5):")
    for c in checks:
        detail = c.get("reason") or f"max abs error {c['max_abs_error']:.2e}"
        print(f"  {c['kernel']:<6} {c['status']:<8} {detail}")


def _alloc_text(a: dict) -> str:
    if "mallocs" in a:
        return f"{a['mallocs']} mallocs"
    if "live_arrays_before" in a:
        return f"live {a['live_arrays_before']}->{a['live_arrays_after']}"
    return f"peak {a['peak_bytes'] / 1e6:.1f} MB"


def _print_table(rows: list[dict]) -> None:
    head = (f"{'backend':<8}{'agents':>12}{'tick ms':>10}{'agent-ticks/s':>16}{'B/agent':>9}"
            f"{'held B/ag':>10}{'GB/s':>9}{'of copy':>9}{'vs numpy':>10}  allocations (3 ticks)")
    print(head)
    print("-" * len(head))
    for r in rows:
        if "error" in r:
            print(f"{r['backend']:<8}{r['agents']:>12,}  failed: {r['error']}")
            continue
        vs = f"{r['speedup_vs_numpy']:.1f}x" if "speedup_vs_numpy" in r else "-"
        print(f"{r['backend']:<8}{r['agents']:>12,}{r['median_tick_s'] * 1e3:>10.2f}"
              f"{r['agent_ticks_per_s']:>16,.0f}{r['bytes_per_agent']:>9.0f}"
              f"{r['device_bytes_per_agent']:>10.1f}{r['achieved_gb_s']:>9.2f}"
              f"{r['fraction_of_copy_bw']:>9.1%}{vs:>10}  "
              f"{_alloc_text(r['allocations_during_ticks'])}")


def _print_tuning(tuning, n_agents: int) -> None:
    if isinstance(tuning, str):
        print(f"tuning: {tuning}")
        return
    print(f"CUDA launch configurations at {n_agents:,} agents:")
    for t in tuning:
        timing = (f"{t['median_tick_s'] * 1e3:9.3f} ms {t['achieved_gb_s']:8.1f} GB/s"
                  if "median_tick_s" in t else "not timed")
        print(f"  {t['config']:<36} {t['check']:<5} {timing}")
    timed = [t for t in tuning if "median_tick_s" in t]
    if timed:
        best = min(timed, key=lambda t: t["median_tick_s"])
        print(f"fastest: {best['config']}  (select it: UQO_CUDA_CONFIG={best['config']})")
