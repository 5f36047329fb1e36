"""Grafana dashboards as code: the JSON files are exactly what ops/grafana/dashboards.py
renders, every panel's PromQL parses (promtool, through a rule file), every metric a panel reads
is exported by uqo, recorded by our rules or listed as pending, and the provisioning files point
where docker-compose.yml mounts the dashboards."""

import json
import re

import yaml

from ._opsfiles import (
    CONTAINERS,
    OPS,
    ROOT,
    binary,
    dashboards_module,
    names_in,
    pending_metrics,
    recorded,
    run,
    substitute,
)

DASH = dashboards_module()
AREAS = {"uqo-fleet", "uqo-tasks", "uqo-consensus", "uqo-security", "uqo-engine"}


def test_json_files_regenerate_identically():
    files = {p.stem: p.read_text() for p in DASH.OUT.glob("*.json")}
    assert set(files) == {d.uid for d in DASH.DASHBOARDS} == AREAS
    for d in DASH.DASHBOARDS:
        assert files[d.uid] == DASH.render(d), f"{d.uid}.json is stale: run {DASH.__file__}"
    assert DASH.main(["--check"]) == 0


def test_check_mode_notices_an_edited_file(tmp_path, monkeypatch):
    monkeypatch.setattr(DASH, "OUT", tmp_path)
    assert DASH.main([]) == 0
    (tmp_path / "uqo-fleet.json").write_text("{}\n")
    assert DASH.main(["--check"]) == 1


def test_panels_use_the_datasource_variable_and_unique_ids():
    for d in DASH.DASHBOARDS:
        doc = json.loads(DASH.render(d))
        assert doc["uid"] == d.uid and doc["title"].startswith("uqo / ")
        ids = [p["id"] for p in doc["panels"]]
        assert len(ids) == len(set(ids))
        variables = {v["name"] for v in doc["templating"]["list"]}
        assert variables == {"datasource", "job", "instance"}
        for panel in doc["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


def test_every_query_parses_with_promtool(tmp_path):
    exprs = [substitute(q) for d in DASH.DASHBOARDS for q in DASH.queries(d)]
    assert len(exprs) >= 30
    rules = [{"record": f"dashboard_query_{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run([binary("promtool"), "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout


def test_every_metric_is_exported_recorded_or_pending():
    """A typo in a metric name shows here without running anything: each name a panel reads is
    a recording rule, a pending metric, a Prometheus series (up, ALERTS) or named in the
    orchestrator's code (control/)."""
    source = "".join(p.read_text() for p in (ROOT / "control").rglob("*.py"))
    exported = set(re.findall(r'"(uqo_[a-z_]+)"', source))
    known = exported | set(recorded()) | {"up", "ALERTS"}
    for section in pending_metrics().values():
        known |= section
    functions = {"sum", "max", "min", "count", "rate", "increase", "histogram_quantile"}
    for d in DASH.DASHBOARDS:
        for q in DASH.queries(d):
            names = names_in(q) - functions
            names = {n.removesuffix("_total") if n.removesuffix("_total") in known else n
                     for n in names}
            assert names <= known, (d.uid, q, names - known)


def test_provisioning_matches_the_compose_mounts():
    compose = yaml.safe_load((CONTAINERS / "docker-compose.yml").read_text())
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in compose["services"]["grafana"]
                  ["volumes"] if v.startswith("../"))
    provider = yaml.safe_load((OPS / "grafana" / "provisioning" / "dashboards" / "uqo.yml")
                              .read_text())["providers"][0]
    assert mounts["../ops/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["../ops/grafana/provisioning"] == "/etc/grafana/provisioning"
    (source,) = yaml.safe_load((OPS / "grafana" / "provisioning" / "datasources" /
                                "prometheus.yml").read_text())["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in compose["services"]
