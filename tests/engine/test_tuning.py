"""Variational tuning through the tick: the replay's likelihood, its gradient, and a fit that
improves the score on data it was not fitted to."""

import numpy as np
import pytest
from uqo.engine import tuning

DEFAULTS = {"lambda0": 0.01, "lambda1": 0.002, "hazard": 1 / 3600, "corr_rate": 0.001,
                "heartbeat_error": 0.05, "heartbeat_loss": 0.05, "timeout_alive": 0.05,
                "success_reliable": 0.9, "success_unreliable": 0.5, "reliable_prior": 0.5,
                "reliability_drift": 1 / 600, "drift_target": 0.5, "loss_strength": 20.0,
                "heartbeat_grace": 0.5}


def _synthetic(seed, n=24, ticks=60):
    """Agents heartbeat every 5 ticks and report one outcome every other tick; a third of
    them succeed 60 % of the time, the rest 99 %; agents 0..9 are paired."""
    rng = np.random.default_rng(seed)
    good = np.where(np.arange(n) % 3 == 0, 0.6, 0.99)
    rows = []
    for t in range(ticks):
        for a in range(n):
            if (t + a) % 5 == 0:
                rows.append((t, a, tuning.HEARTBEAT))
            if (t + a) % 2 == 0:
                rows.append((t, a, tuning.SUCCESS if rng.random() < good[a] else tuning.FAILURE))
    pairs = np.arange(10).reshape(5, 2)
    return tuning.replay_data(n, ticks, 1.0, 5.0, pairs, np.array(rows))


def test_replay_data_checks_its_events():
    with pytest.raises(ValueError, match="events"):
        tuning.replay_data(3, 2, 1.0, 5.0, np.zeros((0, 2)), [[5, 0, 0]])
    d = tuning.replay_data(3, 2, 1.0, 5.0, [[0, 1]], [[0, 2, tuning.SUCCESS]])
    assert d.outcomes == 1 and d.singles.tolist() == [2]


def test_the_likelihood_is_a_probability_score_and_rewards_the_truth():
    data = _synthetic(0)
    nll, n = tuning.outcome_nll(DEFAULTS, data)
    assert n == data.outcomes and 0 < nll < np.log(3)
    truth = dict(DEFAULTS, success_reliable=0.99, success_unreliable=0.6, reliable_prior=0.67)
    assert tuning.outcome_nll(truth, data)[0] < nll


def test_a_fit_lowers_the_score_on_held_out_data():
    train, test = _synthetic(1), _synthetic(2)
    tuned, report = tuning.fit(DEFAULTS, train, maxiter=15)
    assert report["nll_end"] < report["nll_start"]
    assert np.isfinite(list(tuned.values())).all()
    assert tuning.evaluate(tuned, test) < tuning.evaluate(DEFAULTS, test)
    assert tuned["success_reliable"] > DEFAULTS["success_reliable"]
