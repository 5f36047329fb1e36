"""The CUDA tick (``tick.cu`` / ``tick.cuh``) behind a small validating CuPy wrapper.

Use cases::

    from uqo.kernels import cupy_tick as ct
    rho, diag = ct.tick_pairs(rho, s_before, p_a, p_b, q_a, q_b, g_a, g_b, c, r_a, r_b,
                              coupling_dt, theta0)        # reference signature, new arrays
    agg = ct.pairs_inplace(rho, s_cell, params, live, coupling_dt, theta0, out, agg)

The kernels are compiled once per process by NVRTC (``cupy.RawModule``, cached by
``_module``) from the ``.cu`` file next to this module; one thread per cell does the whole tick
in registers; the fleet aggregates (sums of normalised purity, leakage, mutual information,
concurrence and the live-cell count) come from one block reduction per block and an atomicAdd,
so reading them is one 40-byte copy, not a host round trip per quantity. Importing this module
imports no CuPy; calling it without a CUDA device raises ``DeviceFailure``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .failover import DeviceFailure
from .validate import check_array, check_cells

PAIR_KEYS = ("s_cell", "leak", "ready_a", "ready_b", "s_a", "s_b", "mi", "concurrence",
             "npurity")
SINGLE_KEYS = ("s_cell", "leak", "ready", "npurity")
PAIR_AGGREGATES = ("npurity_sum", "leak_sum", "mi_sum", "concurrence_sum", "cells")
SINGLE_AGGREGATES = ("npurity_sum", "leak_sum", "cells")
SOURCE = Path(__file__).with_name("tick.cu")
THREADS = 128


def _cupy():
    try:
        import cupy
    except ImportError as exc:
        raise DeviceFailure(f"cupy is not installed ({exc}); pip install 'uqo[gpu]'") from None
    if not cupy.is_available():
        raise DeviceFailure("cupy is installed but no CUDA device is available")
    return cupy


@functools.cache
def _module(device_id: int):
    """The compiled RawModule for one device (NVRTC runs once per process and device)."""
    cupy = _cupy()
    code = SOURCE.read_text(encoding="utf-8")
    return cupy.RawModule(code=code, options=("-std=c++17", f"-I{SOURCE.parent}"),
                          name_expressions=None)


def _kernel(name: str):
    cupy = _cupy()
    return _module(cupy.cuda.runtime.getDevice()).get_function(name)


def _blocks(n: int) -> tuple:
    return ((n + THREADS - 1) // THREADS,)


def pairs_inplace(rho, s_cell, params, live, coupling_dt: float, theta0: float, out, agg):
    """Tick ``(C, 4, 4)`` complex64 pair cells in place on the device.

    ``params`` ``(9, C)`` float32 (rows ``p_a, p_b, q_a, q_b, g_a, g_b, c, r_a, r_b``), ``live``
    ``(C,)`` uint8 (cells counted in the aggregates), ``out`` ``(9, C')`` float32 with
    ``C' >= C`` (rows ``PAIR_KEYS``), ``agg`` ``(5,)`` float64 (``PAIR_AGGREGATES``; zeroed
    here). Returns ``agg``.
    """
    n = check_cells(rho, s_cell, list(params), 4, out, len(PAIR_KEYS), host=False)
    _check_launch(rho, params, live, agg, len(PAIR_KEYS), len(PAIR_AGGREGATES), n)
    agg.fill(0)
    _kernel("uqo_tick_pairs")(_blocks(n), (THREADS,), (
        rho, s_cell, params, live, np.int32(n), np.float64(coupling_dt), np.float64(theta0),
        out, np.int64(out.shape[1]), agg))
    return agg


def singles_inplace(rho, s_cell, params, live, theta0: float, out, agg):
    """Tick ``(C, 2, 2)`` complex64 single cells in place; ``params`` ``(4, C)`` float32 (``p,
    q, g, r``), ``out`` ``(4, C')`` float32, ``agg`` ``(3,)`` float64. Returns ``agg``."""
    n = check_cells(rho, s_cell, list(params), 2, out, len(SINGLE_KEYS), host=False)
    _check_launch(rho, params, live, agg, len(SINGLE_KEYS), len(SINGLE_AGGREGATES), n)
    agg.fill(0)
    _kernel("uqo_tick_singles")(_blocks(n), (THREADS,), (
        rho, s_cell, params, live, np.int32(n), np.float64(theta0), out,
        np.int64(out.shape[1]), agg))
    return agg


def _check_launch(rho, params, live, agg, n_keys, n_agg, n) -> None:
    if np.dtype(rho.dtype) != np.complex64:
        raise ValueError(f"rho has dtype {rho.dtype}; the CUDA kernel takes complex64")
    check_array(params, "params", (params.shape[0], n), (np.float32,))
    check_array(live, "live", (n,), (np.uint8,))
    check_array(agg, "agg", (n_agg,), (np.float64,))
    if n >= 2 ** 31:
        raise ValueError(f"rho has {n} cells; the kernel indexes cells with int32")


def tick_pairs(rho, s_before, p_a, p_b, q_a, q_b, g_a, g_b, c, r_a, r_b, coupling_dt, theta0):
    """Reference signature on CuPy arrays: returns ``(new rho, diagnostics)``."""
    cupy = _cupy()
    rho, s = cupy.array(rho, order="C"), cupy.array(s_before, dtype=cupy.float64)
    params = cupy.ascontiguousarray(cupy.stack([cupy.asarray(a, dtype=cupy.float32) for a in
                                                (p_a, p_b, q_a, q_b, g_a, g_b, c, r_a, r_b)]))
    out = cupy.empty((len(PAIR_KEYS), rho.shape[0]), cupy.float32)
    live = cupy.ones(rho.shape[0], cupy.uint8)
    pairs_inplace(rho, s, params, live, coupling_dt, theta0, out,
                  cupy.zeros(len(PAIR_AGGREGATES), cupy.float64))
    return rho, dict(zip(PAIR_KEYS, out))


def tick_singles(rho, s_before, p, q, g, r, theta0):
    """Reference signature on CuPy arrays: returns ``(new rho, diagnostics)``."""
    cupy = _cupy()
    rho, s = cupy.array(rho, order="C"), cupy.array(s_before, dtype=cupy.float64)
    params = cupy.ascontiguousarray(cupy.stack([cupy.asarray(a, dtype=cupy.float32)
                                                for a in (p, q, g, r)]))
    out = cupy.empty((len(SINGLE_KEYS), rho.shape[0]), cupy.float32)
    live = cupy.ones(rho.shape[0], cupy.uint8)
    singles_inplace(rho, s, params, live, theta0, out,
                    cupy.zeros(len(SINGLE_AGGREGATES), cupy.float64))
    return rho, dict(zip(SINGLE_KEYS, out))
