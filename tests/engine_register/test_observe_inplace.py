"""Observations on the numba store (updated in place, uqo.kernels.numba_observe) give the same
register as the generic gather/update/scatter path, both when read right away (diagnostics
refreshed) and after the next tick."""

from __future__ import annotations

import numpy as np
import pytest
from uqo.engine.register import AgentRegister
from uqo.engine.register.storage import make_store

pytest.importorskip("numba", reason="numba is not installed: the numpy store is the generic one")


def _pair(fused: bool):
    reg = AgentRegister(120, backend="numpy", seed=2)
    if not fused:
        reg._store = make_store(reg.backend, fused=False)
    assert hasattr(reg._store, "observe_pairs") == fused
    return reg


def test_numba_observations_equal_the_generic_path():
    regs = [_pair(True), _pair(False)]
    rng = [np.random.default_rng(7), np.random.default_rng(7)]
    ids = [r.add_pairs(40) for r in regs]
    for step in range(6):
        for reg, g, who in zip(regs, rng, ids):
            reg.heartbeat(g.choice(who, 30))               # repeats: applied in rounds
            reg.record_outcome(g.choice(who, 10, replace=False), g.uniform(-1, 1, 10))
            if step % 2:
                reg.observe_failure(g.choice(who, 3, replace=False))
        fused, generic = regs
        for fn in ("readiness", "entropy", "pair_mutual_information", "pair_concurrence"):
            np.testing.assert_allclose(getattr(fused, fn)(), getattr(generic, fn)(), atol=2e-6,
                                       err_msg=fn)
        np.testing.assert_allclose(fused.rho_pairs, generic.rho_pairs, atol=2e-6)
        np.testing.assert_allclose(fused.s_pairs, generic.s_pairs, atol=2e-6)
        a, b = fused.tick(1.0), generic.tick(1.0)
        assert a.global_coherence == pytest.approx(b.global_coherence, abs=1e-6)
        assert a.leakage == pytest.approx(b.leakage, abs=1e-5)
