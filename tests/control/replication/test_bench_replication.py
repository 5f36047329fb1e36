"""``uqo bench replication`` runs end to end on a tiny load and writes its JSON."""

import json

import pytest

from uqo.cli.main import main

pytestmark = pytest.mark.slow


def test_bench_replication_small(tmp_path, capsys):
    out = tmp_path / "r.json"
    rc = main(["bench", "replication", "--latency-n", "20", "--batch", "50", "--clients", "4",
               "--duration", "0.5", "--failovers", "1", "--catchup-tasks", "2000",
               "--catchup-batch", "250", "--snapshot-every", "500", "--out", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    for side in ("single_node", "etcd"):
        assert doc[side]["commit_latency"]["n"] > 0
        assert doc[side]["batched_4_clients"]["tasks_per_s"] > 0
    assert doc["failover"]["n"] == 1 and doc["failover"]["median_s"] > 0
    assert doc["catchup"]["tasks_behind"] == 2000
    assert doc["catchup"]["spawn_to_caught_up_s"] > 0
    assert "failover gap" in capsys.readouterr().out
