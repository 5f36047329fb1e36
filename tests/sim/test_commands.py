"""``uqo simulate`` and ``uqo bench scheduler`` end to end (small sizes)."""

import json

import pytest

from uqo.cli import main


def test_simulate_writes_table_json_and_png(tmp_path, capsys):
    out, png = tmp_path / "s.json", tmp_path / "s.png"
    rc = main(["simulate", "--agents", "120", "--duration", "10", "--rate", "3",
               "--strategies", "quantum,round_robin", "--quality", "0", "--no-progress",
               "--out", str(out), "--plot", str(png)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "quantum" in text and "round_robin" in text
    doc = json.loads(out.read_text())
    assert set(doc["results"]) == {"quantum", "round_robin"} and "machine" in doc
    assert png.stat().st_size > 1000


def test_simulate_bad_input_names_the_value(capsys, tmp_path):
    assert main(["simulate", "--arrivals", "zipf", "--out", str(tmp_path / "x.json")]) == 2
    assert "'zipf'" in capsys.readouterr().out
    assert not (tmp_path / "x.json").exists()


def test_bench_scheduler_small_fleet_has_no_violations(tmp_path, capsys):
    out = tmp_path / "b.json"
    rc = main(["bench", "scheduler", "--agents", "3000", "--batches", "2", "--batch-size", "40",
               "--templates", "8", "--single", "3", "--gap-batches", "1", "--out", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert {r["strategy"] for r in doc["results"]} == {
        "quantum", "quantum_exact", "round_robin", "least_connections", "power_of_two",
        "adaptive", "thompson", "ewma"}
    for r in doc["results"]:
        assert r["violations"] == 0 and r["tasks_per_s"] > 0
        assert r["assigned"] + r["pending"] + r["rejected"] == 2 * 40


def test_simulate_a_family_and_a_small_suite(tmp_path, capsys):
    out = tmp_path / "f.json"
    rc = main(["simulate", "--family", "slow_degradation", "--agents", "120", "--duration",
               "10", "--rate", "3", "--strategies", "quantum,thompson", "--quality", "0",
               "--no-progress", "--out", str(out), "--plot", str(tmp_path / "f.png")])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["config"]["degrade"] == 0.2 and doc["config"]["agents"] == 120
    sj = tmp_path / "suite.json"
    rc = main(["simulate", "--suite", "standard", "--families", "bursty_arrivals",
               "--seeds", "2", "--first-seed", "7", "--agents", "100", "--duration", "10", "--rate", "2",
               "--strategies", "quantum_exact,ewma", "--no-progress", "--out", str(sj),
               "--plot", str(tmp_path / "suite.png")])
    assert rc == 0
    doc = json.loads(sj.read_text())
    assert doc["families"]["bursty_arrivals"]["vs_best_classical"]["best"] == "ewma"
    assert doc["seeds"] == [7, 8]
    assert (tmp_path / "suite.md").read_text().startswith("| family")
    capsys.readouterr()
    assert main(["simulate", "--suite", "huge", "--out", str(tmp_path / "x.json")]) == 2
    assert "'huge'" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["simulate", "--suite", "standard", "--first-seed", "-1"])
    assert "'-1'" in capsys.readouterr().err
