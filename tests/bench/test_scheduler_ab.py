"""``python -m uqo.bench.scheduler_ab``: two checkouts' schedulers alternated (small sizes; the
other checkout is this one, so both sides run the same code)."""

import json
from pathlib import Path

from uqo.bench.scheduler_ab import main

ROOT = Path(__file__).resolve().parents[2]


def test_sides_alternate_and_the_ratio_is_of_the_median_p99s(tmp_path, capsys):
    out = tmp_path / "ab.json"
    rc = main(["--base", str(ROOT), "--base-strategy", "round_robin", "--agents", "400",
               "--batches", "2", "--batch-size", "20", "--templates", "4", "--single", "1",
               "--rounds", "2", "--out", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert [(r["round"], r["side"]) for r in doc["runs"]] == [
        (1, "base"), (1, "this"), (2, "this"), (2, "base")]
    assert {r["strategy"] for r in doc["runs"] if r["side"] == "base"} == {"round_robin"}
    p99 = {s: sorted(r["result"]["batch_ms"]["p99"] for r in doc["runs"] if r["side"] == s)
           for s in ("base", "this")}
    assert doc["median_p99_ms"] == {s: sum(v) / 2 for s, v in p99.items()}
    assert doc["ratio_p99"] == doc["median_p99_ms"]["this"] / doc["median_p99_ms"]["base"]
    assert str(ROOT) not in doc["command"] and "<checkout of" in doc["command"]
    assert "ratio" in capsys.readouterr().out


def test_a_base_without_its_environment_is_refused(tmp_path, capsys):
    assert main(["--base", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    assert str(tmp_path) in capsys.readouterr().out and not (tmp_path / "x.json").exists()
