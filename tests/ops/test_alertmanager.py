"""Alertmanager routing (ops/alertmanager/alertmanager.yml): amtool accepts the file, and every
alert of our rules reaches the receiver its team and escalation labels promise."""

import pytest

from ._opsfiles import OPS, alerts, binary, run

CONFIG = OPS / "alertmanager" / "alertmanager.yml"


def expected_receiver(labels: dict) -> str:
    """The policy docs/operations.md states, written independently of the routing tree."""
    if labels["team"] == "security":
        return "security-pager" if labels["escalation"] == "page" else "security-queue"
    if labels["escalation"] == "page":
        return "oncall-pager"
    return f"{labels['team']}-queue"


def test_amtool_accepts_the_config():
    result = run([binary("amtool"), "check-config", str(CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 receivers" in result.stdout


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_each_alert_reaches_its_receiver(rule):
    labels = {"alertname": rule["alert"], "job": "uqo", **rule["labels"]}
    result = run([binary("amtool"), "config", "routes", "test", f"--config.file={CONFIG}",
                  f"--verify.receivers={expected_receiver(labels)}",
                  *(f"{k}={v}" for k, v in labels.items())])
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_expectation_is_reported():
    result = run([binary("amtool"), "config", "routes", "test", f"--config.file={CONFIG}",
                  "--verify.receivers=oncall-pager", "team=security", "escalation=page"])
    assert result.returncode != 0
