"""``python -m uqo.bench.forecast_split``: a family's forecast scores split by kind of agent
(a small world; the split must add up to the whole)."""

import json

from uqo.bench.forecast_split import main


def test_groups_partition_the_outcomes_and_scores_add_up(tmp_path, capsys):
    out = tmp_path / "split.json"
    rc = main(["--family", "flapping_heartbeats", "--seeds", "0", "--agents", "150",
               "--duration", "40", "--out", str(out)])
    assert rc == 0
    g = json.loads(out.read_text())["runs"][0]["groups"]
    parts = ("flapping", "flaky", "steady")
    assert sum(g[p]["outcomes"] for p in parts) == g["all"]["outcomes"] > 50
    assert g["flapping"]["outcomes"] > 0                  # the family has flapping agents
    for m in ("quantum", "thompson"):                     # Brier of the whole = weighted parts
        whole = sum(g[p]["models"][m]["brier"] * g[p]["outcomes"] for p in parts
                    if g[p]["outcomes"])
        assert abs(whole / g["all"]["outcomes"] - g["all"]["models"][m]["brier"]) < 1e-9
    for p in (*parts, "all"):                             # 1 - each factor of q
        if g[p]["outcomes"]:
            assert all(0.0 <= v <= 1.0 for v in g[p]["belief_factors"].values())
    assert g["flapping"]["belief_factors"]["liveness"] > g["steady"]["belief_factors"]["liveness"]
    out = capsys.readouterr().out
    assert "flapping" in out and "survival" in out


def test_an_unknown_family_is_named(tmp_path, capsys):
    assert main(["--family", "nope", "--out", str(tmp_path / "x.json")]) == 2
    assert "'nope'" in capsys.readouterr().out and not (tmp_path / "x.json").exists()
