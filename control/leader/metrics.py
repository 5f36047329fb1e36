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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
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
        self.idempotent_replays = Counter(
            "uqo_idempotent_replays", "writes answered with the first result of their "
            "Idempotency-Key (retries of applied writes)", registry=registry)
        if state is not None:
            registry.register(_StateCollector(state))
        registry.register(GpuCollector())

    def watch_security(self, trail) -> None:
        """Expose the security framework's audit trail: ``uqo_auth_failures_total{code}``
        (unauthenticated refusals, counted even when sampled out of the audit log),
        ``uqo_security_events_total{kind}`` (audited refusals and lockouts) and
        ``uqo_audit_verify_ok`` (1/0 after the last verification of the audit log; absent
        before the first)."""
        self.registry.register(_SecurityCollector(trail))


class _SecurityCollector(Collector):
    def __init__(self, trail):
        self.trail = trail

    def collect(self):
        failures = CounterMetricFamily("uqo_auth_failures", "unauthenticated refusals (bad, "
                                       "expired or revoked tokens; unknown certificates)",
                                       labels=["code"])
        for code, n in sorted(dict(self.trail.failures).items()):
            failures.add_metric([code], n)
        yield failures
        events = CounterMetricFamily("uqo_security_events", "audited security events "
                                     "(refusals, lockouts) by kind", labels=["kind"])
        for kind, n in sorted(dict(self.trail.by_kind).items()):
            events.add_metric([kind], n)
        yield events
        if self.trail.last_verify is not None:
            ok, _, at = self.trail.last_verify
            yield GaugeMetricFamily("uqo_audit_verify_ok", "1 when the last verification of "
                                    "the audit log passed, 0 when it found tampering",
                                    value=1 if ok else 0)
            yield GaugeMetricFamily("uqo_audit_verify_timestamp_seconds", "when the audit "
                                    "log was last verified", value=at)


@dataclass(frozen=True)
class StateReadings:
    """What the scrape-time gauges read, as callables (the objects behind them may be
    replaced: a snapshot restore makes a new state machine)."""

    state: Callable[[], object]              # the StateMachine
    tick_report: Callable[[], object]        # the engine's last TickReport, or None
    log_status: Callable[[], dict]           # the log's status()
    forecast: Callable[[], dict | None] = lambda: None   # Scheduler.forecast_summary
    engine: Callable[[], tuple[str, int]] = lambda: ("", 0)   # (backend, fallback events)


class _StateCollector(Collector):
    """Gauges read at scrape time."""

    def __init__(self, readings: StateReadings):
        self.readings = readings

    def collect(self):
        from uqo.control.state.records import TASK_STATES

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
            # readiness <1|rho_a|1> is the belief that agent a is up; its fleet mean is what
            # falls at once when the fleet goes silent (coherence recovers as the belief in
            # "down" grows confident), so UqoFleetBelievedDown alerts on this one
            yield GaugeMetricFamily("uqo_mean_readiness", "mean believed-up probability "
                                    "(readiness) over registered agents [0, 1]",
                                    value=report.mean_readiness)
        yield from _forecast_gauges(self.readings.forecast())
        log = self.readings.log_status()
        yield GaugeMetricFamily("uqo_log_commit_index", "last committed log index",
                                value=log.get("commit_index", 0))
        yield from _consensus(log)
        backend, fallbacks = self.readings.engine()
        yield CounterMetricFamily("uqo_engine_fallback", "times the engine left its device "
                                  "for the CPU (GPU failover)", value=fallbacks)
        info = GaugeMetricFamily("uqo_engine_backend_info", "the engine's array backend",
                                 labels=["backend"])
        if backend:
            info.add_metric([backend], 1)
        yield info


def _consensus(log: dict):
    """The log's role and progress (docs/replication.md); a single node is always leader and
    never behind."""
    replica = [log.get("replica_id") or log.get("node_id") or ""]

    def gauge(name, doc, value):
        family = GaugeMetricFamily(name, doc, labels=["replica"])
        family.add_metric(replica, value)
        return family

    yield gauge("uqo_consensus_is_leader", "1 while this replica leads (may propose)",
                1 if log.get("is_leader") else 0)
    changes = CounterMetricFamily("uqo_consensus_leader_changes", "leaders this replica has "
                                  "seen come (new election tokens)", labels=["replica"])
    changes.add_metric(replica, log.get("leader_changes", 1 if log.get("is_leader") else 0))
    yield changes
    yield gauge("uqo_consensus_applied_revision", "last log revision (etcd) or index applied",
                log.get("applied_revision", log.get("applied_index", 0)))
    yield gauge("uqo_consensus_replica_lag_seconds", "seconds this replica has been behind the "
                "log head it knows of (0 when caught up)", log.get("lag_s", 0.0))


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
