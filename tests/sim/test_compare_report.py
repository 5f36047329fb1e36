import json

import pytest
from uqo.control.sim.compare import SETUPS, compare
from uqo.control.sim.config import SimConfig
from uqo.control.sim.report import plot, table, write_json


@pytest.fixture(scope="module")
def doc():
    return compare(SimConfig(agents=150, duration_s=20, rate=5.0), progress=False)


def test_every_strategy_runs_on_the_same_workload(doc):
    assert set(doc["results"]) == set(SETUPS)
    arrived = {r["summary"]["arrived"] for r in doc["results"].values()}
    assert arrived == {doc["tasks"]} or len(arrived) == 1
    for r in doc["results"].values():
        s = r["summary"]
        assert s["assigned"] > 0 and 0 <= s["success_rate"] <= 1
        assert s["decision_ms_per_batch"]["p99"] >= s["decision_ms_per_batch"]["p50"] > 0


def test_table_json_and_plot(doc, tmp_path):
    text = table(doc)
    assert all(name in text for name in SETUPS)
    path = write_json(doc, tmp_path / "sim.json")
    assert json.loads(path.read_text())["config"]["agents"] == 150
    png = plot(doc, tmp_path / "sim.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_strategy_is_rejected():
    with pytest.raises(ValueError, match="'fifo'"):
        compare(SimConfig(agents=50, duration_s=5), ["fifo"], progress=False)
