"""Input checks shared by the kernel wrappers (numba on the host, CUDA on the device).

A kernel reads raw memory: a wrong shape, dtype or stride is not an exception there but silent
garbage, so every wrapper checks its arguments here first and raises ``ValueError`` naming the
argument, its shape and dtype. Works on any array with ``shape``, ``dtype``, ``flags`` (numpy,
CuPy); importing this module imports no array library.
"""

from __future__ import annotations

import numpy as np

STATE_DTYPES = (np.complex64, np.complex128)
PARAM_DTYPES = (np.float32, np.float64)


def describe(x) -> str:
    return f"shape {tuple(x.shape)} dtype {x.dtype}"


def _contiguous(x) -> bool:
    flags = getattr(x, "flags", None)
    return bool(flags is None or flags["C_CONTIGUOUS"])


def check_array(x, name: str, shape: tuple, dtypes: tuple) -> None:
    """``x`` has exactly ``shape`` (``None`` = any extent), one of ``dtypes``, C order."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise ValueError(f"{name} must be an array, got {type(x).__name__}")
    if len(x.shape) != len(shape) or any(w is not None and w != s
                                         for w, s in zip(shape, x.shape)):
        want = "(" + ", ".join("*" if w is None else str(w) for w in shape) + ")"
        raise ValueError(f"{name} has {describe(x)}; expected shape {want}")
    if np.dtype(x.dtype) not in [np.dtype(d) for d in dtypes]:
        raise ValueError(f"{name} has {describe(x)}; expected dtype one of "
                         f"{[np.dtype(d).name for d in dtypes]}")
    if not _contiguous(x):
        raise ValueError(f"{name} with {describe(x)} must be C-contiguous")


def check_cells(rho, s_cell, params, d: int, out, n_keys: int, host: bool) -> int:
    """Check a kernel's arguments; returns the cell count ``C``.

    ``rho`` ``(C, d, d)`` complex64/128; ``s_cell`` ``(C,)`` float64; ``params`` a sequence of
    ``(C,)`` float32/64 arrays; ``out`` ``(n_keys, C')`` float64 (``float32`` allowed on the
    device), ``C' >= C``. ``host`` says whether the arrays must be numpy arrays.
    """
    check_array(rho, "rho", (None, d, d), STATE_DTYPES)
    n = int(rho.shape[0])
    if host and not isinstance(rho, np.ndarray):
        raise ValueError(f"rho must be a numpy array here, got {type(rho).__name__}")
    check_array(s_cell, "s_cell", (n,), (np.float64,))
    for i, p in enumerate(params):
        check_array(p, f"params[{i}]", (n,), PARAM_DTYPES)
    out_dtypes = (np.float64,) if host else (np.float64, np.float32)
    check_array(out, "out", (n_keys, None), out_dtypes)
    if out.shape[1] < n:
        raise ValueError(f"out has {describe(out)}; needs at least {n} columns")
    return n
