"""The CUDA tick (``tick.cu`` / ``tick.cuh``) behind a small validating CuPy wrapper.

Use cases::

    from uqo.kernels import cupy_tick as ct
    rho, diag = ct.tick_pairs(rho, s_before, inputs)     # reference signature, new arrays
    params.set(ct.pack(inputs))                          # the kernel's (9, C) float32 rows
    agg = ct.pairs_inplace(rho, s_cell, params, live, inputs.coupling_dt, inputs.theta0, out,
                           agg)

The kernels are compiled once per process by NVRTC (``cupy.RawModule``, cached by
``_module``) from the ``.cu`` file next to this module; one thread per cell does the whole tick
in registers; the fleet aggregates (sums of normalised purity, leakage, mutual information,
concurrence and the live-cell count) come from one block reduction per block and an atomicAdd,
so reading them is one 40-byte copy, not a host round trip per quantity. Importing this module
imports no CuPy; calling it without a CUDA device raises ``DeviceFailure``.

The kernels take the tick's per-cell inputs packed as the rows of one ``(K, C)`` float32 device
buffer (``PairInputs.CELL_FIELDS`` order) and its scalars as kernel arguments: ``pack`` builds
those rows from a ``PairInputs`` / ``SingleInputs`` (``tick_inputs``), ``pairs_inplace`` /
``singles_inplace`` launch on a buffer the caller keeps (the store reuses one per size), and
``tick_pairs`` / ``tick_singles`` do both for one-off calls.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from pathlib import Path

import numpy as np

from .failover import DeviceFailure
from .tick_inputs import PairInputs, SingleInputs
from .validate import check_array, check_cells

PAIR_KEYS = ("s_cell", "leak", "ready_a", "ready_b", "s_a", "s_b", "mi", "concurrence",
             "npurity")
SINGLE_KEYS = ("s_cell", "leak", "ready", "npurity")
PAIR_AGGREGATES = ("npurity_sum", "leak_sum", "mi_sum", "concurrence_sum", "cells")
SINGLE_AGGREGATES = ("npurity_sum", "leak_sum", "cells")
SOURCE = Path(__file__).with_name("tick.cu")
CONFIG_ENV = "UQO_CUDA_CONFIG"


@dataclasses.dataclass(frozen=True)
class CudaConfig:
    """The kernels' launch configuration, compiled in (``-D`` macros of ``tick.cu``).

    ``threads``: block size (a multiple of 32, 32..1024); ``min_blocks``: ``__launch_bounds__``
    minimum resident blocks per SM (higher caps registers per thread: occupancy against spills);
    ``stage``: move pair cells through shared memory in coalesced chunks. Which is fastest is a
    property of the GPU: ``uqo bench gpu --tune`` times each of ``TUNE_CONFIGS``.
    """

    threads: int = 128
    min_blocks: int = 1
    stage: bool = False

    def __post_init__(self):
        if not (isinstance(self.threads, int) and 32 <= self.threads <= 1024
                and self.threads % 32 == 0):
            raise ValueError(f"threads must be a multiple of 32 in [32, 1024], got "
                             f"{self.threads!r}")
        if not (isinstance(self.min_blocks, int) and 1 <= self.min_blocks <= 32):
            raise ValueError(f"min_blocks must be an int in [1, 32], got {self.min_blocks!r}")
        if not isinstance(self.stage, bool):
            raise TypeError(f"stage must be a bool, got {self.stage!r}")

    @property
    def label(self) -> str:
        return f"threads={self.threads},min_blocks={self.min_blocks},stage={int(self.stage)}"

    def options(self) -> tuple[str, ...]:
        """The NVRTC options the wrapper compiles with (tests compile with exactly these)."""
        return ("-std=c++17", f"-I{SOURCE.parent}", f"-DUQO_THREADS={self.threads}",
                f"-DUQO_MIN_BLOCKS={self.min_blocks}", f"-DUQO_STAGE={int(self.stage)}")

    @classmethod
    def parse(cls, text: str) -> CudaConfig:
        """``"threads=256,min_blocks=2,stage=1"`` (any subset; the rest default)."""
        fields: dict = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            if not sep or key not in ("threads", "min_blocks", "stage"):
                raise ValueError(f"bad CUDA config item {part!r} in {text!r}: expected "
                                 "threads=N, min_blocks=N or stage=0|1")
            try:
                number = int(value)
            except ValueError:
                raise ValueError(f"bad CUDA config value {part!r} in {text!r}: not an "
                                 "integer") from None
            if key == "stage" and number not in (0, 1):
                raise ValueError(f"bad CUDA config value {part!r}: stage is 0 or 1")
            fields[key] = bool(number) if key == "stage" else number
        return cls(**fields)


# What `uqo bench gpu --tune` tries: the default, register caps for 2/3/4 resident blocks, the
# coalesced staging, and 256-thread blocks.
TUNE_CONFIGS = (CudaConfig(), CudaConfig(min_blocks=2), CudaConfig(min_blocks=3),
                CudaConfig(min_blocks=4), CudaConfig(stage=True),
                CudaConfig(min_blocks=3, stage=True), CudaConfig(threads=256, min_blocks=1),
                CudaConfig(threads=256, min_blocks=2, stage=True))


# The fastest of TUNE_CONFIGS on the one GPU we measured (NVIDIA H200, `uqo bench gpu --tune`
# at 10M agents, bench/results/gpu-nvidia-h200.json): 1.57 ms a tick against 3.10 ms for
# CudaConfig() (threads=128, no staging). Another GPU may prefer another: tune and set
# $UQO_CUDA_CONFIG.
DEFAULT_CONFIG = CudaConfig(threads=256, min_blocks=2, stage=True)


def default_config() -> CudaConfig:
    """``$UQO_CUDA_CONFIG`` when set, else ``DEFAULT_CONFIG``."""
    text = os.environ.get(CONFIG_ENV, "").strip()
    return CudaConfig.parse(text) if text else DEFAULT_CONFIG


def _cupy():
    try:
        import cupy
    except ImportError as exc:
        raise DeviceFailure(f"cupy is not installed ({exc}); pip install 'uqo[gpu]'") from None
    if not cupy.is_available():
        raise DeviceFailure("cupy is installed but no CUDA device is available")
    return cupy


@functools.cache
def _module(device_id: int, config: CudaConfig):
    """The compiled RawModule for one device and configuration (NVRTC runs once per process,
    device and configuration)."""
    cupy = _cupy()
    code = SOURCE.read_text(encoding="utf-8")
    return cupy.RawModule(code=code, options=config.options(), name_expressions=None)


def _kernel(name: str, config: CudaConfig):
    cupy = _cupy()
    return _module(cupy.cuda.runtime.getDevice(), config).get_function(name)


def _blocks(n: int, config: CudaConfig) -> tuple:
    return ((n + config.threads - 1) // config.threads,)


def coupling_phase(coupling_dt: float) -> tuple[np.float32, np.float32]:
    """``exp(-2i J dt)`` as the kernel takes it (``uqo::coupling_phase`` in ``tick.cuh``)."""
    return np.float32(math.cos(2.0 * coupling_dt)), np.float32(-math.sin(2.0 * coupling_dt))


def pairs_inplace(rho, s_cell, params, live, coupling_dt: float, theta0: float, out, agg,
                  config: CudaConfig | None = None):
    """Tick ``(C, 4, 4)`` complex64 pair cells in place on the device.

    ``params`` ``(9, C)`` float32 (rows ``p_a, p_b, q_a, q_b, g_a, g_b, c, r_a, r_b``), ``live``
    ``(C,)`` uint8 (cells counted in the aggregates), ``out`` ``(9, C')`` float32 with
    ``C' >= C`` (rows ``PAIR_KEYS``), ``agg`` ``(5,)`` float64 (``PAIR_AGGREGATES``; zeroed
    here). ``config`` defaults to ``default_config()``. Returns ``agg``.
    """
    config = config or default_config()
    n = check_cells(rho, s_cell, list(params), 4, out, len(PAIR_KEYS), host=False)
    _check_launch(rho, params, live, agg, len(PAIR_KEYS), len(PAIR_AGGREGATES), n)
    if config.stage and rho.data.ptr % 16:   # staging loads 16-byte vectors
        config = dataclasses.replace(config, stage=False)
    agg.fill(0)
    if n == 0:
        return agg
    _kernel("uqo_tick_pairs", config)(_blocks(n, config), (config.threads,), (
        rho, s_cell, params, live, np.int32(n), *coupling_phase(coupling_dt),
        np.float64(theta0), out, np.int64(out.shape[1]), agg))
    return agg


def singles_inplace(rho, s_cell, params, live, theta0: float, out, agg,
                    config: CudaConfig | None = None):
    """Tick ``(C, 2, 2)`` complex64 single cells in place; ``params`` ``(4, C)`` float32 (``p,
    q, g, r``), ``out`` ``(4, C')`` float32, ``agg`` ``(3,)`` float64. Returns ``agg``."""
    config = config or default_config()
    n = check_cells(rho, s_cell, list(params), 2, out, len(SINGLE_KEYS), host=False)
    _check_launch(rho, params, live, agg, len(SINGLE_KEYS), len(SINGLE_AGGREGATES), n)
    agg.fill(0)
    if n == 0:
        return agg
    _kernel("uqo_tick_singles", config)(_blocks(n, config), (config.threads,), (
        rho, s_cell, params, live, np.int32(n), np.float64(theta0), out,
        np.int64(out.shape[1]), agg))
    return agg


def reliability_inplace(rho, n: int, gamma: float, p_star: float, ready, entropy,
                        config: CudaConfig | None = None) -> None:
    """Drift rows ``[0, n)`` of ``(R, 2, 2)`` complex64 reliability qubits in place on the
    device; their ``P(reliable)`` and entropy into ``ready``, ``entropy`` (float32, ``>= n``)."""
    config = config or default_config()
    if np.dtype(rho.dtype) != np.complex64 or rho.ndim != 3 or rho.shape[1:] != (2, 2):
        raise ValueError(f"rho must be (R, 2, 2) complex64, got {rho.shape} {rho.dtype}")
    if not 0 <= n <= rho.shape[0] or n >= 2 ** 31:
        raise ValueError(f"n must be in [0, {rho.shape[0]}], got {n}")
    for name, arr in (("ready", ready), ("entropy", entropy)):
        if np.dtype(arr.dtype) != np.float32 or arr.ndim != 1 or arr.shape[0] < n:
            raise ValueError(f"{name} must be float32 of length >= {n}, got {arr.shape} "
                             f"{arr.dtype}")
    if n == 0:
        return
    _kernel("uqo_tick_reliability", config)(_blocks(n, config), (config.threads,), (
        rho, np.int32(n), np.float64(gamma), np.float64(p_star), ready, entropy))


def reliability_observe(rho, rows, e0, e1, bad, config: CudaConfig | None = None) -> None:
    """Lueders updates of distinct ``rows`` (int64) by ``diag(e0, e1)`` (float64), in place;
    ``bad`` (uint8) marks outcomes of probability ~0 (rows left untouched)."""
    config = config or default_config()
    m = int(rows.shape[0])
    for name, arr, dtype in (("rows", rows, np.int64), ("e0", e0, np.float64),
                             ("e1", e1, np.float64), ("bad", bad, np.uint8)):
        if np.dtype(arr.dtype) != dtype or arr.shape != (m,):
            raise ValueError(f"{name} must be ({m},) {np.dtype(dtype)}, got {arr.shape} "
                             f"{arr.dtype}")
    if m == 0:
        return
    _kernel("uqo_observe_reliability", config)(_blocks(m, config), (config.threads,), (
        rho, rows, e0, e1, np.int32(m), bad))


def _check_launch(rho, params, live, agg, n_keys, n_agg, n) -> None:
    if np.dtype(rho.dtype) != np.complex64:
        raise ValueError(f"rho has dtype {rho.dtype}; the CUDA kernel takes complex64")
    check_array(params, "params", (params.shape[0], n), (np.float32,))
    check_array(live, "live", (n,), (np.uint8,))
    check_array(agg, "agg", (n_agg,), (np.float64,))
    if n >= 2 ** 31:
        raise ValueError(f"rho has {n} cells; the kernel indexes cells with int32")


def pack(inputs: PairInputs | SingleInputs) -> np.ndarray:
    """The kernel's ``params`` rows from host (numpy) inputs: ``(K, C)`` float32, C order, rows
    in ``CELL_FIELDS`` order, ready for one host->device copy into the caller's buffer."""
    return np.ascontiguousarray(np.stack(inputs.per_cell()), dtype=np.float32)


def _device_params(cupy, inputs):
    return cupy.ascontiguousarray(cupy.stack([cupy.asarray(a, dtype=cupy.float32)
                                              for a in inputs.per_cell()]))


def tick_pairs(rho, s_before, inputs: PairInputs):
    """Reference signature on CuPy arrays: returns ``(new rho, diagnostics)``."""
    cupy = _cupy()
    rho, s = cupy.array(rho, order="C"), cupy.array(s_before, dtype=cupy.float64)
    out = cupy.empty((len(PAIR_KEYS), rho.shape[0]), cupy.float32)
    live = cupy.ones(rho.shape[0], cupy.uint8)
    pairs_inplace(rho, s, _device_params(cupy, inputs), live, inputs.coupling_dt,
                  inputs.theta0, out, cupy.zeros(len(PAIR_AGGREGATES), cupy.float64))
    return rho, dict(zip(PAIR_KEYS, out))


def tick_singles(rho, s_before, inputs: SingleInputs):
    """Reference signature on CuPy arrays: returns ``(new rho, diagnostics)``."""
    cupy = _cupy()
    rho, s = cupy.array(rho, order="C"), cupy.array(s_before, dtype=cupy.float64)
    out = cupy.empty((len(SINGLE_KEYS), rho.shape[0]), cupy.float32)
    live = cupy.ones(rho.shape[0], cupy.uint8)
    singles_inplace(rho, s, _device_params(cupy, inputs), live, inputs.theta0, out,
                    cupy.zeros(len(SINGLE_AGGREGATES), cupy.float64))
    return rho, dict(zip(SINGLE_KEYS, out))
