"""Each agent's own record shrunk toward its two-class belief (``emissions.AgentRecords``)."""

from __future__ import annotations

import numpy as np
import pytest
from uqo.control.scheduler.emissions import AgentRecords


def _fleet(p: np.ndarray, outcomes: int, seed: int) -> AgentRecords:
    """Feed ``outcomes`` answered outcomes per agent of true success ``p``, with the class
    expectation a two-class belief would give (0.6 / 0.99 split at 0.8)."""
    rng = np.random.default_rng(seed)
    rec = AgentRecords(len(p))
    sbar = np.where(p > 0.8, 0.99, 0.6)
    for _ in range(outcomes):
        for i in range(len(p)):
            rec.observe(i, bool(rng.random() < p[i]), sbar[i])
    rec.settle()
    return rec


def test_refine_is_the_beta_posterior_mean_around_the_class_expectation():
    rec = AgentRecords(2, grid=(16.0,))
    for ok in (True, False, False):
        rec.observe(0, ok, 0.9)
    rec.settle()
    assert rec.kappa == 16.0
    got = rec.refine(np.array([0, 1]), np.array([0.9, 0.9]))
    assert got[0] == pytest.approx((16 * 0.9 + 1) / (16 + 3))
    assert got[1] == pytest.approx(0.9)               # no record: the belief's own value


def test_two_exact_classes_keep_the_belief_a_spread_fleet_learns_its_agents():
    two = np.where(np.arange(200) % 5 == 0, 0.6, 0.99)
    assert np.isinf(_fleet(two, 30, 1).kappa)         # nothing between the classes to learn
    spread = np.clip(np.random.default_rng(2).beta(8, 2, 200), 0.05, 0.999)
    rec = _fleet(spread, 30, 3)
    assert np.isfinite(rec.kappa)
    sbar = np.where(spread > 0.8, 0.99, 0.6)
    err_belief = np.abs(sbar - spread).mean()
    err_refined = np.abs(rec.refine(np.arange(200), sbar) - spread).mean()
    assert err_refined < 0.8 * err_belief
