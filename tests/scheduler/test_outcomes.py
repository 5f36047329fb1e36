"""Outcome books: discounted Beta-Bernoulli posterior, empirical-Bayes prior, EWMA score."""

import numpy as np
import pytest
from uqo.control.scheduler.outcomes import OutcomeBooks


def test_counts_halve_after_one_half_life_and_the_prior_is_the_fleet_rate():
    b = OutcomeBooks(4, half_life_s=100.0, prior_strength=2.0)
    assert b.prior_mean() == pytest.approx(0.5)
    for _ in range(8):
        b.observe(0, True, now=0.0)
    b.observe(1, False, now=0.0)
    b.observe(1, False, now=0.0)
    m = (8 + 1) / (10 + 2)
    assert b.prior_mean() == pytest.approx(m)
    a, bb = b.posterior(np.array([0, 1, 2]), now=100.0)
    assert a == pytest.approx([2 * m + 4.0, 2 * m, 2 * m])
    assert bb == pytest.approx([2 * (1 - m), 2 * (1 - m) + 1.0, 2 * (1 - m)])
    # an agent never seen sits at the fleet's rate
    assert b.mean(np.array([2]), 100.0)[0] == pytest.approx(m)


def test_thompson_draws_average_to_the_posterior_mean():
    b = OutcomeBooks(1, half_life_s=1e9)
    for ok in [True] * 6 + [False] * 3:
        b.observe(0, ok, now=0.0)
    rng = np.random.default_rng(0)
    draws = np.array([b.sample(np.array([0]), 0.0, rng)[0] for _ in range(20000)])
    assert draws.mean() == pytest.approx(b.mean(np.array([0]), 0.0)[0], abs=0.005)


def test_ewma_moves_by_alpha_toward_each_outcome_and_reset_forgets():
    b = OutcomeBooks(2, ewma_alpha=0.2)
    b.observe(0, False, now=1.0)
    start = (0 + 1) / (1 + 2)   # the pooled prior after that one failure
    assert b.ewma(np.array([0]))[0] == pytest.approx(start * 0.8)
    b.observe(0, True, now=2.0)
    assert b.ewma(np.array([0]))[0] == pytest.approx(start * 0.8 + 0.2 * (1 - start * 0.8))
    b.reset([0])
    assert b.count[0] == 0 and b.ewma(np.array([0]))[0] == pytest.approx(b.prior_mean())


def test_report_outcome_takes_timeouts_and_rejects_a_timed_out_success():
    from .conftest import agent, make_scheduler

    s = make_scheduler(4)
    s.add_agent(agent(0))
    s.report_outcome("a0", False, 5.0, timed_out=True)
    assert s.stats()["counts"]["outcomes_timed_out"] == 1 and s.books.fail[0] == 1
    with pytest.raises(ValueError, match="timed_out"):
        s.report_outcome("a0", True, 1.0, timed_out=True)
    with pytest.raises(ValueError, match="timed_out"):
        s.report_outcome("a0", False, 1.0, timed_out="yes")
