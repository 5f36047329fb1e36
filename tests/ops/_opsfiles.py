"""The deployment files under test, and small readers of them shared by tests/ops."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "ops"
RULES_DIR = OPS / "prometheus" / "rules"
PROMTOOL_TESTS = OPS / "prometheus" / "tests"
PENDING_FILE = OPS / "PENDING_METRICS.md"
CONTAINERS = ROOT / "containers"
K8S = CONTAINERS / "k8s"
SETUP_HINT = ("install Debian's prometheus and prometheus-alertmanager: "
              "bash scripts/setup-system.sh (make test runs it)")

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NOT_NAMES = re.compile(r'"[^"]*"|\{[^}]*\}|\b(by|on|without|ignoring|group_left|group_right)'
                        r"\s*\([^)]*\)|\[[^\]]*\]|\b[0-9][0-9a-zA-Z.+]*")
_KEYWORDS = {"and", "or", "unless", "offset", "bool"}
_SUFFIX = re.compile(r"_(bucket|count|sum|created)$")


def binary(name: str) -> str:
    """Path of a Prometheus binary; a missing one fails, naming the setup script."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: {SETUP_HINT}")
    return path


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120, **kw)


def load_module(path: Path, name: str):
    """Import a script that is not in a package (ops/ holds tools, not uqo code), once."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module          # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules[name]


def dashboards_module():
    return load_module(OPS / "grafana" / "dashboards.py", "uqo_ops_dashboards")


def rule_groups() -> list[dict]:
    return [g for p in sorted(RULES_DIR.glob("*.yml")) for g in yaml.safe_load(p.read_text())["groups"]]


def alerts() -> list[dict]:
    return [r for g in rule_groups() for r in g["rules"] if "alert" in r]


def recorded() -> dict[str, str]:
    """Recording rule name -> its expression."""
    return {r["record"]: r["expr"] for g in rule_groups() for r in g["rules"] if "record" in r}


def pending_metrics() -> dict[str, set[str]]:
    """Section heading of ops/PENDING_METRICS.md -> the metric names of its table rows."""
    sections: dict[str, set[str]] = {}
    current = None
    for line in PENDING_FILE.read_text().splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), set())
        elif current is not None and line.startswith("| `"):
            current.add(line.split("`")[1])
    return sections


def names_in(expr: str) -> set[str]:
    """Metric names (and function names) of a PromQL expression, histogram suffixes removed:
    string literals, label matchers, label lists and ranges are dropped first."""
    names = {_SUFFIX.sub("", n) for n in _NAME.findall(_NOT_NAMES.sub(" ", expr))}
    return names - _KEYWORDS


def depends_on(expr: str, metrics: set[str], rules: dict[str, str] | None = None) -> bool:
    """Whether ``expr`` reads any of ``metrics``, directly or through recording rules."""
    rules = recorded() if rules is None else rules
    seen: set[str] = set()
    todo = [expr]
    while todo:
        names = names_in(todo.pop())
        if names & metrics:
            return True
        for name in names & rules.keys() - seen:
            seen.add(name)
            todo.append(rules[name])
    return False


def substitute(expr: str, job: str = "uqo") -> str:
    """A dashboard query as Grafana sends it with every replica selected."""
    return expr.replace("$job", job).replace("$instance", ".*").replace(
        "$__rate_interval", "1m")
