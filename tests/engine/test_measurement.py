"""Projective and POVM measurement: Born statistics, collapse, the partner's update."""

import numpy as np
import pytest
from scipy import stats
from uqo.engine import measure, partial_trace, weak_measure

from tests.engine import naive
from tests.engine.strategies import random_density, random_kets


def test_born_rule_sampling_passes_chi_square():
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    psi = np.broadcast_to(np.sqrt(probs) * np.exp(1j * np.arange(4)), (20000, 4))
    outcomes, _ = measure(psi.astype(np.complex128), np.random.default_rng(2026))
    counts = np.bincount(outcomes, minlength=4)
    assert stats.chisquare(counts, probs * len(outcomes)).pvalue > 0.01
    # and a wrong distribution is rejected by the same test: it has power
    assert stats.chisquare(counts, np.full(4, 0.25) * len(outcomes)).pvalue < 1e-6


def test_site_measurement_statistics_follow_the_reduced_state():
    rho = random_density(np.random.default_rng(4), (), 6)
    batch = np.broadcast_to(rho, (20000, 6, 6))
    outcomes, _ = measure(batch, 7, site=1, dims=(2, 3))
    p = np.diag(naive.partial_trace(rho, (2, 3), (1,))).real
    assert stats.chisquare(np.bincount(outcomes, minlength=3), p * 20000).pvalue > 0.01


def test_collapse_gives_the_projected_normalised_state():
    psi = random_kets(np.random.default_rng(5), (50,), 4)
    outcomes, post = measure(psi, np.random.default_rng(1))
    np.testing.assert_allclose(np.abs(post), np.eye(4)[outcomes], atol=1e-12)


def test_partner_state_after_projective_measurement_is_the_analytic_conditional_state():
    rho = random_density(np.random.default_rng(6), (200,), 4)
    outcomes, post = measure(rho, np.random.default_rng(3), site=0, dims=(2, 2))
    for r, k, after in zip(rho, outcomes, post):
        proj = naive.projector(0, k, (2, 2))
        cond = proj @ r @ proj
        want = naive.partial_trace(cond, (2, 2), (1,)) / np.trace(cond).real
        np.testing.assert_allclose(partial_trace(after, (2, 2), 1), want, atol=1e-12)
    assert set(outcomes.tolist()) == {0, 1}


def test_measuring_a_failed_agent_updates_its_correlated_partner():
    c = 0.3  # (1 - c)|11><11| + c|00><00|: observing A in |0> leaves B in |0> for sure
    rho = np.diag([c, 0, 0, 1 - c]).astype(np.complex128)
    outcomes, post = measure(np.broadcast_to(rho, (64, 4, 4)), 0, site=0, dims=(2, 2))
    for k, after in zip(outcomes, post):
        np.testing.assert_allclose(partial_trace(after, (2, 2), 1), np.diag([1 - k, k]),
                                   atol=1e-15)


def test_weak_measure_applies_the_lueders_update():
    e = 0.1  # heartbeat: effect of "alive" (1 - e)|1><1| + e|0><0|
    effects = np.array([np.diag([1 - e, e]), np.diag([e, 1 - e])])
    rho = random_density(np.random.default_rng(8), (100,), 4)
    outcomes, post = weak_measure(rho, effects, np.random.default_rng(9), site=1, dims=(2, 2))
    for r, k, after in zip(rho, outcomes, post):
        m = naive.embed(np.sqrt(effects[k]), 1, (2, 2))
        want = m @ r @ m
        np.testing.assert_allclose(after, want / np.trace(want).real, atol=1e-12)


def test_weak_measure_statistics_and_kets_stay_kets():
    theta = np.pi / 3  # a non-diagonal qubit POVM: "trine" effects
    vecs = [np.array([np.cos(a), np.sin(a)]) for a in (0, theta, 2 * theta)]
    effects = np.array([2 / 3 * np.outer(v, v) for v in vecs])
    psi = np.broadcast_to(np.array([1, 0], dtype=np.complex128), (30000, 2))
    outcomes, post = weak_measure(psi, effects, 11)
    assert post.shape == psi.shape
    p = [effects[k][0, 0] for k in range(3)]
    assert stats.chisquare(np.bincount(outcomes, minlength=3), np.array(p) * 30000).pvalue > 0.01
    np.testing.assert_allclose(np.linalg.norm(post, axis=-1), 1.0, atol=1e-12)


def test_same_seed_same_outcomes_on_every_backend(backend):
    rho = random_density(np.random.default_rng(12), (300,), 4, dtype=np.complex64)
    want_k, want_post = measure(rho, 5, site=1, dims=(2, 2))
    got_k, got_post = measure(backend.asarray(rho), 5, site=1, dims=(2, 2))
    np.testing.assert_array_equal(backend.to_numpy(got_k), want_k)
    np.testing.assert_allclose(backend.to_numpy(got_post), want_post, atol=1e-5)
    effects = np.array([np.diag([0.9, 0.2]), np.diag([0.1, 0.8])])
    want_k, want_post = weak_measure(rho, effects, 6, site=0, dims=(2, 2))
    got_k, got_post = weak_measure(backend.asarray(rho), effects, 6, site=0, dims=(2, 2))
    np.testing.assert_array_equal(backend.to_numpy(got_k), want_k)
    np.testing.assert_allclose(backend.to_numpy(got_post), want_post, atol=1e-5)


def test_bad_input_names_the_argument():
    rho = np.eye(4) / 4
    with pytest.raises(ValueError, match="rng='seed' must be a numpy Generator"):
        measure(rho, "seed")
    with pytest.raises(ValueError, match=r"effects with shape \(2, 2, 2\) is not complete"):
        weak_measure(rho, np.array([np.diag([1, 0]), np.diag([1, 0])]), 0, site=0, dims=(2, 2))
    with pytest.raises(ValueError, match=r"effects with shape \(2, 2, 2\) is not positive"):
        weak_measure(rho, np.array([np.diag([2, 0]), np.diag([-1, 1])]), 0, site=0, dims=(2, 2))
    with pytest.raises(ValueError, match=r"site=2 is out of range for dims=\(2, 2\)"):
        measure(rho, 0, site=2, dims=(2, 2))
    with pytest.raises(ValueError, match=r"state with shape \(4, 4\) is not normalised"):
        measure(rho * 2, 0)
