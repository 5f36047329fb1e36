"""Prometheus metrics of one orchestrator, on a registry of its own (no global registry).

Use cases::

    registry = CollectorRegistry()
    m = ServiceMetrics(registry, StateReadings(lambda: sm, lambda: report, log.status))
    m.request_seconds.labels("POST", "/v1/tasks", "201").observe(0.002)
    generate_latest(registry)        # text exposition, scraped at /metrics

Histograms are observed as things happen; gauges that mirror state (tasks by state, agents,
coherence) are read at scrape time by a collector, so they are never stale
and cost nothing between scrapes. GPU telemetry (NVML: utilisation, memory, temperature, power
per GPU) is read the same way, at most once per ``GpuCollector.max_age`` seconds; where NVML is
absent ``uqo_gpu_nvml_available`` is 0 and no per-GPU series exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry, state: StateReadings | None = None):
        self.registry = registry
        self.request_seconds = Histogram(
            "uqo_http_request_duration_seconds", "HTTP request latency",
            ["method", "route", "status"], buckets=_FAST, registry=registry)
        self.submit_to_assigned = Histogram(
            "uqo_task_submit_to_assigned_seconds",
            "time from a task's acceptance to its durable assignment", buckets=_FAST,
            registry=registry)
        self.tick_seconds = Histogram(
            "uqo_engine_tick_duration_seconds", "engine tick duration (scheduler thread)",
            buckets=_FAST, registry=registry)
        self.decide_seconds = Histogram(
            "uqo_scheduler_round_duration_seconds", "one scheduling round (decide)",
            buckets=_FAST, registry=registry)
        self.tasks_submitted = Counter("uqo_tasks_submitted", "tasks accepted",
                                       registry=registry)
        if state is not None:
            registry.register(_StateCollector(state))
        registry.register(GpuCollector())


@dataclass(frozen=True)
class StateReadings:
    """What the scrape-time gauges read, as callables (the objects behind them may be
    replaced: a snapshot restore makes a new state machine)."""

    state: Callable[[], object]              # the StateMachine
    tick_report: Callable[[], object]        # the engine's last TickReport, or None
    log_status: Callable[[], dict]           # the log's status()
    forecast: Callable[[], dict | None] = lambda: None   # Scheduler.forecast_summary


class _StateCollector(Collector):
    """Gauges read at scrape time."""

    def __init__(self, readings: StateReadings):
        self.readings = readings

    def collect(self):
        from uqo.control.state.machine import TASK_STATES

        sm = self.readings.state()
        tasks = GaugeMetricFamily("uqo_tasks", "tasks by state", labels=["state"])
        for state in TASK_STATES:
            tasks.add_metric([state], sm.counts.get(state, 0))
        yield tasks
        yield GaugeMetricFamily("uqo_agents", "registered agents", value=len(sm.agents))
        report = self.readings.tick_report()
        if report is not None:
            yield GaugeMetricFamily("uqo_global_coherence", "fleet global coherence [0, 1]",
                                    value=report.global_coherence)
            yield GaugeMetricFamily("uqo_mean_entropy_nats", "mean agent entropy (nats)",
                                    value=report.mean_entropy)
        yield from _forecast_gauges(self.readings.forecast())
        log = self.readings.log_status()
        yield GaugeMetricFamily("uqo_log_commit_index", "last committed log index",
                                value=log.get("commit_index", 0))


def _forecast_gauges(fc: dict | None):
    """The belief's forecast as gauges: fleet load at the horizon and failure probability."""
    if not fc:
        return
    yield GaugeMetricFamily("uqo_forecast_horizon_seconds", "forecast horizon",
                            value=fc["horizon_s"])
    yield GaugeMetricFamily("uqo_forecast_load_agents",
                            "forecast busy agent-slots at now + horizon", value=fc["load"])
    fail = fc["failure"]
    if fail["mean"] is not None:
        yield GaugeMetricFamily("uqo_forecast_failure_probability_mean",
                                "mean forecast probability that a task given to an agent "
                                "within the horizon fails", value=fail["mean"])
        yield GaugeMetricFamily("uqo_forecast_failure_probability_p90",
                                "90th percentile of that probability over agents",
                                value=fail["p90"])
        yield GaugeMetricFamily("uqo_forecast_agents_likely_to_fail",
                                "agents whose forecast failure probability is above 1/2",
                                value=fail["above_half"])


class GpuCollector(Collector):
    """NVML telemetry as gauges, labelled by GPU index and name.

    ``read`` returns a snapshot shaped like ``uqo.kernels.nvml.gpu_telemetry()`` (the default);
    snapshots are reused for ``max_age`` seconds so frequent scrapes do not re-open NVML.
    """

    _GAUGES = (("uqo_gpu_utilization_ratio", "GPU busy fraction over the last sample period",
                "util_gpu_pct", 0.01),
               ("uqo_gpu_memory_used_bytes", "GPU memory in use", "mem_used_bytes", 1),
               ("uqo_gpu_memory_total_bytes", "GPU memory in total", "mem_total_bytes", 1),
               ("uqo_gpu_temperature_celsius", "GPU core temperature", "temperature_c", 1),
               ("uqo_gpu_power_watts", "GPU power draw", "power_w", 1))

    def __init__(self, read=None, max_age: float = 5.0, clock=time.monotonic):
        if read is None:
            from uqo.kernels.nvml import gpu_telemetry as read
        self.read, self.max_age, self.clock = read, max_age, clock
        self._snap, self._at = None, float("-inf")

    def snapshot(self) -> dict:
        now = self.clock()
        if self._snap is None or now - self._at >= self.max_age:
            self._snap, self._at = self.read(), now
        return self._snap

    def collect(self):
        snap = self.snapshot()
        yield GaugeMetricFamily("uqo_gpu_nvml_available",
                                "1 when NVML answered (GPU telemetry below), else 0",
                                value=1.0 if snap.get("available") else 0.0)
        devices = snap.get("devices") or []
        for name, doc, key, scale in self._GAUGES:
            family = GaugeMetricFamily(name, doc, labels=["gpu", "name"])
            for dev in devices:
                family.add_metric([str(dev["index"]), dev["name"]], dev[key] * scale)
            yield family
