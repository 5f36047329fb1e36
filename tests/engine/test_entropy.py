"""Entropies, entanglement and fidelity: textbook values, naive reference, backends."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from uqo.engine import (
    concurrence,
    entanglement_entropy,
    fidelity,
    mutual_information,
    negativity,
    partial_trace,
    purity,
    to_density,
    von_neumann_entropy,
)

from tests.engine import naive
from tests.engine.strategies import (
    SETTINGS,
    density_cases,
    ket_cases,
    random_density,
    random_kets,
    seeds,
)

LN2 = math.log(2)
BELL = np.array([1, 0, 0, 1], dtype=np.complex128) / np.sqrt(2)
SINGLET = np.array([0, 1, -1, 0], dtype=np.complex128) / np.sqrt(2)


def werner(w):
    """``w |Psi-><Psi-| + (1 - w) I/4``."""
    return w * np.outer(SINGLET, SINGLET.conj()) + (1 - w) * np.eye(4) / 4


def test_product_state_has_no_entropy_or_entanglement():
    psi = np.kron([0.6, 0.8], [1, 1j] / np.sqrt(2)).astype(np.complex128)
    rho = to_density(psi)
    for value in (von_neumann_entropy(rho), entanglement_entropy(psi, (2, 2)),
                  mutual_information(rho, (2, 2)), concurrence(rho), negativity(rho, (2, 2))):
        assert abs(float(value)) < 1e-7


def test_bell_state_textbook_values():
    rho = to_density(BELL)
    assert entanglement_entropy(BELL, (2, 2)) == pytest.approx(LN2, abs=1e-12)
    assert von_neumann_entropy(partial_trace(rho, (2, 2), 0)) == pytest.approx(LN2, abs=1e-12)
    assert mutual_information(rho, (2, 2)) == pytest.approx(2 * LN2, abs=1e-7)
    assert mutual_information(rho, (2, 2), base=2) == pytest.approx(2.0, abs=1e-7)
    assert concurrence(rho) == pytest.approx(1.0, abs=1e-7)
    assert negativity(rho, (2, 2)) == pytest.approx(0.5, abs=1e-12)
    assert von_neumann_entropy(rho) == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("w", [0.0, 0.2, 1 / 3, 0.5, 0.8, 1.0])
def test_werner_family(w):
    rho = werner(w)
    assert concurrence(rho) == pytest.approx(max(0.0, (3 * w - 1) / 2), abs=1e-7)
    assert negativity(rho, (2, 2)) == pytest.approx(max(0.0, (3 * w - 1) / 4), abs=1e-12)


def test_maximally_mixed_qubit():
    rho = np.eye(2, dtype=np.complex128) / 2
    assert von_neumann_entropy(rho) == pytest.approx(LN2, abs=1e-15)
    assert von_neumann_entropy(rho, base=2) == pytest.approx(1.0, abs=1e-15)
    assert purity(rho) == pytest.approx(0.5, abs=1e-15)


def test_pure_states_give_zero_entropy_never_nan():
    rho = to_density(random_kets(np.random.default_rng(3), (200,), 4, np.complex64))
    s = von_neumann_entropy(rho)
    assert np.all(np.isfinite(s)) and np.max(np.abs(s)) < 1e-5
    assert np.all(np.isfinite(concurrence(rho)))


@given(density_cases())
@SETTINGS
def test_entropies_match_naive(case):
    rho, dims = case
    np.testing.assert_allclose(von_neumann_entropy(rho), naive.per_system(naive.entropy, rho),
                               atol=1e-5)
    mi = naive.per_system(lambda r: naive.mutual_information(r, dims), rho)
    np.testing.assert_allclose(mutual_information(rho, dims), mi, atol=1e-5)
    neg = naive.per_system(lambda r: naive.negativity(r, dims), rho)
    np.testing.assert_allclose(negativity(rho, dims), neg, atol=1e-5)


@given(ket_cases())
@SETTINGS
def test_entanglement_entropy_matches_naive(case):
    psi, dims = case
    want = naive.per_system(lambda p: naive.entanglement_entropy(p, dims), psi)
    np.testing.assert_allclose(entanglement_entropy(psi, dims), want, atol=1e-5)


@given(seeds, st.integers(1, 4))
@SETTINGS
def test_concurrence_matches_naive(seed, rank):
    rho = random_density(np.random.default_rng(seed), (4,), 4, rank)
    np.testing.assert_allclose(concurrence(rho), naive.per_system(naive.concurrence, rho),
                               atol=1e-5)


@given(seeds, st.integers(1, 3), st.integers(1, 3))
@SETTINGS
def test_fidelity_matches_naive_and_pure_cases(seed, rank_a, rank_b):
    rng = np.random.default_rng(seed)
    a, b = random_density(rng, (3,), 3, rank_a), random_density(rng, (3,), 3, rank_b)
    np.testing.assert_allclose(fidelity(a, b), naive.per_system(naive.fidelity, a, b), atol=1e-5)
    psi, phi = random_kets(rng, (3,), 3), random_kets(rng, (3,), 3)
    overlap = np.abs(np.sum(psi.conj() * phi, axis=-1)) ** 2
    np.testing.assert_allclose(fidelity(psi, phi, ket=True), overlap, atol=1e-12)
    np.testing.assert_allclose(fidelity(psi[:, None], to_density(phi, ket=True)[:, None]),
                               overlap[:, None], atol=1e-12)
    np.testing.assert_allclose(fidelity(to_density(psi, ket=True), to_density(phi, ket=True)),
                               overlap, atol=1e-5)


def test_entropy_functions_agree_across_backends(backend):
    rng = np.random.default_rng(11)
    rho = random_density(rng, (8,), 4, dtype=np.complex64)
    sigma = random_density(rng, (8,), 4, dtype=np.complex64)
    psi = random_kets(rng, (8,), 4, np.complex64)
    x, y, p = backend.asarray(rho), backend.asarray(sigma), backend.asarray(psi)
    cases = [(von_neumann_entropy, (rho,), (x,)), (concurrence, (rho,), (x,)),
             (lambda r: mutual_information(r, (2, 2)), (rho,), (x,)),
             (lambda r: negativity(r, (2, 2)), (rho,), (x,)),
             (lambda q: entanglement_entropy(q, (2, 2)), (psi,), (p,)),
             (fidelity, (rho, sigma), (x, y))]
    for fn, host_args, dev_args in cases:
        np.testing.assert_allclose(backend.to_numpy(fn(*dev_args)), fn(*host_args), atol=1e-5)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"rho has shape \(3, 3\); concurrence needs two qubits"):
        concurrence(np.eye(3) / 3)
    with pytest.raises(ValueError, match="base=1"):
        von_neumann_entropy(np.eye(2) / 2, base=1)
    with pytest.raises(ValueError, match=r"rho with shape \(2, 2\) contains NaN"):
        von_neumann_entropy(np.array([[np.nan, 0], [0, 1]]))
    with pytest.raises(ValueError, match=r"rho with shape \(2, 2, 2\) is not normalised"):
        von_neumann_entropy(np.stack([np.eye(2) / 2, np.eye(2)]))
    with pytest.raises(ValueError, match="dims=.* has one site"):
        mutual_information(np.eye(4) / 4, (4,))
    with pytest.raises(ValueError, match=r"a has shape \(2,\) and b has shape \(3,\)"):
        fidelity(np.array([1, 0]), np.array([1, 0, 0]))
