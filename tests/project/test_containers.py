"""Container files: no Docker engine runs here, so check what can be checked without one —
every path the Dockerfile copies exists, the compose file and manifests parse, and the probes
point at the health routes the API serves."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS = ROOT / "containers"


def test_dockerfile_copies_existing_paths_and_runs_serve():
    text = (CONTAINERS / "Dockerfile").read_text()
    sources = [src for line in re.findall(r"^COPY (.+)$", text, re.MULTILINE)
               for src in line.split()[:-1]]
    assert sources
    for src in sources:
        assert (ROOT / src).exists(), src
    assert '"uqo", "serve"' in text and "USER uqo" in text


def test_compose_and_manifests_parse_and_probe_health_routes():
    compose = yaml.safe_load((CONTAINERS / "docker-compose.yml").read_text())
    assert compose["services"]["uqo"]["build"]["dockerfile"] == "containers/Dockerfile"
    docs = list(yaml.safe_load_all((CONTAINERS / "k8s" / "uqo.yaml").read_text()))
    kinds = {d["kind"] for d in docs}
    assert kinds == {"Service", "StatefulSet"}
    (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
