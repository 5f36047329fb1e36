"""A device failure in the middle of a run moves the register to the CPU; ticking goes on."""

from __future__ import annotations

import numpy as np
import pytest
from uqo.engine.backend import get_backend
from uqo.engine.register import AgentRegister
from uqo.engine.register.storage import make_store
from uqo.kernels.failover import DeviceFailure, FailoverStore, is_device_failure
from uqo.kernels.numba_store import NumbaStore


class FlakyDevice:
    """A real JAX store whose ``fail_at``-th tick raises (the injected fault). With ``lose``
    the fault also destroys the state, as a dead driver would."""

    def __init__(self, inner, fail_at: int, lose: bool):
        self.inner, self.backend, self.xp = inner, inner.backend, inner.xp
        self.calls, self.fail_at, self.lose = 0, fail_at, lose

    def put(self, arr, idx, values):
        return self.inner.put(arr, idx, values)

    def take(self, arr, idx):
        return self.inner.take(arr, idx)

    def run_pairs(self, rho, s_cell, n, inputs):
        self.calls += 1
        if self.calls == self.fail_at:
            if self.lose:
                rho.delete()
            raise DeviceFailure("injected: CUDA error: an illegal memory access was encountered")
        return self.inner.run_pairs(rho, s_cell, n, inputs)

    def run_singles(self, *args):
        return self.inner.run_singles(*args)


def _register(store=None):
    reg = AgentRegister(4096, backend="jax")
    if store is not None:
        reg._store = store
    ids = reg.add_pairs(1500)
    reg.add_singles(500)
    return reg, ids


def _drive(reg, ids, ticks=4):
    rng = np.random.default_rng(3)
    for _ in range(ticks):
        reg.heartbeat(rng.choice(ids, 100, replace=False))
        reg.record_outcome(rng.choice(ids, 100, replace=False), rng.uniform(-1, 1, 100))
        reg.tick(1.0)
    return reg


def _failover(fail_at: int, lose: bool):
    backend = get_backend("jax")
    flaky = FlakyDevice(make_store(backend), fail_at, lose)
    return FailoverStore(flaky, NumbaStore, clock=lambda: 123.0)


def test_failure_migrates_state_and_ticks_on_cpu_with_the_same_results():
    store = _failover(fail_at=3, lose=False)
    reg, ids = _register(store)
    _drive(reg, ids)
    want = _drive(_register()[0], ids)
    assert store.failed and len(store.events) == 1
    event = store.events[0]
    assert (event.time, event.call, event.state) == (123.0, "run_pairs", "migrated")
    assert "illegal memory access" in event.error
    assert isinstance(reg.rho_pairs, np.ndarray) and isinstance(reg.rho_singles, np.ndarray)
    np.testing.assert_allclose(reg.readiness(), want.readiness(), atol=1e-5)
    np.testing.assert_allclose(reg.entropy(), want.entropy(), atol=1e-5)
    assert reg.report.time == 4.0


def test_unreadable_device_state_restarts_maximally_mixed_and_is_recorded():
    store = _failover(fail_at=2, lose=True)
    reg, ids = _register(store)
    _drive(reg, ids, ticks=2)
    assert store.events[0].state == "reset"
    rho = reg.rho_pairs[: 1500]
    assert np.isfinite(rho).all()
    np.testing.assert_allclose(np.trace(rho, axis1=1, axis2=2).real, 1.0, atol=1e-5)
    assert reg.report.n_agents == 3500


def test_other_errors_are_not_swallowed():
    class Broken(FlakyDevice):
        def run_pairs(self, *args):
            raise ValueError("a bug, not a device failure")

    store = FailoverStore(Broken(make_store(get_backend("jax")), 1, False), NumbaStore,
                          clock=lambda: 0.0)
    reg, _ = _register(store)
    with pytest.raises(ValueError, match="a bug"):
        reg.tick(1.0)
    assert not store.failed and store.events == []


@pytest.mark.parametrize("name, expected", [("OutOfMemoryError", True), ("CUDADriverError", True),
                                            ("XlaRuntimeError", True), ("KeyError", False)])
def test_device_failure_is_judged_by_class_name(name, expected):
    exc = type(name, (RuntimeError,), {})("x")
    assert is_device_failure(exc) is expected


def test_a_device_lost_while_writing_entropies_resets_them_to_the_mixed_state():
    """The device dies during the put of the cell entropies of an observation (the states went
    through earlier calls on the device): the lost entropies restart at ln D, the maximally
    mixed value that goes with the reset states, not at 0."""
    class DiesOnEntropyPut(FlakyDevice):
        def put(self, arr, idx, values):
            if arr.ndim == 1 and self.fail_at:
                self.fail_at = 0
                for x in (reg.rho_pairs, reg.s_pairs, reg.rho_singles, reg.s_singles):
                    x.delete()
                raise DeviceFailure("injected: CUDA error: the device was lost")
            return self.inner.put(arr, idx, values)

    dying = DiesOnEntropyPut(make_store(get_backend("jax")), 0, True)
    store = FailoverStore(dying, NumbaStore, clock=lambda: 0.0)
    reg, ids = _register(store)
    reg.tick(1.0)
    dying.fail_at = 1
    reg.heartbeat(ids[:3])
    reg.readiness()                                    # flush: rho put, then the failing s put
    assert [(e.call, e.state) for e in store.events] == [("put", "reset")]
    cells = np.unique(reg.cell[ids[4:]])              # cells the heartbeats did not touch
    np.testing.assert_allclose(reg.s_pairs[cells], np.log(4), atol=1e-12)
    mixed = np.broadcast_to(np.eye(4) / 4, (len(cells), 4, 4))
    np.testing.assert_allclose(reg.rho_pairs[cells], mixed, atol=1e-7)
    reg.tick(1.0)
    assert abs(reg.report.leakage) < 50 and np.isfinite(reg.report.leakage)
