"""Backend-specific storage moves for the register: gather, scatter and the compiled tick.

The physics (``tick.py``, ``pairmath.py``) is written once against the array namespace; what
differs between backends is only how arrays are updated in place: numpy and CuPy write into the
array, JAX (immutable arrays) runs a jitted function that donates its input buffer so XLA can
update it in place. Every method takes and returns the storage array, so callers always write
``arr = store.put(arr, idx, values)``.
"""

from __future__ import annotations

import numpy as np

from .backend import Backend
from .tick import tick_pairs, tick_singles


def bucket(n: int, cap: int, floor: int = 1024) -> int:
    """Round ``n`` up to a power of two (at least ``floor``, at most ``cap``): the extents the
    jitted tick is compiled for, so growth causes O(log N) compilations, not one per agent."""
    if n <= 0:
        return 0
    b = floor
    while b < n:
        b *= 2
    return min(b, cap)


class ArrayStore:
    """numpy / CuPy: plain in-place updates; the tick runs on views of the live prefix."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.xp = backend.xp

    def put(self, arr, idx, values):
        arr[self.xp.asarray(idx)] = values
        return arr

    def take(self, arr, idx):
        return arr[self.xp.asarray(idx)]

    def run_pairs(self, rho, s_cell, n, args, coupling_dt, theta0):
        new, diag = tick_pairs(rho[:n], s_cell[:n], *args, coupling_dt, theta0)
        rho[:n] = new
        s_cell[:n] = diag["s_cell"]
        return rho, s_cell, diag

    def run_singles(self, rho, s_cell, n, args, theta0):
        new, diag = tick_singles(rho[:n], s_cell[:n], *args, theta0)
        rho[:n] = new
        s_cell[:n] = diag["s_cell"]
        return rho, s_cell, diag


def _jax_put(arr, idx, values):
    return arr.at[idx].set(values)


def _jax_run_pairs(n, rho, s_cell, args, coupling_dt, theta0):
    import jax

    new, diag = tick_pairs(rho[:n], s_cell[:n], *args, coupling_dt, theta0)
    rho = jax.lax.dynamic_update_slice_in_dim(rho, new, 0, axis=0)
    s_cell = jax.lax.dynamic_update_slice_in_dim(s_cell, diag["s_cell"], 0, axis=0)
    return rho, s_cell, {k: v.astype("float32") for k, v in diag.items()}


def _jax_run_singles(n, rho, s_cell, args, theta0):
    import jax

    new, diag = tick_singles(rho[:n], s_cell[:n], *args, theta0)
    rho = jax.lax.dynamic_update_slice_in_dim(rho, new, 0, axis=0)
    s_cell = jax.lax.dynamic_update_slice_in_dim(s_cell, diag["s_cell"], 0, axis=0)
    return rho, s_cell, {k: v.astype("float32") for k, v in diag.items()}


class JaxStore:
    """JAX: jitted functions with donated buffers; scatter sizes padded to powers of two (the
    padding points at the scratch cell, the last row of every cell array)."""

    def __init__(self, backend: Backend):
        import jax

        self.backend = backend
        self.xp = backend.xp
        self._put = jax.jit(_jax_put, donate_argnums=(0,))
        self._pairs = jax.jit(_jax_run_pairs, static_argnums=(0,), donate_argnums=(1, 2))
        self._singles = jax.jit(_jax_run_singles, static_argnums=(0,), donate_argnums=(1, 2))

    def _pad(self, arr, idx, values):
        idx = np.asarray(idx, dtype=np.int32)
        n = len(idx)
        m = bucket(n, 1 << 62, floor=16)
        if m == n:
            return idx, values
        scratch = arr.shape[0] - 1
        pad_idx = np.concatenate([idx, np.full(m - n, scratch, np.int32)])
        vals = self.xp.asarray(values)
        filler = self.xp.broadcast_to(arr[scratch], (m - n,) + tuple(arr.shape[1:]))
        return pad_idx, self.xp.concatenate([vals.astype(arr.dtype), filler], axis=0)

    def put(self, arr, idx, values):
        idx, values = self._pad(arr, idx, values)
        return self._put(arr, self.xp.asarray(idx), self.xp.asarray(values, dtype=arr.dtype))

    def take(self, arr, idx):
        return self.xp.take(arr, self.xp.asarray(np.asarray(idx, dtype=np.int32)), axis=0)

    def run_pairs(self, rho, s_cell, n, args, coupling_dt, theta0):
        return self._pairs(n, rho, s_cell, tuple(self.xp.asarray(a) for a in args),
                           coupling_dt, theta0)

    def run_singles(self, rho, s_cell, n, args, theta0):
        return self._singles(n, rho, s_cell, tuple(self.xp.asarray(a) for a in args), theta0)


def make_store(backend: Backend):
    return JaxStore(backend) if backend.name == "jax" else ArrayStore(backend)


__all__ = ["ArrayStore", "JaxStore", "bucket", "make_store"]
