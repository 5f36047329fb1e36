"""0 ln 0, the Shannon sum and the PSD square root."""

import math

import numpy as np
from uqo.engine._checks import namespace
from uqo.engine._linalg import density_entropy, psd_sqrt, shannon, xlogx

XP = namespace(np.zeros(1))


def test_xlogx_is_zero_at_zero_and_for_negative_round_off():
    out = xlogx(np.array([0.0, -1e-17, 0.5, 1.0]), XP)
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5 * math.log(0.5), 0.0])
    assert np.all(np.isfinite(out))


def test_shannon_in_nats_and_bits():
    p = np.array([0.25, 0.25, 0.5, 0.0])
    assert shannon(p, XP) == 1.5 * math.log(2)
    assert abs(shannon(p, XP, base=2) - 1.5) < 1e-15


def test_psd_sqrt_squares_back_and_clips_negative_round_off():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 3, 2)) + 1j * rng.normal(size=(4, 3, 2))
    rho = a @ np.conj(np.swapaxes(a, -1, -2))  # rank 2 of 3: one eigenvalue ~0 (or -1e-17)
    s = psd_sqrt(rho, XP)
    np.testing.assert_allclose(s @ s, rho, atol=1e-12)
    rho = rho / np.trace(rho, axis1=1, axis2=2)[:, None, None]
    assert np.all(np.isfinite(density_entropy(rho, XP)))
