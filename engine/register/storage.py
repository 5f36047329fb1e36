"""Stores: the register's adapters to one backend, and the protocol they share.

The physics (``uqo.engine.tick``, ``pairmath``) is written once against the array namespace;
what differs between backends is only how arrays are updated in place: numpy and CuPy write into
the array, JAX (immutable arrays) runs a jitted function that donates its input buffer so XLA can
update it in place. Every method takes and returns the storage array, so callers always write
``arr = store.put(arr, idx, values)``.

The stores (each implements ``Store``; ``tests/kernels/test_store_protocol.py`` checks
them against it, signatures included):

==================  ============================================  ===============================
store               module                                         runs the tick with
==================  ============================================  ===============================
``ArrayStore``      ``uqo.engine.register.storage``                the reference, numpy / CuPy
``JaxStore``        ``uqo.engine.register.jax_storage``            a jitted tick (fused or not)
``ShardedJaxStore`` ``uqo.engine.register.jax_storage``            the same, cells over a mesh
``NumbaStore``      ``uqo.kernels.numba_store``                    the numba kernel, in place
``CupyStore``       ``uqo.kernels.cupy_store``                     the CUDA kernel, in place
``FailoverStore``   ``uqo.kernels.failover``                       its GPU store, then the CPU's
==================  ============================================  ===============================

``make_store`` picks one for a backend.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol, runtime_checkable

from uqo.kernels.tick_inputs import PairInputs, SingleInputs

from ..backend import Backend
from ..tick import tick_pairs, tick_singles


@runtime_checkable
class Store(Protocol):
    """What the register asks of a backend. Arrays: ``rho`` ``(R, D, D)`` cell states and
    ``s_cell`` ``(R,)`` float64 cell entropies (``R`` rows, the last a scratch row), in the
    store's own array type; every method returns the arrays to keep using (a JAX store returns
    new ones, an in-place store the same ones).

    Optional extras the register uses where present: ``observe_pairs`` (in-place Lueders
    updates, ``NumbaStore``), ``failed`` and ``events`` (``FailoverStore``)."""

    backend: Any   # the ``Backend`` the arrays live on (None: host numpy)
    xp: Any        # its array namespace

    def put(self, arr, idx, values):
        """``arr`` with rows ``idx`` (host ints) set to ``values``."""
        ...

    def take(self, arr, idx):
        """Rows ``idx`` (host ints) of ``arr``, in the store's array type (or numpy)."""
        ...

    def run_pairs(self, rho, s_cell, n: int, inputs: PairInputs):
        """Tick pair cells ``[0, n)``; returns ``(rho, s_cell, diagnostics)``, the diagnostics
        ``(n,)`` arrays keyed as ``uqo.engine.tick.tick_pairs``'s."""
        ...

    def run_singles(self, rho, s_cell, n: int, inputs: SingleInputs):
        """Tick single cells ``[0, n)``; returns ``(rho, s_cell, diagnostics)``."""
        ...


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

    def run_pairs(self, rho, s_cell, n: int, inputs: PairInputs):
        new, diag = tick_pairs(rho[:n], s_cell[:n], inputs)
        rho[:n] = new
        s_cell[:n] = diag["s_cell"]
        return rho, s_cell, diag

    def run_singles(self, rho, s_cell, n: int, inputs: SingleInputs):
        new, diag = tick_singles(rho[:n], s_cell[:n], inputs)
        rho[:n] = new
        s_cell[:n] = diag["s_cell"]
        return rho, s_cell, diag


def make_store(backend: Backend, fused: bool = True, mesh=None) -> Store:
    """The store for ``backend``. With ``fused`` (the default) the tick runs the hand-fused
    kernels of ``uqo.kernels`` where the backend has one: numba on numpy, the elementwise
    ``jax.jit`` tick on JAX, the CUDA kernel on CuPy; a store on a GPU is wrapped so that a device
    failure moves the register to the CPU and keeps ticking (``uqo.kernels.fused``). A ``mesh``
    (JAX only) gives the sharded store."""
    from .jax_storage import JaxStore, ShardedJaxStore  # here: jax_storage imports bucket

    if mesh is not None and backend.name != "jax":
        raise ValueError(f"a device mesh needs the jax backend, got {backend.name!r}")
    if not fused:
        if mesh is not None:
            return ShardedJaxStore(backend, mesh=mesh)
        return JaxStore(backend) if backend.name == "jax" else ArrayStore(backend)
    from uqo.kernels.fused import fused_store

    jax_store = JaxStore if mesh is None else partial(ShardedJaxStore, mesh=mesh)
    return fused_store(backend, generic=partial(make_store, fused=False),
                       jax_store=jax_store, cpu_generic=_generic_numpy_store)


def _generic_numpy_store():
    from ..backend import get_backend

    return ArrayStore(get_backend("numpy"))


__all__ = ["ArrayStore", "Store", "bucket", "make_store"]
