"""The (re, im) algebra of the fused JAX tick, checked on numpy complex numbers."""

from __future__ import annotations

import numpy as np
from uqo.engine import pairmath
from uqo.kernels import cellspectra
from uqo.kernels.cx import Cx, dagger, hermitian, matmul


def _cx(z):
    return Cx(np.real(z), np.imag(z))


def _val(c):
    return c.re + 1j * (0 if c.im is None else c.im)


def test_arithmetic_matches_complex_numbers():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=5) + 1j * rng.normal(size=5), rng.normal(size=5) + 1j * rng.normal(size=5)
    np.testing.assert_allclose(_val(_cx(a) * _cx(b)), a * b)
    np.testing.assert_allclose(_val(_cx(a) - _cx(b)), a - b)
    np.testing.assert_allclose(_val(_cx(a).conj() + Cx(b.real)), a.conj() + b.real)
    np.testing.assert_allclose((_cx(a)).abs2(), np.abs(a) ** 2)


def test_matmul_and_hermitian_layout():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    h = x @ x.conj().T
    m = hermitian({(i, j): _cx(h[i, j]) for i in range(4) for j in range(i, 4)}, 4)
    prod = matmul(m, dagger(m), hermitian_result=True)
    got = np.array([[_val(e) for e in row] for row in prod])
    np.testing.assert_allclose(got, h @ h.conj().T, atol=1e-12)


def test_duplicated_constants_agree_with_the_engine():
    assert cellspectra.ZZ_DIAG == pairmath.ZZ_DIAG
    assert cellspectra.FLIP_SIGN == pairmath._FLIP_SIGN
    assert cellspectra.TINY == pairmath._TINY
