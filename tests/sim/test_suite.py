"""The suite runner: paired intervals, verdicts, and its table, Markdown and plot."""

import numpy as np
import pytest
from scipy import stats
from uqo.control.sim.suite import _verdict, interval, run_suite
from uqo.control.sim.suite_report import markdown, plot, table


def test_interval_is_the_t_interval():
    v = [0.1, 0.3, 0.2, 0.25]
    lo, hi = stats.t.interval(0.95, 3, loc=np.mean(v), scale=stats.sem(v))
    got = interval(v)
    assert got["ci95"] == pytest.approx([lo, hi]) and got["mean"] == pytest.approx(0.2125)
    assert interval([0.4])["ci95"] == [0.4, 0.4]
    assert _verdict({"ci95": [0.01, 0.02]}) == "win"
    assert _verdict({"ci95": [-0.02, 0.02]}) == "tie"
    assert _verdict({"ci95": [-0.02, -0.01]}) == "loss"


def test_a_small_suite_summarises_every_family_and_writes_its_outputs(tmp_path):
    doc = run_suite(("independent_flaky", "correlated_outages"), seeds=(0, 1),
                    labels=("quantum_exact", "round_robin", "ewma"),
                    overrides={"agents": 150, "duration_s": 20.0, "rate": 3.0})
    assert set(doc["families"]) == {"independent_flaky", "correlated_outages"}
    for fam in doc["families"].values():
        v = fam["vs_best_classical"]
        assert v["best"] in ("round_robin", "ewma")
        assert v["verdict"] in ("win", "tie", "loss")
        per = fam["strategies"]["quantum_exact"]["success_rate"]["per_seed"]
        best = fam["strategies"][v["best"]]["success_rate"]["per_seed"]
        assert v["difference"]["per_seed"] == pytest.approx(np.subtract(per, best).tolist())
        assert "brier" in fam["strategies"]["quantum_exact"]["forecast"]["quantum"]
    assert len(doc["runs"]) == 4
    text = table(doc)
    assert "correlated_outages" in text and "quantum_exact - " in text
    assert markdown(doc).count("\n") == 4
    assert plot(doc, tmp_path / "s.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="'nope'"):
        run_suite(("nope",), (0,))
