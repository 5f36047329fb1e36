#!/usr/bin/env bash
# One-shot GPU node check: fused-kernel correctness against numpy, the tick benchmark for
# N = 1e6, 1e7 and the largest N that fits in half the free GPU memory (cupy; jax, numba and
# numpy up to their limits), every CUDA launch configuration checked and timed at 1e7 (--tune),
# and the dynamiqs comparison when dynamiqs is importable; then the whole register tick on cupy
# and jax. Prints the tables; JSON and plots go to $RESULTS: gpu-<device>.json/.png (device,
# driver, NVML snapshots, allocations per tick, tuning, peers) and engine-<backend>.json.
# Usage: bash bench/gpu_check.sh [TICKS]   (from the repository root, uqo importable: installed,
#        or the wheels of bench/gpu_wheels.sh on PYTHONPATH; docs/gpu.md shows the device command)
# Env: PYTHON (default python3), PEER_SYSTEMS (default 65536), PEER_STEPS (default 100),
#      RESULTS (default bench/results; the device run sets $OUT so that what finished comes back
#      even if a later step runs out of time), AGENTS (default "1000000 10000000", plus the
#      largest that fits), TUNE_AGENTS (default 10000000), ENGINE_AGENTS (default as AGENTS).
set -euo pipefail
# CuPy and JAX share the process and the GPU: JAX must not take 75% of the memory at start.
export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"
TICKS="${1:-10}"
PY="${PYTHON:-python3}"
RESULTS="${RESULTS:-bench/results}"
AGENTS="${AGENTS:-1000000 10000000}"
LARGEST="$("$PY" - <<'PY'
try:
    import cupy
    free, _ = cupy.cuda.runtime.memGetInfo()
    # per agent on the device: 64 B state, 4 B entropy, 18 B params, 18 B diagnostics, + slack
    n = int(free * 0.5 / 128) // 2_000_000 * 2_000_000
    print(n if n > 10_000_000 else "")
except Exception:
    print("")
PY
)"
echo "largest N that fits: ${LARGEST:-(no CUDA device; skipped)}"
"$PY" -m uqo.cli bench gpu --agents ${AGENTS} ${LARGEST} --ticks "$TICKS" \
  --backend cupy jax numba numpy --tune --tune-agents "${TUNE_AGENTS:-10000000}" \
  --peer-systems "${PEER_SYSTEMS:-65536}" --peer-steps "${PEER_STEPS:-100}" --out "$RESULTS"
# The whole register tick on the GPU backends (observations and host bookkeeping included).
# Last, and not fatal: the register has not yet run on real CuPy.
"$PY" -m uqo.cli bench engine --agents ${ENGINE_AGENTS:-$AGENTS} --ticks 5 --backend cupy jax \
  --out "$RESULTS" || echo "uqo bench engine failed (exit $?): see the traceback above"
