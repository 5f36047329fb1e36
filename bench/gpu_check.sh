#!/usr/bin/env bash
# One-shot GPU node check: fused-kernel correctness against numpy, then the tick benchmark for
# N = 1e6, 1e7 and the largest N that fits in half the free GPU memory, for cupy, jax, numba
# and numpy. Prints the table; JSON goes to bench/results/gpu-gpu.json (device, driver, NVML).
# Usage: bash bench/gpu_check.sh [TICKS]   (run from the repository root, uqo installed)
set -euo pipefail
TICKS="${1:-10}"
PY="${PYTHON:-python3}"
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
"$PY" -m uqo.cli bench gpu --agents 1000000 10000000 ${LARGEST} --ticks "$TICKS" \
  --backend cupy jax numba numpy
# The whole register tick on the GPU backends (observations and host bookkeeping included):
# bench/results/engine-<backend>.json. Last, and not fatal: the register has not yet run on CuPy.
"$PY" -m uqo.cli bench engine --agents 1000000 10000000 --ticks 5 --backend cupy jax \
  || echo "uqo bench engine failed (exit $?): see the traceback above"
