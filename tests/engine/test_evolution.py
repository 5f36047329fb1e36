"""evolve, propagator, apply_unitary, qft/iqft and split_step against scipy's expm and kron."""

import itertools

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st
from uqo.engine import apply_unitary, evolve, iqft, propagator, qft, split_step

from tests.engine import naive
from tests.engine.strategies import SETTINGS, random_density, random_kets, seeds

HADAMARD = np.array([[1, 1], [1, -1]]) / np.sqrt(2)


def random_hermitian(rng, batch, d):
    a = rng.normal(size=(*batch, d, d)) + 1j * rng.normal(size=(*batch, d, d))
    return (a + np.conj(np.swapaxes(a, -1, -2))) / 2


def random_unitary(rng, d):
    return scipy.linalg.expm(-1j * random_hermitian(rng, (), d))


@given(seeds, st.integers(2, 5), st.floats(-3, 3))
@SETTINGS
def test_evolve_matches_expm_for_kets_and_density(seed, d, t):
    rng = np.random.default_rng(seed)
    h = random_hermitian(rng, (3,), d)  # batched H
    psi, rho = random_kets(rng, (3,), d), random_density(rng, (3,), d)
    want = np.stack([naive.expm_evolve(p, hh, t) for p, hh in zip(psi, h)])
    np.testing.assert_allclose(evolve(psi, h, t, ket=True), want, atol=1e-10)
    want = np.stack([naive.expm_evolve(r, hh, t) for r, hh in zip(rho, h)])
    np.testing.assert_allclose(evolve(rho, h, t), want, atol=1e-10)
    u = propagator(h, t)
    np.testing.assert_allclose(u @ np.conj(np.swapaxes(u, -1, -2)), np.broadcast_to(
        np.eye(d), u.shape), atol=1e-12)


def test_qubit_closed_form_handles_zero_field_and_batched_times():
    t = np.array([0.0, 0.5, 2.0])
    u = propagator(np.eye(2, dtype=np.complex128) * 0.7, t)  # H = a I: a pure phase
    np.testing.assert_allclose(u, np.exp(-0.7j * t)[:, None, None] * np.eye(2), atol=1e-15)
    h = np.array([[0.3, 1 - 2j], [1 + 2j, -0.4]])
    want = np.stack([scipy.linalg.expm(-1j * h * tt) for tt in t])
    np.testing.assert_allclose(propagator(h, t), want, atol=1e-12)


def test_evolution_preserves_norm_and_keeps_dtype():
    rng = np.random.default_rng(0)
    psi = random_kets(rng, (100,), 4, np.complex64)
    out = evolve(psi, random_hermitian(rng, (), 4), 1.3)
    assert out.dtype == np.complex64
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-5)


def test_apply_unitary_on_a_site_matches_kron():
    rng = np.random.default_rng(4)
    dims = (2, 3, 2)
    u = random_unitary(rng, 3)
    rho, psi = random_density(rng, (2,), 12), random_kets(rng, (2,), 12)
    full = naive.embed(u, 1, dims)
    np.testing.assert_allclose(apply_unitary(rho, u, site=1, dims=dims),
                               full @ rho @ full.conj().T, atol=1e-12)
    np.testing.assert_allclose(apply_unitary(psi, u, site=1, dims=dims),
                               psi @ full.T, atol=1e-12)
    # Equal qubit sites are inferred from U when dims is not given.
    psi8 = random_kets(rng, (2,), 8)
    np.testing.assert_allclose(apply_unitary(psi8, HADAMARD, site=2),
                               psi8 @ naive.embed(HADAMARD, 2, (2, 2, 2)).T, atol=1e-12)


def test_batched_unitaries_act_per_system():
    rng = np.random.default_rng(8)
    us = np.stack([random_unitary(rng, 2) for _ in range(5)])
    psi = random_kets(rng, (5,), 4)
    got = apply_unitary(psi, us, site=0, dims=(2, 2))
    want = np.stack([naive.embed(u, 0, (2, 2)) @ p for u, p in zip(us, psi)])
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_qft_is_the_unitary_dft_on_one_site_and_iqft_inverts_it():
    rng = np.random.default_rng(6)
    dims = (3, 4)
    psi = random_kets(rng, (5,), 12)
    full = naive.embed(naive.dft_matrix(4), 1, dims)
    np.testing.assert_allclose(qft(psi, 1, dims), psi @ full.T, atol=1e-12)
    np.testing.assert_allclose(iqft(qft(psi, 0, dims), 0, dims), psi, atol=1e-12)
    np.testing.assert_allclose(qft(psi), psi @ naive.dft_matrix(12).T, atol=1e-12)


def _strang_error(dt, psi, v, m, dims, site):
    mixer = naive.dft_matrix(dims[site]).conj().T @ np.diag(m) @ naive.dft_matrix(dims[site])
    h = np.diag(v) + naive.embed(mixer, site, dims)
    exact = scipy.linalg.expm(-1j * h * dt) @ psi
    return np.linalg.norm(split_step(psi, v, m, dt, site, dims) - exact)


def test_split_step_matches_expm_with_third_order_local_error():
    rng = np.random.default_rng(12)
    dims = (2, 4)
    psi = random_kets(rng, (), 8)
    v, m = rng.normal(size=8), rng.normal(size=4)
    errors = [_strang_error(dt, psi, v, m, dims, 1) for dt in (0.04, 0.02, 0.01)]
    assert errors[-1] < 1e-5
    for big, small in itertools.pairwise(errors):
        assert 6.0 < big / small < 10.0  # halving dt divides an O(dt^3) error by ~8


def test_split_step_with_zero_diag_is_exact_mixer_evolution():
    rng = np.random.default_rng(13)
    psi = random_kets(rng, (3,), 6)
    m = rng.normal(size=3)
    mixer = naive.dft_matrix(3).conj().T @ np.diag(m) @ naive.dft_matrix(3)
    want = psi @ scipy.linalg.expm(-1j * naive.embed(mixer, 1, (2, 3)) * 0.7).T
    np.testing.assert_allclose(split_step(psi, np.zeros(6), m, 0.7, 1, (2, 3)), want, atol=1e-12)


def test_square_batches_of_kets_need_ket_true():
    rng = np.random.default_rng(9)
    psi, h = random_kets(rng, (2,), 2), random_hermitian(rng, (), 2)
    with pytest.raises(ValueError, match="pass ket=True"):
        evolve(psi, h, 0.5)
    want = np.stack([naive.expm_evolve(p, h, 0.5) for p in psi])
    np.testing.assert_allclose(evolve(psi, h, 0.5, ket=True), want, atol=1e-12)


def test_evolution_agrees_across_backends(backend):
    rng = np.random.default_rng(21)
    psi = random_kets(rng, (6,), 4, np.complex64)
    rho = random_density(rng, (6,), 4, dtype=np.complex64)
    h2, h4 = random_hermitian(rng, (6,), 2), random_hermitian(rng, (), 4)
    v, m = rng.normal(size=4), rng.normal(size=2)
    cases = [lambda s: evolve(s, h4, 0.4), lambda s: apply_unitary(s, HADAMARD, 1, (2, 2)),
             lambda s: qft(s, 0, (2, 2)), lambda s: split_step(s, v, m, 0.1, 1, (2, 2))]
    for fn in cases:
        np.testing.assert_allclose(backend.to_numpy(fn(backend.asarray(psi))), fn(psi),
                                   atol=1e-5)
    rho2, t = random_density(rng, (6,), 2, dtype=np.complex64), np.arange(6.0)
    np.testing.assert_allclose(backend.to_numpy(evolve(backend.asarray(rho2), h2, t)),
                               evolve(rho2, h2, t), atol=1e-5)
    np.testing.assert_allclose(backend.to_numpy(evolve(backend.asarray(rho), h4, 0.3)),
                               evolve(rho, h4, 0.3), atol=1e-5)


def test_bad_input_names_the_argument():
    psi = np.array([1, 0], dtype=np.complex64)
    with pytest.raises(ValueError, match=r"H with shape \(2, 2\) is not Hermitian"):
        evolve(psi, np.array([[0, 1], [0, 0]]), 1.0)
    with pytest.raises(ValueError, match=r"H has shape \(3, 3\), but the state has dimension D=2"):
        evolve(psi, np.eye(3), 1.0)
    with pytest.raises(ValueError, match="t with shape .* must be real"):
        evolve(psi, np.eye(2), 1j)
    with pytest.raises(ValueError, match=r"U with shape \(2, 2\) is not unitary"):
        apply_unitary(psi, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"state with shape \(2,\) is not normalised"):
        evolve(np.array([1.0, 1.0]), np.eye(2), 1.0)
    with pytest.raises(ValueError, match=r"site=1 given without dims"):
        qft(np.ones(4) / 2, 1)
    with pytest.raises(ValueError, match=r"mixer_eigs has shape \(3,\); expected \(\.\.\., 2\)"):
        split_step(np.ones(4) / 2, np.zeros(4), np.zeros(3), 0.1, 0, (2, 2))
    with pytest.raises(ValueError, match="state with shape .* and H with shape .* do not broadcast"):
        evolve(np.ones((3, 2)) / np.sqrt(2), np.stack([np.eye(2)] * 4), 1.0, ket=True)
