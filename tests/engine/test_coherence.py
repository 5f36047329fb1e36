"""l1 and relative-entropy coherence: textbook values, naive reference, backends."""

import math

import numpy as np
import pytest
from hypothesis import given
from uqo.engine import l1_coherence, relative_entropy_coherence, to_density

from tests.engine import naive
from tests.engine.strategies import SETTINGS, density_cases, random_density, random_kets

PLUS = np.array([1, 1], dtype=np.complex128) / np.sqrt(2)


def test_textbook_values():
    assert l1_coherence(PLUS) == pytest.approx(1.0, abs=1e-12)
    assert relative_entropy_coherence(PLUS) == pytest.approx(math.log(2), abs=1e-12)
    assert relative_entropy_coherence(to_density(PLUS), base=2) == pytest.approx(1.0, abs=1e-7)
    uniform = np.ones(4, dtype=np.complex128) / 2  # maximally coherent: l1 = D - 1
    assert l1_coherence(uniform) == pytest.approx(3.0, abs=1e-12)
    incoherent = np.diag([0.2, 0.3, 0.5]).astype(np.complex128)
    assert l1_coherence(incoherent) == 0.0
    assert relative_entropy_coherence(incoherent) == pytest.approx(0.0, abs=1e-12)


@given(density_cases())
@SETTINGS
def test_coherences_match_naive(case):
    rho, _ = case
    np.testing.assert_allclose(l1_coherence(rho), naive.per_system(naive.l1_coherence, rho),
                               atol=1e-10)
    want = naive.per_system(naive.relative_entropy_coherence, rho)
    np.testing.assert_allclose(relative_entropy_coherence(rho), want, atol=1e-5)


def test_kets_and_their_density_matrices_agree():
    psi = random_kets(np.random.default_rng(2), (6,), 5)
    rho = to_density(psi)
    np.testing.assert_allclose(l1_coherence(psi), l1_coherence(rho), atol=1e-12)
    np.testing.assert_allclose(relative_entropy_coherence(psi),
                               relative_entropy_coherence(rho), atol=1e-7)


def test_coherences_agree_across_backends(backend):
    rho = random_density(np.random.default_rng(5), (7,), 4, dtype=np.complex64)
    x = backend.asarray(rho)
    for fn in (l1_coherence, relative_entropy_coherence):
        np.testing.assert_allclose(backend.to_numpy(fn(x)), fn(rho), atol=1e-5)
