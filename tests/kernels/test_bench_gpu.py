"""``uqo bench gpu`` on this machine: checks pass, the table and JSON come out, bad input exits 2."""

from __future__ import annotations

import json

from uqo.cli import main


def test_bench_gpu_small_run_writes_json(tmp_path, capsys):
    rc = main(["bench", "gpu", "--agents", "20000", "--ticks", "2", "--backend", "numba",
               "numpy", "--out", str(tmp_path)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "agent-ticks/s" in text and "peer (dynamiqs)" in text
    doc = json.loads((tmp_path / "gpu-cpu.json").read_text())
    assert {c["kernel"]: c["status"] for c in doc["checks"]}["numba"] == "pass"
    rows = {r["backend"]: r for r in doc["results"]}
    assert rows["numba"]["agents"] == 20000 and rows["numba"]["bytes_per_agent"] == 64
    assert 0 < rows["numba"]["fraction_of_copy_bw"] < 1
    assert doc["telemetry_before"]["available"] in (True, False)


def test_bad_backend_exits_2_naming_it(tmp_path, capsys):
    rc = main(["bench", "gpu", "--backend", "tpu", "--out", str(tmp_path)])
    assert rc == 2
    assert "'tpu'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
