"""``uqo bench ops``: the table and the JSON result, on a tiny batch."""

import json

from uqo.bench.ops import main

from uqo.cli import main as cli_main


def test_writes_one_row_per_operation_with_machine_info(tmp_path, capsys):
    assert main(64, ["numpy"], 1, tmp_path) == 0
    result = json.loads((tmp_path / "ops-numpy.json").read_text())
    assert result["n_systems"] == 64 and result["backend"] == "numpy"
    assert "cpu" in result["machine"]
    names = [r["operation"] for r in result["results"]]
    assert "concurrence" in names and "measure (site 0)" in names and len(names) == 10
    assert all(r["median_ms"] > 0 and r["systems_per_s"] > 0 for r in result["results"])
    assert "concurrence" in capsys.readouterr().out


def test_unknown_backend_exits_2_naming_it(capsys):
    assert cli_main(["bench", "ops", "--backend", "bogus"]) == 2
    assert "'bogus'" in capsys.readouterr().err
