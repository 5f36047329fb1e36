"""The Grafana dashboards of uqo, as code: the one source of ``ops/grafana/dashboards/*.json``.

Use cases::

    python ops/grafana/dashboards.py            # rewrite the JSON files from this source
    python ops/grafana/dashboards.py --check    # exit 1 if a JSON file differs (CI, tests)

    from dashboards import DASHBOARDS, render   # tests: every panel's PromQL, every uid
    render(DASHBOARDS[0])                       # -> the JSON text written for it

Each dashboard has three variables: ``datasource`` (any Prometheus), ``job`` (the uqo
deployment) and ``instance`` (replicas, multi-select), used by every query. Rates and
quantiles come from the recording rules in ``ops/prometheus/rules/recording.rules.yml``
(5-minute windows), computed once for every viewer. Grafana loads the files at start through
``ops/grafana/provisioning``.
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grafanalib._gen import write_dashboard
from grafanalib.core import Dashboard, GridPos, Stat, Target, Template, Templating, TimeSeries

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job="$job", instance=~"$instance"'       # per-replica series
JOB = 'job="$job"'                              # recording rules aggregated per deployment
COHERENCE_THRESHOLD = 0.6                       # DESIGN.md section 4; the alert uses the same
READINESS_THRESHOLD = 0.5                       # UqoFleetBelievedDown pages below it
SCHEDULING_TARGET_S = 0.1                       # submit-to-assigned p95 target


@dataclass(frozen=True)
class P:
    """One panel: a title, (expr, legend) pairs, and how to show them."""

    title: str
    queries: tuple[tuple[str, str], ...]
    unit: str = "short"
    kind: str = "timeseries"                    # or "stat"
    width: int = 12
    threshold: float | None = None              # red at/above (or below with low_is_bad)
    low_is_bad: bool = False
    description: str = ""


@dataclass(frozen=True)
class D:
    uid: str
    title: str
    description: str
    panels: tuple[P, ...]
    tags: tuple[str, ...] = field(default=("uqo",))


def _thresholds(p: P) -> list[dict]:
    if p.threshold is None:
        return [{"color": "green", "value": None}]
    ok, bad = ("red", "green") if p.low_is_bad else ("green", "red")
    return [{"color": ok, "value": None}, {"color": bad, "value": p.threshold}]


def _panel(p: P, pos: GridPos):
    targets = [Target(expr=expr, legendFormat=legend, refId=chr(ord("A") + i),
                      datasource=DATASOURCE, instant=p.kind == "stat")
               for i, (expr, legend) in enumerate(p.queries)]
    common = {"title": p.title, "dataSource": DATASOURCE, "targets": targets, "gridPos": pos,
              "thresholds": _thresholds(p), "description": p.description or None}
    if p.kind == "stat":
        return Stat(format=p.unit, reduceCalc="lastNotNull", graphMode="none", **common)
    return TimeSeries(unit=p.unit, legendDisplayMode="list", tooltipMode="multi",
                      thresholdsStyleMode="off" if p.threshold is None else "line", **common)


def _layout(panels: tuple[P, ...]) -> list:
    """Left to right in a 24-column grid, a new line when a panel does not fit."""
    out, x, y, line_h = [], 0, 0, 0
    for p in panels:
        h = 4 if p.kind == "stat" else 8
        if x + p.width > 24:
            x, y, line_h = 0, y + line_h, 0
        out.append(_panel(p, GridPos(h=h, w=p.width, x=x, y=y)))
        x, line_h = x + p.width, max(line_h, h)
    return out


def _templating() -> Templating:
    return Templating(list=[
        Template(name="datasource", label="Data source", type="datasource", query="prometheus"),
        Template(name="job", label="Deployment", query="label_values(uqo_agents, job)",
                 dataSource=DATASOURCE, default="uqo"),
        Template(name="instance", label="Replica", dataSource=DATASOURCE,
                 query='label_values(uqo_agents{job="$job"}, instance)',
                 includeAll=True, multi=True, allValue=".*", default="$__all"),
    ])


def build(d: D) -> Dashboard:
    return Dashboard(title=d.title, uid=d.uid, description=d.description, tags=list(d.tags),
                     panels=_layout(d.panels), templating=_templating(), refresh="30s",
                     schemaVersion=39, timezone="browser", editable=False).auto_panel_ids()


def render(d: D) -> str:
    buf = io.StringIO()
    write_dashboard(build(d), buf)
    return buf.getvalue()


def queries(d: D) -> list[str]:
    """Every PromQL expression of a dashboard (templating queries are label_values calls)."""
    return [expr for p in d.panels for expr, _ in p.queries]


FIRING = f'count by (severity) (ALERTS{{alertstate="firing", alertname=~"Uqo.*", {JOB}}})'

FLEET = D("uqo-fleet", "uqo / Fleet coherence and entropy",
          "What the scheduler believes about the agents: coherence, entropy, readiness, fleet size.", (
              P("Global coherence", ((f"uqo_global_coherence{{{SEL}}}", "{{instance}}"),),
                unit="percentunit", kind="stat", width=6, threshold=COHERENCE_THRESHOLD,
                low_is_bad=True),
              P("Mean entropy", ((f"uqo_mean_entropy_nats{{{SEL}}}", "{{instance}}"),),
                unit="none", kind="stat", width=6),
              P("Agents", ((f"uqo_agents{{{SEL}}}", "{{instance}}"),), kind="stat", width=6),
              P("Alerts firing", ((FIRING, "{{severity}}"),),
                kind="stat", width=6, threshold=1),
              P("Global coherence (alert below 0.6)",
                ((f"uqo_global_coherence{{{SEL}}}", "{{instance}}"),),
                unit="percentunit", threshold=COHERENCE_THRESHOLD, low_is_bad=True,
                description="Mean normalised purity of the cells' joint states: 1 fresh, "
                            "0 nothing known."),
              P("Mean agent entropy (nats)",
                ((f"uqo_mean_entropy_nats{{{SEL}}}", "{{instance}}"),), unit="none"),
              P("Mean readiness (page below 0.5)",
                ((f"uqo_mean_readiness{{{SEL}}}", "{{instance}}"),),
                unit="percentunit", threshold=READINESS_THRESHOLD, low_is_bad=True,
                description="Mean believed probability that an agent is up: falls at once "
                            "when the fleet goes silent, while coherence recovers."),
              P("Registered agents", ((f"uqo_agents{{{SEL}}}", "{{instance}}"),)),
          ))

TASKS = D("uqo-tasks", "uqo / Tasks and latency",
          "Submissions, placements, task states and latency against the 100 ms target.", (
              P("Submitted / s", ((f"uqo:tasks_submitted:rate5m{{{JOB}}}", "submitted"),
                                  (f"uqo:tasks_assigned:rate5m{{{JOB}}}", "assigned")),
                unit="reqps", width=8),
              P("Tasks by state", ((f'max by (state) (uqo_tasks{{{SEL}}})', "{{state}}"),),
                width=8),
              P("Submit to assigned (p50, p95; target 100 ms)",
                ((f"uqo:task_submit_to_assigned_seconds:p50_5m{{{JOB}}}", "p50"),
                 (f"uqo:task_submit_to_assigned_seconds:p95_5m{{{JOB}}}", "p95")),
                unit="s", width=8, threshold=SCHEDULING_TARGET_S),
              P("HTTP requests / s by route and status",
                ((f"uqo:http_requests:rate5m{{{JOB}}}", "{{route}} {{status}}"),), unit="reqps"),
              P("HTTP p95 by route",
                ((f"uqo:http_request_duration_seconds:p95_5m{{{JOB}}}", "{{route}}"),), unit="s"),
              P("HTTP 5xx ratio", ((f"uqo:http_request_errors:ratio_rate5m{{{JOB}}}", "5xx"),),
                unit="percentunit", threshold=0.05),
              P("Scheduling round p95",
                ((f"uqo:scheduler_round_duration_seconds:p95_5m{{{SEL}}}", "{{instance}}"),),
                unit="s"),
          ))

CONSENSUS = D("uqo-consensus", "uqo / Consensus",
              "Leadership, replication lag and the commit position of each replica.", (
                  P("Leaders (must be 1)", ((f"uqo:consensus_leaders:sum{{{JOB}}}", "leaders"),),
                    kind="stat", width=8, threshold=1, low_is_bad=True),
                  P("Leader changes (1 h)",
                    ((f"sum(increase(uqo_consensus_leader_changes_total{{{SEL}}}[1h]))",
                      "changes"),), kind="stat", width=8, threshold=4),
                  P("Max replica lag", ((f"uqo:consensus_replica_lag_seconds:max{{{JOB}}}",
                                         "lag"),), unit="s", kind="stat", width=8, threshold=5),
                  P("Leader by replica", ((f"uqo_consensus_is_leader{{{SEL}}}", "{{instance}}"),)),
                  P("Replica lag", ((f"uqo_consensus_replica_lag_seconds{{{SEL}}}",
                                     "{{instance}}"),), unit="s", threshold=5),
                  P("Applied etcd revision", ((f"uqo_consensus_applied_revision{{{SEL}}}",
                                               "{{instance}}"),)),
                  P("Log commit index", ((f"uqo_log_commit_index{{{SEL}}}", "{{instance}}"),)),
              ))

SECURITY = D("uqo-security", "uqo / Security",
             "Security events by kind, failed logins and the audit log's verification.", (
                 P("Audit log verifies", ((f"min(uqo_audit_verify_ok{{{SEL}}})", "ok"),),
                   kind="stat", width=8, threshold=1, low_is_bad=True),
                 P("Security events (1 h)",
                   ((f"sum(increase(uqo_security_events_total{{{SEL}}}[1h]))", "events"),),
                   kind="stat", width=8),
                 P("Failed logins / s", ((f"uqo:auth_failures:rate5m{{{JOB}}}", "failures"),),
                   unit="reqps", kind="stat", width=8, threshold=0.2),
                 P("Security events / s by kind",
                   ((f"uqo:security_events:rate5m{{{JOB}}}", "{{kind}}"),), unit="reqps"),
                 P("Refused requests / s (401, 403)",
                   ((f'uqo:http_requests:rate5m{{{JOB}, status=~"401|403"}}',
                     "{{route}} {{status}}"),), unit="reqps"),
             ))

ENGINE = D("uqo-engine", "uqo / Engine and GPU",
           "Tick time against its interval, backend fallbacks, and NVML telemetry per GPU.", (
               P("Tick duration p90", ((f"uqo:engine_tick_duration_seconds:p90_5m{{{SEL}}}",
                                        "{{instance}}"),), unit="s", width=8),
               P("Time spent ticking (overrun above 50 %)",
                 ((f"uqo:engine_tick_busy:ratio_rate5m{{{SEL}}}", "{{instance}}"),),
                 unit="percentunit", width=8, threshold=0.5,
                 description="The loop sleeps tick_interval_s, then ticks: above 50 % each tick "
                             "outlasts the interval."),
               P("Ticks / s", ((f"uqo:engine_ticks:rate5m{{{SEL}}}", "{{instance}}"),), width=8),
               P("NVML available", ((f"uqo_gpu_nvml_available{{{SEL}}}", "{{instance}}"),),
                 kind="stat", width=8),
               P("Fallbacks to CPU (24 h)",
                 ((f"sum(increase(uqo_engine_fallback_total{{{SEL}}}[24h]))", "fallbacks"),),
                 kind="stat", width=8, threshold=1),
               P("GPU memory used", ((f"uqo:gpu_memory_used:ratio{{{SEL}}}",
                                      "{{instance}} gpu {{gpu}}"),),
                 unit="percentunit", kind="stat", width=8, threshold=0.9),
               P("GPU utilisation", ((f"uqo_gpu_utilization_ratio{{{SEL}}}",
                                      "{{instance}} gpu {{gpu}}"),), unit="percentunit"),
               P("GPU memory", ((f"uqo_gpu_memory_used_bytes{{{SEL}}}", "used {{gpu}}"),
                                (f"uqo_gpu_memory_total_bytes{{{SEL}}}", "total {{gpu}}")),
                 unit="bytes"),
               P("GPU temperature", ((f"uqo_gpu_temperature_celsius{{{SEL}}}",
                                      "{{instance}} gpu {{gpu}}"),), unit="celsius"),
               P("GPU power", ((f"uqo_gpu_power_watts{{{SEL}}}", "{{instance}} gpu {{gpu}}"),),
                 unit="watt"),
           ))

DASHBOARDS = (FLEET, TASKS, CONSENSUS, SECURITY, ENGINE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the files instead of writing them (exit 1 on a diff)")
    args = parser.parse_args(argv)
    stale = []
    OUT.mkdir(exist_ok=True)
    for d in DASHBOARDS:
        path, text = OUT / f"{d.uid}.json", render(d)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale dashboards (run python {Path(__file__).name}): {', '.join(stale)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
