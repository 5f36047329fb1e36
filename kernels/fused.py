"""Which store runs a backend's register: the fused kernel where there is one, and the GPU -> CPU
failover around a GPU store.

* ``fused_store``: the fastest correct store for a backend (``make_store`` in
  ``uqo.engine.register.storage`` calls it): ``NumbaStore`` on numpy, the engine's JAX store
  around the fused ``jax_tick`` on JAX, ``CupyStore`` (the CUDA kernel) on CuPy; a store on a GPU
  is wrapped in ``FailoverStore`` (``failover``), which moves the register to the CPU when the
  device fails;
* ``cpu_store``: the CPU store that failover moves to.

kernels/ does not import the engine: the engine hands in what it owns (its generic stores).
"""

from __future__ import annotations

import time

from .failover import FailoverStore
from .numba_store import NumbaStore, numba_available


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
