"""NVML telemetry: a snapshot with every field where a GPU exists, a reason where none does."""

from __future__ import annotations

from uqo.kernels.nvml import gpu_telemetry


def test_snapshot_is_a_result_either_way():
    snap = gpu_telemetry()
    assert set(snap) >= {"available", "reason", "devices"}
    if not snap["available"]:
        assert snap["devices"] == []
        assert "NVML" in snap["reason"] or "nvidia-ml-py" in snap["reason"]
        return
    assert snap["driver"]
    for dev in snap["devices"]:
        assert dev["mem_total_bytes"] >= dev["mem_used_bytes"] > 0
        assert 0 <= dev["util_gpu_pct"] <= 100 and dev["power_w"] > 0
