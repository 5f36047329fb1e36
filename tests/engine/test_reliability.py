"""The reliability qubit and the evidence table (docs/model.md): closed forms, the Kraus forms,
QuTiP as an independent reference, and every backend against numpy."""

import math

import numpy as np
import pytest
import qutip
from uqo.engine import evidence as ev
from uqo.engine import reliability as rel


def _random_qubits(rng, n):
    g = rng.normal(size=(n, 2, 2)) + 1j * rng.normal(size=(n, 2, 2))
    rho = g @ np.conj(np.swapaxes(g, 1, 2))
    return rho / np.trace(rho, axis1=1, axis2=2)[:, None, None]


def test_drift_is_the_replacement_channel_in_kraus_form_and_matches_qutip():
    rng = np.random.default_rng(1)
    rho = _random_qubits(rng, 6)
    gamma, p = 0.3, 0.8
    out = rel.drift(rho, gamma, p)
    e = np.eye(2)
    kraus = [math.sqrt(1 - gamma) * e] + [
        math.sqrt(gamma * w) * np.outer(e[k], e[i]) for k, w in ((0, 1 - p), (1, p))
        for i in range(2)]
    assert np.allclose(sum(k.conj().T @ k for k in kraus), e)          # trace preserving
    for r, o in zip(rho, out):
        assert np.allclose(sum(k @ r @ k.conj().T for k in kraus), o)
        sup = qutip.kraus_to_super([qutip.Qobj(k) for k in kraus])
        q = qutip.vector_to_operator(sup * qutip.operator_to_vector(qutip.Qobj(r)))
        assert np.allclose(q.full(), o)
    fixed = np.diag([1 - p, p]).astype(complex)[None]
    assert np.allclose(rel.drift(fixed, 0.7, p), fixed)


def test_lueders_update_is_bayes_on_the_diagonal_and_matches_qutip():
    rng = np.random.default_rng(2)
    rho = _random_qubits(rng, 5)
    s0, s1 = 0.5, 0.98
    for success in (True, False):
        e0, e1 = rel.outcome_effects(success, s0, s1)
        out = rel.lueders_diagonal(rho, e0, e1)
        prior = rho[:, 1, 1].real
        like1, like0 = (s1, s0) if success else (1 - s1, 1 - s0)
        bayes = prior * like1 / (prior * like1 + (1 - prior) * like0)
        assert np.allclose(rel.reliability(out), bayes)
        root = qutip.Qobj(np.diag(np.sqrt([e0, e1])))
        for r, o in zip(rho, out):
            q = root * qutip.Qobj(r) * root
            assert np.allclose((q / q.tr()).full(), o)


def test_diagonal_effects_compose_into_their_product_in_any_order():
    rho = _random_qubits(np.random.default_rng(3), 4)
    a, b = (0.5, 0.98), (0.5, 0.02)
    ab = rel.lueders_diagonal(rel.lueders_diagonal(rho, *a), *b)
    ba = rel.lueders_diagonal(rel.lueders_diagonal(rho, *b), *a)
    one = rel.lueders_diagonal(rho, a[0] * b[0], a[1] * b[1])
    assert np.allclose(ab, ba) and np.allclose(ab, one)


def test_an_impossible_outcome_resets_to_the_evidence():
    sure = np.array([[[0, 0], [0, 1]]], complex)            # certainly reliable
    out = rel.lueders_diagonal(sure, 1.0, 0.0)              # an outcome only |0> gives
    assert np.allclose(out[0], np.diag([1, 0]))


def test_prior_and_success_probability():
    st = rel.prior_states(3, 0.9, np)
    assert st.shape == (3, 2, 2) and np.allclose(rel.reliability(st), 0.9)
    assert rel.success_probability(0.5, 0.9, 0.5, 0.98) == pytest.approx(0.5 * (0.5 + 0.48 * 0.9))
    assert rel.qubit_entropy(st)[0] == pytest.approx(-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)),
                                                     abs=1e-6)


def test_every_backend_matches_numpy(backend):
    rng = np.random.default_rng(4)
    rho = _random_qubits(rng, 9).astype(np.complex64)
    e0, e1 = rng.uniform(0.1, 1, 9), rng.uniform(0.1, 1, 9)
    want = rel.lueders_diagonal(rel.drift(rho, 0.1, 0.6), e0, e1)
    xp = backend.xp
    got = rel.lueders_diagonal(rel.drift(xp.asarray(rho), 0.1, 0.6), xp.asarray(e0),
                               xp.asarray(e1))
    np.testing.assert_allclose(backend.to_numpy(got), want, atol=1e-6)


def test_the_evidence_table():
    assert ev.liveness_effect("heartbeat", 0.05, 0.1) == (0.05, 0.95)
    assert ev.liveness_effect("timeout", 0.05, 0.1) == (1.0, 0.1)
    assert ev.liveness_effect("silence", 0.05, 0.1, silence=0.0025) == (1.0, 0.0025)
    assert ev.liveness_kraus("success", 0.05, 0.1) == (0.0, 1.0)
    with pytest.raises(ValueError, match="'rumour'"):
        ev.liveness_effect("rumour", 0.05, 0.1)


def _entropy(p):
    p = p[p > 1e-15]
    return float(-(p * np.log(p)).sum())


@pytest.mark.parametrize("a, r", [(0.9, 0.7), (0.5, 0.5), (1.0, 0.2), (0.0, 0.9), (0.3, 1.0)])
def test_probe_gain_is_the_expected_entropy_reduction_of_the_probe(a, r):
    """Brute force with QuTiP: the two-factor state rho_L (x) rho_R, the probe's POVM (no
    answer, healthy, unhealthy), and H(rho) - sum_k p_k H(rho_k)."""
    s0, s1 = 0.5, 0.98
    rho = qutip.tensor(qutip.Qobj(np.diag([1 - a, a])), qutip.Qobj(np.diag([1 - r, r])))
    down = qutip.tensor(qutip.Qobj(np.diag([1.0, 0])), qutip.qeye(2))
    up_ok = qutip.tensor(qutip.Qobj(np.diag([0, 1.0])), qutip.Qobj(np.diag([s0, s1])))
    up_bad = qutip.tensor(qutip.Qobj(np.diag([0, 1.0])), qutip.Qobj(np.diag([1 - s0, 1 - s1])))
    assert np.allclose((down + up_ok + up_bad).full(), np.eye(4))
    after = 0.0
    for effect in (down, up_ok, up_bad):
        root = effect.sqrtm()
        post = root * rho * root
        p = post.tr().real
        if p > 1e-15:
            after += p * qutip.entropy_vn(post / p)
    want = qutip.entropy_vn(rho) - after
    assert ev.probe_gain(a, r, s0, s1) == pytest.approx(want, abs=1e-9)
