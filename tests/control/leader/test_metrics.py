"""GPU telemetry as Prometheus gauges (uqo.control.metrics.GpuCollector).

This machine has no GPU, so the per-GPU series are checked with a recorded NVML snapshot passed
as ``read`` (the shape of uqo.kernels.nvml.gpu_telemetry(), which has its own tests); the real
NVML path is checked end to end by the /metrics test in tests/control/api/test_handlers.py.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from uqo.control.leader.metrics import GpuCollector

H100 = {"available": True, "reason": "ok", "driver": "580.1", "devices": [
    {"index": 0, "name": "NVIDIA H100 80GB HBM3", "util_gpu_pct": 87, "util_mem_pct": 40,
     "mem_used_bytes": 12_000_000_000, "mem_total_bytes": 85_000_000_000, "temperature_c": 61,
     "power_w": 512.5}]}


def _scrape(collector) -> str:
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()


def test_gauges_per_gpu_from_a_snapshot():
    text = _scrape(GpuCollector(read=lambda: H100))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    labels = (("gpu", "0"), ("name", "NVIDIA H100 80GB HBM3"))
    assert samples[("uqo_gpu_nvml_available", ())] == 1.0
    assert samples[("uqo_gpu_utilization_ratio", labels)] == 0.87
    assert samples[("uqo_gpu_memory_used_bytes", labels)] == 12e9
    assert samples[("uqo_gpu_memory_total_bytes", labels)] == 85e9
    assert samples[("uqo_gpu_temperature_celsius", labels)] == 61.0
    assert samples[("uqo_gpu_power_watts", labels)] == 512.5


def test_absent_nvml_is_a_zero_gauge_not_an_error():
    text = _scrape(GpuCollector(read=lambda: {"available": False, "reason": "no driver",
                                              "devices": []}))
    assert "uqo_gpu_nvml_available 0.0" in text
    assert "uqo_gpu_power_watts{" not in text


def test_snapshots_are_reused_within_max_age():
    calls, now = [], [0.0]

    def read():
        calls.append(now[0])
        return H100

    collector = GpuCollector(read=read, max_age=5.0, clock=lambda: now[0])
    for t in (0.0, 1.0, 4.9, 5.0, 6.0):
        now[0] = t
        list(collector.collect())
    assert calls == [0.0, 5.0]


def test_consensus_and_engine_series_from_the_log_status():
    from prometheus_client import CollectorRegistry
    from uqo.control.leader.metrics import ServiceMetrics, StateReadings
    from uqo.control.state.machine import StateMachine

    status = {"mode": "etcd", "replica_id": "r2", "is_leader": False, "leader_changes": 3,
              "applied_revision": 41, "lag_s": 1.5, "commit_index": 7}
    registry = CollectorRegistry()
    ServiceMetrics(registry, StateReadings(StateMachine, lambda: None, lambda: status,
                                           engine=lambda: ("numpy", 2)))
    text = generate_latest(registry).decode()
    for line in ('uqo_consensus_is_leader{replica="r2"} 0.0',
                 'uqo_consensus_leader_changes_total{replica="r2"} 3.0',
                 'uqo_consensus_applied_revision{replica="r2"} 41.0',
                 'uqo_consensus_replica_lag_seconds{replica="r2"} 1.5',
                 "uqo_engine_fallback_total 2.0",
                 'uqo_engine_backend_info{backend="numpy"} 1.0'):
        assert line in text, line
    single = CollectorRegistry()
    ServiceMetrics(single, StateReadings(StateMachine, lambda: None, lambda: {
        "mode": "single-node", "node_id": "node-1", "is_leader": True, "applied_index": 9}))
    text = generate_latest(single).decode()
    assert 'uqo_consensus_is_leader{replica="node-1"} 1.0' in text
    assert 'uqo_consensus_replica_lag_seconds{replica="node-1"} 0.0' in text
    assert "uqo_engine_fallback_total 0.0" in text
