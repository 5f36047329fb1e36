"""The in-place numba Lueders update equals the generic host path (uqo.engine.observe)."""

from __future__ import annotations

import numpy as np
import pytest
from uqo.engine import pairmath as pm
from uqo.engine.observe import lueders_pairs

from ._cells import random_states

nob = pytest.importorskip("uqo.kernels.numba_observe", reason="numba is not installed")


def test_inplace_update_and_entropy_match_the_generic_path():
    rng = np.random.default_rng(5)
    rho = random_states(rng, 64, 4)
    s = rng.uniform(0, 1, 64)
    cells = rng.choice(64, 40, replace=False)
    sites = rng.integers(0, 2, 40)
    e = 0.1
    heartbeat = rng.random(40) < 0.7     # weak measurement, else a projective failure
    m0 = np.where(heartbeat, np.sqrt(e), 1.0)
    m1 = np.where(heartbeat, np.sqrt(1 - e), 0.0)
    want = lueders_pairs(rho[cells], sites, m0, m1)
    got_rho, got_s = rho.copy(), s.copy()
    bad = nob.lueders_pairs_inplace(got_rho, got_s, cells, sites, m0, m1)
    assert not bad.any()
    assert np.abs(got_rho[cells] - want).max() < 1e-6
    assert np.abs(got_s[cells] - pm.pair_entropy(want)).max() < 1e-6
    untouched = np.setdiff1d(np.arange(64), cells)
    assert np.array_equal(got_rho[untouched], rho[untouched])
    assert np.array_equal(got_s[untouched], s[untouched])


def test_impossible_outcome_is_reported_and_left_alone():
    rho = np.zeros((2, 4, 4), np.complex64)
    rho[:, 0, 0] = 1.0                       # |00><00|: site 0 certainly in |0>
    s = np.zeros(2)
    bad = nob.lueders_pairs_inplace(rho, s, [0, 1], [0, 1], np.array([0.0, 1.0]),
                                    np.array([1.0, 0.0]))
    assert bad.tolist() == [True, False]     # projecting site 0 onto |1> had probability 0
    assert rho[0, 0, 0] == 1.0


def test_repeated_cells_are_refused():
    rho = np.zeros((2, 4, 4), np.complex64)
    with pytest.raises(ValueError, match="distinct"):
        nob.lueders_pairs_inplace(rho, np.zeros(2), [1, 1], [0, 1], np.ones(2), np.ones(2))
