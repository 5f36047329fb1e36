"""Closed-form pair and qubit spectra against numpy.linalg (the naive oracle)."""

import numpy as np
import pytest
from uqo.engine import pairmath as pm


def _random_rho(rng, n, d, rank):
    a = rng.normal(size=(n, d, rank)) + 1j * rng.normal(size=(n, d, rank))
    rho = a @ a.conj().transpose(0, 2, 1)
    return rho / np.trace(rho, axis1=1, axis2=2).real[:, None, None]


def _entropy_ref(rho):
    w = np.clip(np.linalg.eigvalsh(rho.astype(np.complex128)), 0, None)
    return -(w * np.log(np.where(w > 0, w, 1))).sum(-1)


def _concurrence_ref(rho):
    yy = np.kron([[0, -1j], [1j, 0]], [[0, -1j], [1j, 0]])
    mu = np.linalg.eigvals(rho @ (yy @ rho.conj() @ yy))
    lam = np.sort(np.sqrt(np.clip(mu.real, 0, None)), -1)[:, ::-1]
    return np.clip(lam[:, 0] - lam[:, 1:].sum(-1), 0, None)


@pytest.mark.parametrize("rank", [4, 3, 2, 1])
def test_pair_spectrum_and_entropy_match_eigvalsh(rank):
    rho = _random_rho(np.random.default_rng(rank), 500, 4, rank)
    ev = np.sort(np.stack(pm.pair_spectrum(rho), -1), -1)
    # a cluster of k equal eigenvalues is resolved to ~eps**(1/k) (see the module docstring)
    assert np.abs(ev - np.linalg.eigvalsh(rho)).max() < (1e-10 if rank >= 3 else 1e-6)
    assert np.abs(pm.pair_entropy(rho) - _entropy_ref(rho)).max() < 1e-5


def _with_spectrum(rng, n, lam):
    """``n`` states ``U diag(lam) U^+`` with Haar-random unitaries ``U``; ``lam`` ``(n, 4)``."""
    z = rng.normal(size=(n, 4, 4)) + 1j * rng.normal(size=(n, 4, 4))
    q, r = np.linalg.qr(z)
    q = q * (np.diagonal(r, axis1=1, axis2=2) / np.abs(np.diagonal(r, axis1=1, axis2=2)))[:, None]
    return np.einsum("nij,nj,nkj->nik", q, lam, q.conj())


DEGENERATE = {   # spectra the quartic's resolvent meets as (nearly) double or triple roots:
    # name: (spectrum, tolerance in nats); before the deflation the first three were 2-3e-4 off
    "failure on I/4: |0><0| x I/2": (lambda rng, n: np.tile([0.5, 0.5, 0, 0], (n, 1)), 1e-6),
    "rank 2, p = 1/2 +- 1e-4": (lambda rng, n: np.c_[0.5 + (d := rng.normal(0, 1e-4, n)),
                                                     0.5 - d, np.zeros((n, 2))], 1e-6),
    "rank 2, p uniform": (lambda rng, n: np.c_[(p := rng.uniform(0, 1, n)), 1 - p,
                                               np.zeros((n, 2))], 3e-5),
    "two pairs": (lambda rng, n: np.tile([0.3, 0.3, 0.2, 0.2], (n, 1)), 1e-12),
    "rank 3, equal": (lambda rng, n: np.tile([1 / 3, 1 / 3, 1 / 3, 0], (n, 1)), 1e-12),
    # three eigenvalues within 1e-3 of 0: a near-triple root, ~2e-5 (eps ** (1/3) conditioning)
    "almost pure": (lambda rng, n: np.c_[1 - (e := rng.uniform(0, 1e-3, n)), e,
                                         np.zeros((n, 2))], 5e-5),
}


@pytest.mark.parametrize("family", DEGENERATE)
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_pair_entropy_of_degenerate_spectra(family, dtype):
    """Degenerate spectra are where the closed form is weakest. The failure of one agent in a
    maximally mixed pair leaves ``|0><0| x I/2`` (spectrum 1/2, 1/2, 0, 0): Viete's form alone
    was 2-3e-4 nats off there; deflating the resolvent's small roots brings it to ~1e-7 of
    ``eigvalsh`` on the same (rounded) matrices."""
    spectrum, tol = DEGENERATE[family]
    rng = np.random.default_rng(sum(map(ord, family)))
    rho = _with_spectrum(rng, 4000, spectrum(rng, 4000)).astype(dtype)
    assert np.abs(pm.pair_entropy(rho) - _entropy_ref(rho)).max() < tol


@pytest.mark.parametrize("rank,tol", [(4, 1e-8), (3, 1e-4), (2, 3e-3), (1, 3e-3)])
def test_pair_concurrence_matches_wootters(rank, tol):
    rho = _random_rho(np.random.default_rng(10 + rank), 500, 4, rank)
    assert np.abs(pm.pair_concurrence(rho) - _concurrence_ref(rho)).max() < tol


def test_qubit_entropy_matches_eigvalsh():
    rho = _random_rho(np.random.default_rng(5), 1000, 2, 2)
    assert np.abs(pm.qubit_entropy(rho) - _entropy_ref(rho)).max() < 1e-12


def test_textbook_states():
    bell = np.zeros((1, 4, 4), complex)
    bell[0, np.ix_([0, 3], [0, 3])[0], np.ix_([0, 3], [0, 3])[1]] = 0.5
    assert pm.pair_entropy(bell)[0] == pytest.approx(0, abs=1e-6)
    assert pm.pair_concurrence(bell)[0] == pytest.approx(1, abs=1e-6)
    ra, _ = pm.reduced_pair(bell)
    assert pm.qubit_entropy(ra)[0] == pytest.approx(np.log(2), abs=1e-12)
    mixed = np.eye(4, dtype=complex)[None] / 4
    assert pm.pair_entropy(mixed)[0] == pytest.approx(np.log(4), abs=1e-9)
    assert pm.normalised_purity(mixed)[0] == pytest.approx(0, abs=1e-12)
    assert pm.normalised_purity(bell)[0] == pytest.approx(1, abs=1e-12)


@pytest.mark.parametrize("w", [0.0, 0.2, 1 / 3, 0.5, 0.8, 1.0])
def test_werner_concurrence(w):
    psi = np.array([0, 1, -1, 0]) / np.sqrt(2)
    rho = (w * np.outer(psi, psi) + (1 - w) * np.eye(4) / 4).astype(complex)[None]
    assert pm.pair_concurrence(rho)[0] == pytest.approx(max(0, (3 * w - 1) / 2), abs=1e-6)


def test_reduced_pair_of_product_state():
    rng = np.random.default_rng(3)
    a, b = _random_rho(rng, 1, 2, 2)[0], _random_rho(rng, 1, 2, 2)[0]
    ra, rb = pm.reduced_pair(np.kron(a, b)[None])
    np.testing.assert_allclose(ra[0], a, atol=1e-12)
    np.testing.assert_allclose(rb[0], b, atol=1e-12)
