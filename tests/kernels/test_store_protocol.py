"""Every register store implements ``uqo.engine.register.storage.Store``: the protocol's methods
with its exact signatures (names, kinds, defaults, annotations), and ``isinstance`` on a built
instance (which also checks the ``backend`` and ``xp`` attributes)."""

from __future__ import annotations

import inspect
import types

import numpy as np
import pytest
from uqo.engine.backend import get_backend
from uqo.engine.register.jax_storage import JaxStore, ShardedJaxStore
from uqo.engine.register.storage import ArrayStore, Store
from uqo.kernels.cupy_store import CupyStore
from uqo.kernels.failover import FailoverStore
from uqo.kernels.numba_store import NumbaStore

STORES = [ArrayStore, JaxStore, ShardedJaxStore, NumbaStore, CupyStore, FailoverStore]
METHODS = ("put", "take", "run_pairs", "run_singles")


def _signature_gaps(cls) -> list[str]:
    """What ``cls`` lacks or declares differently from ``Store`` (empty: it matches)."""
    gaps = []
    for name in METHODS:
        want = inspect.signature(getattr(Store, name))
        method = getattr(cls, name, None)
        if method is None:
            gaps.append(f"{name}: missing")
        elif inspect.signature(method) != want:
            gaps.append(f"{name}{inspect.signature(method)} != {name}{want}")
    return gaps


@pytest.mark.parametrize("cls", STORES, ids=lambda c: c.__name__)
def test_store_class_has_the_protocol_signatures(cls):
    assert _signature_gaps(cls) == []


def test_the_signature_check_can_fail():
    class OldStyle(NumbaStore):              # the tick's inputs as loose arguments, as before
        def run_pairs(self, rho, s_cell, n, args, coupling_dt, theta0):
            raise AssertionError("never called")

    class Partial:
        def put(self, arr, idx, values):
            return arr

    assert [g.split("(")[0] for g in _signature_gaps(OldStyle)] == ["run_pairs"]
    assert _signature_gaps(Partial) == ["take: missing", "run_pairs: missing",
                                        "run_singles: missing"]
    assert not isinstance(Partial(), Store)


def _instances(cp):
    jax_backend = get_backend("jax")
    from uqo.kernels.sharding import cell_mesh

    numba = NumbaStore()
    return [ArrayStore(get_backend("numpy")), JaxStore(jax_backend),
            ShardedJaxStore(jax_backend, mesh=cell_mesh()), numba,
            CupyStore(types.SimpleNamespace(xp=cp)),
            FailoverStore(numba, NumbaStore, clock=lambda: 0.0)]


def test_every_built_store_is_a_store(cp):
    stores = _instances(cp)
    assert [type(s) for s in stores] == STORES
    for store in stores:
        assert isinstance(store, Store), type(store).__name__
        assert store.xp is not None


def test_a_store_puts_and_takes_rows(cp):
    """The behaviour the protocol promises, on every store with host-visible arrays."""
    for store in _instances(cp):
        if isinstance(store, CupyStore):
            arr = cp.asarray(np.zeros((4, 2, 2), np.complex64))
        else:
            arr = store.xp.asarray(np.zeros((4, 2, 2), np.complex64))
        arr = store.put(arr, [1, 2], np.ones((2, 2, 2), np.complex64))
        got = store.take(arr, [2, 0])
        got = got.get() if hasattr(got, "get") else np.asarray(got)
        np.testing.assert_array_equal(got[:, 0, 0], [1, 0], err_msg=type(store).__name__)
