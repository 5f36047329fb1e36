"""``python -m uqo.bench.forecast_paired``: the belief's forecast against the others, paired by
seed, from a suite's JSON (a hand-made suite with known differences, and a real small one)."""

import json

import pytest
from uqo.bench.forecast_paired import main, paired

from uqo.cli import main as uqo


def _suite(q, t):
    def model(v):
        return {"brier": {"per_seed": v}, "log_loss": {"per_seed": [2 * x for x in v]}}
    return {"seeds": [0, 1, 2], "families": {"f": {"strategies": {"quantum_exact": {
        "forecast": {"quantum": model(q), "thompson": model(t)}}}}}}


def test_differences_are_paired_by_seed_with_a_t_interval(tmp_path, capsys):
    doc = _suite([0.10, 0.20, 0.30], [0.12, 0.221, 0.319])  # seed effects far above the gap
    got = paired(doc)["f"]
    assert got["brier"]["thompson"]["mean"] == pytest.approx(-0.02)
    lo, hi = got["brier"]["thompson"]["ci95"]
    assert lo < -0.02 < hi < 0                   # paired: the seeds' spread cancels
    assert got["log_loss"]["thompson"]["mean"] == pytest.approx(-0.04)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    assert main([str(path)]) == 0
    out = json.loads((tmp_path / "s-forecast-paired.json").read_text())
    assert out["families"]["f"]["brier"]["thompson"]["mean"] == pytest.approx(-0.02)
    assert "thompson -0.02000" in capsys.readouterr().out


def test_a_real_suite_and_bad_files(tmp_path, capsys):
    sj = tmp_path / "suite.json"
    assert uqo(["simulate", "--suite", "standard", "--families", "independent_flaky",
                "--seeds", "2", "--agents", "100", "--duration", "10", "--rate", "3",
                "--strategies", "quantum_exact,ewma", "--no-progress", "--out", str(sj),
                "--plot", str(tmp_path / "suite.png")]) == 0
    assert main([str(sj), "--out", str(tmp_path / "p.json")]) == 0
    fam = json.loads((tmp_path / "p.json").read_text())["families"]["independent_flaky"]
    assert set(fam["brier"]) == {"thompson", "ewma", "base_rate"}
    capsys.readouterr()
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main([str(bad)]) == 2
    assert "not a suite result" in capsys.readouterr().out
