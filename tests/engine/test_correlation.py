"""Correlation matrices and their eigendecomposition against numpy.corrcoef."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from uqo.engine import correlation_matrix

from tests.engine.strategies import SETTINGS, seeds


@given(seeds, st.integers(2, 30), st.integers(1, 6))
@SETTINGS
def test_matches_corrcoef_and_eigenpairs_reconstruct_it(seed, s, n):
    x = np.random.default_rng(seed).normal(size=(s, n))
    corr = correlation_matrix(x)
    np.testing.assert_allclose(corr.matrix, np.atleast_2d(np.corrcoef(x, rowvar=False)),
                               atol=1e-12)
    w, v = corr.eigenvalues, corr.eigenvectors
    assert np.all(np.diff(w) <= 1e-12)  # largest first
    np.testing.assert_allclose((v * w) @ v.T, corr.matrix, atol=1e-12)
    np.testing.assert_allclose(w.sum(), n, atol=1e-10)  # trace of a correlation matrix


def test_common_mode_shows_as_the_leading_eigenvector():
    rng = np.random.default_rng(0)
    shared = rng.normal(size=(500, 1))
    x = np.hstack([shared + 0.1 * rng.normal(size=(500, 3)), rng.normal(size=(500, 2))])
    corr = correlation_matrix(x)
    lead = np.abs(corr.eigenvectors[:, 0])
    assert corr.eigenvalues[0] > 2.8
    assert lead[:3].min() > 0.5 and lead[3:].max() < 0.1


def test_constant_variable_gets_zero_correlation_not_nan():
    x = np.column_stack([np.arange(5.0), np.full(5, 3.0), np.arange(5.0) ** 2])
    m = correlation_matrix(x).matrix
    assert np.all(np.isfinite(m))
    np.testing.assert_allclose(m[1], [0, 1, 0])
    np.testing.assert_allclose(m[0, 2], np.corrcoef(x[:, 0], x[:, 2])[0, 1])


def test_batched_and_float32():
    x = np.random.default_rng(1).normal(size=(4, 50, 3)).astype(np.float32)
    corr = correlation_matrix(x)
    assert corr.matrix.shape == (4, 3, 3) and corr.matrix.dtype == np.float32
    for b in range(4):
        np.testing.assert_allclose(corr.matrix[b], np.corrcoef(x[b], rowvar=False), atol=1e-5)


def test_agrees_across_backends(backend):
    x = np.random.default_rng(2).normal(size=(40, 5)).astype(np.float32)
    got = correlation_matrix(backend.asarray(x))
    want = correlation_matrix(x)
    np.testing.assert_allclose(backend.to_numpy(got.matrix), want.matrix, atol=1e-5)
    np.testing.assert_allclose(backend.to_numpy(got.eigenvalues), want.eigenvalues, atol=1e-5)


@pytest.mark.parametrize("bad, match", [
    (np.ones(5), r"samples has shape \(5,\)"),
    (np.ones((1, 3)), r"samples has shape \(1, 3\)"),
    (np.array([[1.0, np.nan], [2.0, 3.0]]), "contains NaN"),
    (np.ones((3, 2), dtype=complex), "expected real numbers"),
])
def test_bad_input_names_the_argument(bad, match):
    with pytest.raises(ValueError, match=match):
        correlation_matrix(bad)
