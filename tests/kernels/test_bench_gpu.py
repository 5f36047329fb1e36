"""``uqo bench gpu`` on this machine: checks pass, the table and JSON come out, bad input exits 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from uqo.engine.backend import available_backends

from uqo.cli import main


def test_bench_gpu_small_run_writes_json(tmp_path, capsys):
    rc = main(["bench", "gpu", "--agents", "20000", "--ticks", "2", "--backend", "numba",
               "numpy", "jax", "--tune", "--out", str(tmp_path)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "agent-ticks/s" in text and "peer (dynamiqs)" in text
    doc = json.loads((tmp_path / "gpu-cpu.json").read_text())
    assert {c["kernel"]: c["status"] for c in doc["checks"]}["numba"] == "pass"
    rows = {r["backend"]: r for r in doc["results"]}
    assert rows["numba"]["agents"] == 20000 and rows["numba"]["bytes_per_agent"] == 64
    assert 0 < rows["numba"]["fraction_of_copy_bw"] < 1
    assert doc["telemetry_before"]["available"] in (True, False)
    # state held per agent: 64 B of complex64 pair state plus entropy, parameters, diagnostics
    assert 64 < rows["numba"]["device_bytes_per_agent"] < 200
    # the fused kernels tick in place: numba allocates nothing on the host, the JAX store donates
    # its buffers (as many live device arrays after the ticks as before); the numpy reference
    # allocates new arrays every tick, which shows the probe can see allocations
    assert rows["numba"]["allocations_during_ticks"]["peak_bytes"] < 64 * 1024
    jax_alloc = rows["jax"]["allocations_during_ticks"]
    assert jax_alloc["live_arrays_after"] == jax_alloc["live_arrays_before"]
    assert rows["numpy"]["allocations_during_ticks"]["peak_bytes"] > 20000 * 64
    assert doc["tuning"].startswith("skipped: ") and "tuning: skipped" in text
    png = (tmp_path / "gpu-cpu.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_bad_backend_exits_2_naming_it(tmp_path, capsys):
    rc = main(["bench", "gpu", "--backend", "tpu", "--out", str(tmp_path)])
    assert rc == 2
    assert "'tpu'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_result_path_names_the_device(tmp_path):
    from uqo.bench.gpu import result_path

    snap = {"available": True, "devices": [{"name": "NVIDIA H100 80GB HBM3"}]}
    assert result_path(tmp_path, snap).name == "gpu-nvidia-h100-80gb-hbm3.json"
    assert result_path(tmp_path, {"available": False}).name == "gpu-cpu.json"


def test_bad_peer_steps_exits_2_naming_the_value(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "gpu", "--peer-steps", "0", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "--peer-steps: must be at least 1, got '0'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_gpu_check_script_runs_every_step(tmp_path):
    """bench/gpu_check.sh (the one-shot GPU node check) end to end on small sizes: the kernel
    benchmark with --tune and the peer step, results in $RESULTS, and the register benchmark
    reported as failed, not fatal, where CuPy is missing."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHON=sys.executable, RESULTS=str(tmp_path), AGENTS="4096",
               TUNE_AGENTS="4096", PEER_SYSTEMS="64", PEER_STEPS="5")
    out = subprocess.run(["bash", str(root / "bench" / "gpu_check.sh"), "2"], cwd=root, env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    doc = json.loads((tmp_path / "gpu-cpu.json").read_text())
    assert {r["backend"] for r in doc["results"]} >= {"numba", "numpy", "jax"}
    assert doc["tuning"] is not None                 # --tune reached the benchmark
    assert doc["peer"]["status"] in ("skipped", "pass")
    assert (tmp_path / "gpu-cpu.png").exists()
    if not available_backends(probe=True)["cupy"][0]:
        assert "uqo bench engine failed (exit 2)" in out.stdout
