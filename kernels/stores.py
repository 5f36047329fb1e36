"""Stores that run the fused kernels, and the GPU -> CPU failover around them.

A *store* is the register's adapter to one backend (``uqo.engine.store`` defines the protocol:
``put``, ``take``, ``run_pairs``, ``run_singles``, each taking and returning the storage arrays).
This module adds:

* ``NumbaStore``: numpy arrays, tick by the parallel numba kernel in place, diagnostics written
  into buffers kept between ticks (no allocation per tick once the register stops growing);
* ``FailoverStore``: wraps a GPU store; when a call fails with a device error (out of memory, a
  driver or runtime error) it moves every array that passes through it to host numpy, switches
  to a CPU store, retries the call there, and records the event in ``events``;
* ``fused_store``: picks the fastest correct store for a backend (``make_store`` calls it).

kernels/ does not import the engine: the engine hands in what it owns (the generic stores).
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np

from .failover import FailoverStore


def numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


class NumbaStore:
    """numpy storage; the tick is ``uqo.kernels.numba_tick`` run in place on the live prefix."""

    def __init__(self, backend=None):
        self.backend = backend
        self.xp = np if backend is None else backend.xp
        self._out: dict[str, np.ndarray] = {}

    def put(self, arr, idx, values):
        arr[np.asarray(idx)] = values
        return arr

    def take(self, arr, idx):
        return arr[np.asarray(idx)]

    def _buffer(self, kind: str, rows: int, n: int) -> np.ndarray:
        buf = self._out.get(kind)
        if buf is None or buf.shape[1] < n:
            buf = np.empty((rows, n), np.float64)
            self._out[kind] = buf
        return buf

    def observe_pairs(self, rho, s_cell, cells, sites, m0, m1):
        """Lueders updates of distinct pair cells in place (``uqo.kernels.numba_observe``);
        returns the mask of cells whose outcome had probability ~0 (left for the caller)."""
        from .numba_observe import lueders_pairs_inplace

        return lueders_pairs_inplace(rho, s_cell, cells, sites, m0, m1)

    def run_pairs(self, rho, s_cell, n, args, coupling_dt, theta0):
        from . import numba_tick as nt

        out = self._buffer("pairs", len(nt.PAIR_KEYS), n)
        params = [np.ascontiguousarray(a) for a in args]
        nt.pairs_inplace(rho[:n], s_cell[:n], params, coupling_dt, theta0, out)
        return rho, s_cell, {k: out[i, :n] for i, k in enumerate(nt.PAIR_KEYS)}

    def run_singles(self, rho, s_cell, n, args, theta0):
        from . import numba_tick as nt

        out = self._buffer("singles", len(nt.SINGLE_KEYS), n)
        params = [np.ascontiguousarray(a) for a in args]
        nt.singles_inplace(rho[:n], s_cell[:n], params, theta0, out)
        return rho, s_cell, {k: out[i, :n] for i, k in enumerate(nt.SINGLE_KEYS)}


def cpu_store(generic_numpy):
    """The fastest CPU store: numba where installed, else the engine's generic numpy store
    (``generic_numpy()`` builds it)."""
    return NumbaStore() if numba_available() else generic_numpy()


def fused_store(backend, generic, jax_store, cpu_generic):
    """The store for ``backend`` with fused kernels where they exist.

    ``generic(backend)`` builds the engine's unfused store, ``jax_store(backend, pairs_fn,
    singles_fn)`` the engine's JAX store around given tick functions, ``cpu_generic()`` the
    unfused numpy store (the failover target when numba is absent).
    """
    if backend.name == "numpy":
        return NumbaStore(backend) if numba_available() else generic(backend)
    if backend.name == "jax":
        from . import jax_tick

        store = jax_store(backend, jax_tick.tick_pairs, jax_tick.tick_singles)
    else:
        from .cupy_store import CupyStore

        store = CupyStore(backend)
    if backend.device == "cpu":
        return store
    return FailoverStore(store, lambda: cpu_store(cpu_generic), clock=time.time)
