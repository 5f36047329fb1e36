"""normalise, to_density, inner, expectation, partial_trace, purity."""

import numpy as np
import pytest
from hypothesis import given
from uqo.engine import expectation, inner, normalise, partial_trace, purity, to_density

from tests.engine import naive
from tests.engine.strategies import SETTINGS, density_cases, ket_cases, random_density

Z = np.diag([1.0, -1.0])


def test_normalise_kets_and_density_matrices():
    psi = normalise(np.array([[3.0, 4.0], [0.0, 2.0]]), ket=True)
    np.testing.assert_allclose(psi, [[0.6, 0.8], [0.0, 1.0]], atol=1e-7)
    assert psi.dtype == np.complex64
    rho = normalise(np.diag([2.0, 6.0]).astype(np.complex128))
    assert rho.dtype == np.complex128
    np.testing.assert_allclose(np.diag(rho).real, [0.25, 0.75])


def test_normalise_zero_state_is_an_error():
    with pytest.raises(ValueError, match="zero or negative norm"):
        normalise(np.zeros((2, 3)))


def test_to_density_is_the_outer_product():
    psi = np.array([1, 1j]) / np.sqrt(2)
    np.testing.assert_allclose(to_density(psi.astype(np.complex128)),
                               np.outer(psi, psi.conj()), atol=1e-15)


def test_inner_and_its_shape_errors():
    a = np.array([[1, 0], [0, 1]], dtype=np.complex128)
    b = np.array([1, 1j], dtype=np.complex128) / np.sqrt(2)
    np.testing.assert_allclose(inner(a, b), [1 / np.sqrt(2), 1j / np.sqrt(2)])
    with pytest.raises(ValueError, match=r"b has shape \(3,\)"):
        inner(a, np.ones(3) / np.sqrt(3))


@given(density_cases())
@SETTINGS
def test_partial_trace_matches_naive(case):
    rho, dims = case
    for keep in naive.all_keeps(len(dims)):
        got = partial_trace(rho, dims, keep)
        want = naive.per_system(lambda r, k=keep: naive.partial_trace(r, dims, k), rho)
        np.testing.assert_allclose(got, want, atol=1e-12)


@given(ket_cases())
@SETTINGS
def test_partial_trace_of_kets_equals_that_of_their_density(case):
    psi, dims = case
    for keep in ((0,), (1, 0)):
        np.testing.assert_allclose(partial_trace(psi, dims, keep),
                                   partial_trace(to_density(psi), dims, keep), atol=1e-12)


@pytest.mark.parametrize("keep", [(), (0, 0), (2,), "a"])
def test_partial_trace_rejects_bad_keep(keep):
    with pytest.raises(ValueError, match="keep="):
        partial_trace(np.eye(4) / 4, (2, 2), keep)


def test_partial_trace_rejects_dims_that_do_not_multiply_to_d():
    with pytest.raises(ValueError, match=r"dims=\(2, 3\) multiply to 6.*D=4"):
        partial_trace(np.eye(4) / 4, (2, 3), 0)


def test_purity_textbook_values():
    assert purity(np.eye(2) / 2) == pytest.approx(0.5)
    assert purity(np.eye(4) / 4) == pytest.approx(0.25)
    assert purity(np.array([0.6, 0.8])) == 1.0


@given(density_cases())
@SETTINGS
def test_purity_and_expectation_match_naive(case):
    rho, dims = case
    want = naive.per_system(lambda r: np.trace(r @ r).real, rho)
    np.testing.assert_allclose(purity(rho), want, atol=1e-12)
    op = random_density(np.random.default_rng(1), (), dims[1])  # any Hermitian matrix
    want = naive.per_system(lambda r: np.trace(naive.embed(op, 1, dims) @ r).real, rho)
    np.testing.assert_allclose(expectation(rho, op, site=1, dims=dims), want, atol=1e-12)


def test_expectation_of_kets_and_whole_system():
    psi = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.complex128)
    psi[2] /= np.sqrt(2)
    np.testing.assert_allclose(expectation(psi, Z), [1, -1, 0], atol=1e-15)


def test_expectation_rejects_non_hermitian_observable_and_wrong_site_size():
    with pytest.raises(ValueError, match=r"op with shape \(2, 2\) is not Hermitian"):
        expectation(np.eye(2) / 2, np.array([[0, 1], [0, 0]]))
    with pytest.raises(ValueError, match=r"op has shape \(3, 3\).*site 0"):
        expectation(np.eye(4) / 4, np.eye(3), site=0, dims=(2, 2))


def test_state_operations_agree_across_backends(backend):
    rng = np.random.default_rng(7)
    rho = random_density(rng, (5,), 6, dtype=np.complex64)
    x = backend.asarray(rho)
    for fn in (lambda r: partial_trace(r, (2, 3), 1), purity, normalise,
               lambda r: expectation(r, np.diag([1.0, 2.0, 3.0]), site=1, dims=(2, 3))):
        np.testing.assert_allclose(backend.to_numpy(fn(x)), fn(rho), atol=1e-5)
