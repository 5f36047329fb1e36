"""``uqo bench api`` end to end at toy sizes: it runs, and its JSON holds every phase."""

import json
import subprocess
import sys


def test_bench_api_runs_and_writes_its_json(tmp_path):
    out = tmp_path / "api.json"
    proc = subprocess.run(
        [sys.executable, "-m", "uqo", "bench", "api", "--agents", "40", "--batch-tasks", "400",
         "--batch-size", "100", "--rate", "40", "--duration", "1", "--clients", "1",
         "--history", "600", "--out", str(out)],
        capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["results"]["register"]["agents"] == 40
    assert result["results"]["batch_submit"]["tasks"] == 400
    assert result["results"]["single_submit"]["sent"] == 40
    assert result["restart"]["tasks_in_history"] >= 600
    assert result["machine"]["cpus"] >= 1 and "submit->assigned" in proc.stdout


def test_bench_api_refuses_bad_sizes():
    proc = subprocess.run([sys.executable, "-m", "uqo", "bench", "api", "--agents", "0"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "--agents 0" in proc.stderr
