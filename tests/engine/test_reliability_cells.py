"""The register's reliability qubits: queued outcomes, the tick on each backend (numba loops on
numpy) against the reference maps."""

import numpy as np
import pytest
from uqo.engine import reliability as ref
from uqo.engine.register.reliability import ReliabilityCells


def _cells(backend, n=50):
    return ReliabilityCells(backend, n, np.complex64, p0=0.9, s0=0.5, s1=0.98)


def test_outcomes_then_a_tick_match_the_reference(backend):
    rel = _cells(backend)
    ids = np.array([3, 3, 7, 11, 11, 11])
    ok = np.array([True, False, False, True, True, True])
    rel.outcome(ids, ok)
    rel.tick(50, 0.05, 0.6)
    want = ref.prior_states(50, 0.9, np, np.complex128)
    for i, good in zip(ids, ok):
        e0, e1 = ref.outcome_effects(bool(good), 0.5, 0.98)
        want[i:i + 1] = ref.lueders_diagonal(want[i:i + 1], e0, e1)
    want = ref.drift(want, 0.05, 0.6)
    got = backend.to_numpy(rel.rho) if backend.name != "numpy" else rel.rho
    np.testing.assert_allclose(got, want, atol=2e-6)
    np.testing.assert_allclose(rel.ready, ref.reliability(want), atol=2e-6)
    np.testing.assert_allclose(rel.entropy, ref.qubit_entropy(want), atol=2e-5)


def test_many_outcomes_do_not_underflow_and_reset_restores_the_prior(backend):
    rel = _cells(backend, 8)
    rel.outcome(np.zeros(2000, np.int64), np.zeros(2000, bool))     # 2,000 failures
    rel.flush()
    assert rel.ready[0] == pytest.approx(0.0, abs=1e-6) and np.isfinite(rel.entropy[0])
    assert np.isfinite(rel.state(0)).all()
    rel.outcome(np.array([1]), np.array([True]))
    rel.reset(np.array([0, 1]))
    rel.tick(8, 0.0, 0.5)
    assert rel.ready[:2] == pytest.approx([0.9, 0.9], abs=1e-6)
    rel.set_state(2, np.diag([0.25, 0.75]))
    assert rel.state(2)[1, 1].real == pytest.approx(0.75) and rel.ready[2] == pytest.approx(0.75)
