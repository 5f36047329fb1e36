"""Prometheus rules: promtool accepts them, their unit tests (recorded series) pass, a changed
threshold is caught by those tests, and every alert carries the routing labels and runbook
that docs/operations.md documents."""

import re
import shutil

import pytest
import yaml

from ._opsfiles import (
    PROMTOOL_TESTS,
    ROOT,
    RULES_DIR,
    alerts,
    binary,
    dashboards_module,
    names_in,
    recorded,
    run,
)

SEVERITY_ESCALATION = {"critical": "page", "warning": "ticket"}
TEAMS = {"orchestrator", "platform", "security"}


def test_promtool_check_rules_accepts_every_rule_file():
    files = sorted(str(p) for p in RULES_DIR.glob("*.yml"))
    assert len(files) == 2
    result = run([binary("promtool"), "check", "rules", *files])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 2


def test_promtool_check_rules_rejects_a_broken_expression(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"alert": "Broken", "expr": "sum by (job (uqo_agents)"}]}]}))
    result = run([binary("promtool"), "check", "rules", str(bad)])
    assert result.returncode != 0


def test_compose_prometheus_config_loads_our_rules(tmp_path):
    """ops/prometheus/prometheus.yml as the compose Prometheus reads it, with the rules where
    the compose file mounts them (here: their place in the repository)."""
    text = (RULES_DIR.parent / "prometheus.yml").read_text()
    assert "/etc/prometheus/rules/*.yml" in text
    config = tmp_path / "prometheus.yml"
    config.write_text(text.replace("/etc/prometheus/rules", str(RULES_DIR)))
    result = run([binary("promtool"), "check", "config", str(config)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rule files found" in result.stdout


def test_promtool_unit_tests_pass():
    files = sorted(str(p) for p in PROMTOOL_TESTS.glob("*.test.yml"))
    assert files
    result = run([binary("promtool"), "test", "rules", *files], cwd=PROMTOOL_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_tests_pin_the_coherence_threshold(tmp_path):
    """Move the coherence threshold from 0.6 to 0.5 in a copy: the recorded decay (0.55)
    no longer alerts, and the unit test must fail."""
    copy = tmp_path / "ops" / "prometheus"
    shutil.copytree(RULES_DIR, copy / "rules")
    shutil.copytree(PROMTOOL_TESTS, copy / "tests")
    path = copy / "rules" / "alerts.rules.yml"
    text = path.read_text()
    assert "uqo_global_coherence < 0.6" in text
    path.write_text(text.replace("uqo_global_coherence < 0.6", "uqo_global_coherence < 0.5"))
    result = run([binary("promtool"), "test", "rules", "fleet_scheduling.test.yml"],
                 cwd=copy / "tests")
    assert result.returncode != 0
    assert "UqoCoherenceLow" in result.stdout + result.stderr


def _unit_tests() -> list[dict]:
    return [t for p in sorted(PROMTOOL_TESTS.glob("*.test.yml"))
            for t in yaml.safe_load(p.read_text())["tests"]]


def test_every_alert_is_unit_tested_firing_and_quiet():
    fired, quiet = set(), set()
    for test in _unit_tests():
        for case in test.get("alert_rule_test", []):
            (fired if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {a["alert"] for a in alerts()}
    assert names - fired == set(), "alerts never shown firing in ops/prometheus/tests"
    assert names - quiet == set(), "alerts never shown quiet in ops/prometheus/tests"


def test_every_recording_rule_is_unit_tested_or_used():
    """A recording rule earns its place: an alert or a dashboard reads it."""
    used = set()
    for a in alerts():
        used |= names_in(a["expr"])
    for d in dashboards_module().DASHBOARDS:
        for q in dashboards_module().queries(d):
            used |= names_in(q)
    assert set(recorded()) - used == set()


def test_alerts_carry_routing_labels_and_runbooks():
    doc = (ROOT / "docs" / "operations.md").read_text()
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", doc, re.MULTILINE)}
    for a in alerts():
        labels, notes = a["labels"], a["annotations"]
        assert labels["severity"] in SEVERITY_ESCALATION, a["alert"]
        assert labels["escalation"] == SEVERITY_ESCALATION[labels["severity"]], a["alert"]
        assert labels["team"] in TEAMS, a["alert"]
        assert {"summary", "description", "runbook"} <= notes.keys(), a["alert"]
        page, _, anchor = notes["runbook"].partition("#")
        assert page == "docs/operations.md" and anchor in anchors, (a["alert"], anchor)
        assert a["alert"] in doc, f"{a['alert']} is not listed in docs/operations.md"


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_alert_names_follow_the_convention(rule):
    assert re.fullmatch(r"Uqo[A-Z][A-Za-z0-9]+", rule["alert"])
