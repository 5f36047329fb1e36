"""Kraus channels: trace preservation, positivity, textbook actions, naive reference."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from uqo.engine import amplitude_damping, apply_kraus, dephasing, depolarizing

from tests.engine import naive
from tests.engine.strategies import SETTINGS, density_cases, random_density, seeds

QUBIT_CHANNELS = (dephasing, amplitude_damping, depolarizing)
probs = st.floats(0.0, 1.0)


@pytest.mark.parametrize("channel", QUBIT_CHANNELS)
def test_kraus_sets_are_trace_preserving(channel):
    for p in (0.0, 0.3, 1.0):
        k = channel(p)
        np.testing.assert_allclose(np.einsum("kji,kjl->il", k.conj(), k), np.eye(2), atol=1e-15)


@given(seeds, st.sampled_from(QUBIT_CHANNELS), probs, st.integers(0, 1))
@SETTINGS
def test_channels_preserve_trace_hermiticity_positivity_and_match_naive(seed, channel, p, site):
    rho = random_density(np.random.default_rng(seed), (4,), 4)
    k = channel(p)
    out = apply_kraus(rho, k, site=site, dims=(2, 2))
    np.testing.assert_allclose(np.trace(out, axis1=-2, axis2=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(out, np.conj(np.swapaxes(out, -1, -2)), atol=1e-15)
    assert np.linalg.eigvalsh(out).min() > -1e-12
    want = naive.per_system(lambda r: naive.kraus_map(r, k, site, (2, 2)), rho)
    np.testing.assert_allclose(out, want, atol=1e-12)


def test_dephasing_shrinks_coherences_by_one_minus_2p():
    plus = np.full((2, 2), 0.5, dtype=np.complex128)
    out = apply_kraus(plus, dephasing(0.2))
    np.testing.assert_allclose(out, [[0.5, 0.3], [0.3, 0.5]], atol=1e-15)


def test_amplitude_damping_moves_population_to_zero():
    one = np.diag([0.0, 1.0]).astype(np.complex128)
    np.testing.assert_allclose(apply_kraus(one, amplitude_damping(0.25)),
                               np.diag([0.25, 0.75]), atol=1e-15)
    np.testing.assert_allclose(apply_kraus(one, amplitude_damping(1.0)), np.diag([1, 0]),
                               atol=1e-15)


@given(density_cases(st.sampled_from([(2, 2), (3, 2), (2, 3)])))
@SETTINGS
def test_full_depolarizing_of_a_site_leaves_the_identity_times_the_rest(case):
    rho, dims = case
    out = apply_kraus(rho, depolarizing(1.0, d=dims[0]), site=0, dims=dims)
    rest = naive.per_system(lambda r: naive.partial_trace(r, dims, (1,)), rho)
    want = np.stack([np.kron(np.eye(dims[0]) / dims[0], r) for r in rest])
    np.testing.assert_allclose(out, want, atol=1e-12)


def test_batched_probabilities_give_one_channel_per_system():
    p = np.array([0.0, 0.5, 1.0])
    k = dephasing(p)
    assert k.shape == (3, 2, 2, 2)
    plus = np.full((3, 2, 2), 0.5, dtype=np.complex128)
    np.testing.assert_allclose(apply_kraus(plus, k)[:, 0, 1], [0.5, 0.0, -0.5], atol=1e-15)


def test_channels_keep_the_state_dtype_and_preserve_trace_in_complex64():
    rho = random_density(np.random.default_rng(1), (1000,), 4, dtype=np.complex64)
    for _ in range(50):
        rho = apply_kraus(rho, depolarizing(0.01), site=0, dims=(2, 2))
        rho = apply_kraus(rho, amplitude_damping(0.02), site=1, dims=(2, 2))
    assert rho.dtype == np.complex64
    np.testing.assert_allclose(np.trace(rho, axis1=-2, axis2=-1).real, 1.0, atol=1e-5)


def test_channels_agree_across_backends(backend):
    rho = random_density(np.random.default_rng(3), (5,), 4, dtype=np.complex64)
    for k in (dephasing(0.3), amplitude_damping(0.4), depolarizing(0.2)):
        got = apply_kraus(backend.asarray(rho), k, site=1, dims=(2, 2))
        np.testing.assert_allclose(backend.to_numpy(got), apply_kraus(rho, k, 1, (2, 2)),
                                   atol=1e-5)


def test_bad_input_names_the_argument():
    rho = np.eye(2, dtype=np.complex64) / 2
    with pytest.raises(ValueError, match=r"kraus with shape \(1, 2, 2\) is not trace preserving"):
        apply_kraus(rho, [[[1, 0], [0, 0.5]]])
    with pytest.raises(ValueError, match=r"p=1.5 must lie in \[0, 1\]"):
        dephasing(1.5)
    with pytest.raises(ValueError, match=r"gamma=<array of shape \(2,\)> must lie"):
        amplitude_damping(np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="d=1 must be an integer >= 2"):
        depolarizing(0.1, d=1)
    with pytest.raises(ValueError, match=r"kraus has shape \(9, 3, 3\), but site 0"):
        apply_kraus(np.eye(4) / 4, depolarizing(0.1, d=3), site=0, dims=(2, 2))
