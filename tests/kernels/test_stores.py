"""The register on the fused stores gives the reference register's results, allocation-free."""

from __future__ import annotations

import numpy as np
import pytest
from uqo.engine.backend import get_backend
from uqo.engine.register import AgentRegister
from uqo.engine.register.jax_storage import JaxStore
from uqo.engine.register.storage import ArrayStore, make_store
from uqo.kernels.numba_store import NumbaStore


def _run(backend: str, fused: bool, ticks: int = 4):
    reg = AgentRegister(6000, backend=backend)
    reg._store = make_store(reg.backend, fused=fused)
    ids, solo = reg.add_pairs(2000), reg.add_singles(1000)
    rng = np.random.default_rng(2)
    for _ in range(ticks):
        reg.heartbeat(rng.choice(ids, 300, replace=False))
        reg.observe_failure(rng.choice(ids, 20, replace=False))
        reg.record_outcome(rng.choice(ids, 500, replace=False), rng.uniform(-1, 1, 500))
        reg.record_outcome(rng.choice(solo, 100, replace=False), 0.5)
        reg.tick(1.0)
    return reg


def test_make_store_picks_the_fused_kernels():
    assert isinstance(make_store(get_backend("numpy")), NumbaStore)
    assert isinstance(make_store(get_backend("numpy"), fused=False), ArrayStore)
    assert isinstance(make_store(get_backend("jax")), JaxStore)


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_fused_register_equals_reference_register(backend):
    want, got = _run("numpy", fused=False), _run(backend, fused=True)
    for read in ("readiness", "entropy", "pair_mutual_information", "pair_concurrence"):
        np.testing.assert_allclose(getattr(got, read)(), getattr(want, read)(), atol=1e-5,
                                   err_msg=read)
    for field in ("global_coherence", "mean_entropy", "mean_readiness", "mean_pair_mi"):
        assert getattr(got.report, field) == pytest.approx(getattr(want.report, field), abs=1e-5)
    assert got.report.leakage == pytest.approx(want.report.leakage, rel=1e-4)


def test_numba_store_ticks_in_place_without_new_buffers():
    reg = AgentRegister(4096, backend="numpy")
    reg.add_pairs(1500)
    reg.tick(1.0)
    arrays = [id(x) for x in (reg.rho_pairs, reg.s_pairs)]
    buffers = {k: id(v) for k, v in reg._store._out.items()}
    for _ in range(3):
        reg.tick(1.0)
    assert [id(x) for x in (reg.rho_pairs, reg.s_pairs)] == arrays
    assert {k: id(v) for k, v in reg._store._out.items()} == buffers
