"""The tick's channels and rotations against their Kraus definitions (notes/agent-model-math)."""

import numpy as np
import pytest
from uqo.engine import pairmath as pm
from uqo.engine import tick as tk
from uqo.kernels.tick_inputs import PairInputs

X = np.array([[0, 1], [1, 0]], complex)
Y = np.array([[0, -1j], [1j, 0]])
Z = np.diag([1.0, -1.0]).astype(complex)
I2 = np.eye(2, dtype=complex)


def _random_rho(rng, n, d=4):
    a = rng.normal(size=(n, d, d)) + 1j * rng.normal(size=(n, d, d))
    rho = a @ a.conj().transpose(0, 2, 1)
    return rho / np.trace(rho, axis1=1, axis2=2).real[:, None, None]


def _on_site(op, site):
    return np.kron(op, I2) if site == 0 else np.kron(I2, op)


def _kraus(rho, ops):
    return sum(k @ rho @ k.conj().T for k in ops)


@pytest.mark.parametrize("site", [0, 1])
def test_site_channel_equals_kraus_composition(site):
    rng = np.random.default_rng(site)
    rho = _random_rho(rng, 20)
    p, q, g = rng.uniform(0, 0.6, 20), rng.uniform(0, 0.4, 20), rng.uniform(0, 0.9, 20)
    got = tk.site_channel(rho, site, p, q, g)
    for i in range(20):
        dep = [np.sqrt(1 - 3 * p[i] / 4) * I2] + [np.sqrt(p[i] / 4) * s for s in (X, Y, Z)]
        deph = [np.sqrt(1 - q[i]) * I2, np.sqrt(q[i]) * Z]
        damp = [np.diag([1, np.sqrt(1 - g[i])]), np.sqrt(g[i]) * np.array([[0, 1], [0, 0]])]
        want = rho[i]
        for ops in (dep, deph, damp):
            want = _kraus(want, [_on_site(k.astype(complex), site) for k in ops])
        np.testing.assert_allclose(got[i], want, atol=1e-12)


def test_qubit_channel_equals_kraus_composition():
    rng = np.random.default_rng(7)
    rho = _random_rho(rng, 10, 2)
    p, q, g = rng.uniform(0, 1, 10), rng.uniform(0, 0.5, 10), rng.uniform(0, 1, 10)
    got = tk.qubit_channel(rho, p, q, g)
    for i in range(10):
        dep = [np.sqrt(1 - 3 * p[i] / 4) * I2] + [np.sqrt(p[i] / 4) * s for s in (X, Y, Z)]
        deph = [np.sqrt(1 - q[i]) * I2, np.sqrt(q[i]) * Z]
        damp = [np.diag([1, np.sqrt(1 - g[i])]), np.sqrt(g[i]) * np.array([[0, 1], [0, 0]])]
        want = _kraus(_kraus(_kraus(rho[i], dep), deph), damp)
        np.testing.assert_allclose(got[i], want, atol=1e-12)


def test_correlated_failure_makes_binary_entropy_of_mutual_information():
    c = 0.3
    rho = np.zeros((1, 4, 4), complex)
    rho[0, 3, 3] = 1.0                      # |11><11|: both ready, no correlation
    out = tk.correlated_failure(rho, np.array([c]))
    ra, rb = pm.reduced_pair(out)
    mi = pm.qubit_entropy(ra) + pm.qubit_entropy(rb) - pm.pair_entropy(out)
    h = -(c * np.log(c) + (1 - c) * np.log(1 - c))
    assert mi[0] == pytest.approx(h, abs=1e-9)


def test_zz_phase_is_the_diagonal_unitary():
    jdt = 0.37
    u = np.diag(np.exp(-1j * jdt * np.array([1, -1, -1, 1])))
    rho = _random_rho(np.random.default_rng(1), 1)[0]
    got = rho * tk.zz_phase(jdt, np.complex128, np)
    np.testing.assert_allclose(got, u @ rho @ u.conj().T, atol=1e-12)


def _bloch(r):
    return np.array([v[0] for v in pm.bloch(r[None])])


@pytest.mark.parametrize("reward", [1.0, -1.0, 0.3, -0.2])
def test_rotation_moves_toward_target_without_overshoot(reward):
    rng = np.random.default_rng(2)
    rho = _random_rho(rng, 50, 2)
    u = tk.rotation_toward(rho, np.full(50, reward), np.pi / 4)
    out = tk.conjugate(rho, u)
    tz = -1.0 if reward > 0 else 1.0
    for i in range(50):
        before, after = _bloch(rho[i]), _bloch(out[i])
        np.testing.assert_allclose(np.linalg.norm(after), np.linalg.norm(before), atol=1e-10)
        cb = before[2] * tz / np.linalg.norm(before)
        ca = after[2] * tz / np.linalg.norm(after)
        gap = np.arccos(np.clip(cb, -1, 1))
        turned = np.arccos(np.clip(ca, -1, 1))
        assert turned == pytest.approx(max(gap - np.pi / 4 * abs(reward), 0), abs=1e-6)
    np.testing.assert_allclose(np.einsum("nij,nkj->nik", u, u.conj()),
                               np.broadcast_to(I2, (50, 2, 2)), atol=1e-12)


def test_zero_reward_is_identity():
    rho = _random_rho(np.random.default_rng(4), 8, 2)
    u = tk.rotation_toward(rho, np.zeros(8), np.pi / 4)
    np.testing.assert_allclose(u, np.broadcast_to(I2, (8, 2, 2)), atol=0)


def test_tick_pairs_preserves_trace_and_hermiticity_and_reports_leakage():
    rng = np.random.default_rng(9)
    rho = _random_rho(rng, 64)
    s0 = pm.pair_entropy(rho)
    args = [rng.uniform(0, 0.2, 64) for _ in range(7)] + [rng.uniform(-1, 1, 64)] * 2
    out, diag = tk.tick_pairs(rho, s0, PairInputs(*args, coupling_dt=0.05, theta0=np.pi / 4))
    np.testing.assert_allclose(np.trace(out, axis1=1, axis2=2), 1, atol=1e-12)
    np.testing.assert_allclose(out, out.conj().transpose(0, 2, 1), atol=1e-14)
    assert np.linalg.eigvalsh(out).min() > -1e-12
    # entropy is unitarily invariant: the s_cell computed before ZZ and rotations is the final one
    np.testing.assert_allclose(diag["s_cell"], pm.pair_entropy(out), atol=1e-7)
    np.testing.assert_allclose(diag["leak"], diag["s_cell"] - s0, atol=1e-12)
    ra, rb = pm.reduced_pair(out)
    np.testing.assert_allclose(diag["ready_a"], ra[:, 1, 1].real, atol=1e-12)
    np.testing.assert_allclose(diag["mi"], pm.qubit_entropy(ra) + pm.qubit_entropy(rb)
                               - pm.pair_entropy(out), atol=1e-6)
