"""The containers speak the server's language: every ``UQO_*`` name in containers/ (compose,
Kubernetes, Dockerfiles, scripts) is one the code reads, either a setting of ``uqo serve``
(``UQO_`` + a ``ServerConfig`` field, ``uqo.control.config``) or a name the sources look up
literally (``"UQO_HSM_PIN"``) or a script of containers/ reads (``${UQO_HSM_SO_PIN}``). A
misspelt name would otherwise be ignored in silence and the replica would start on defaults
(once: UQO_NODE_ID and UQO_ETCD_ENDPOINTS, which nothing read). Also: the health checks and
scrapes use the scheme the server will serve with the containers' settings."""

import os
import re
import sys
from pathlib import Path

import msgspec
import opentelemetry.sdk.environment_variables as otel_sdk_env
import pytest
import yaml
from uqo.control.config import _OTEL, ServerConfig, consensus_of, load_config
from uqo.control.server.tls import plan_tls

from uqo.cli.control import _check_replication

from ._k8spki import mounted
from ._opsfiles import CONTAINERS, K8S, ROOT, run

_NAME = re.compile(r"\bUQO_[A-Z0-9_]*[A-Z0-9]\b")
_LITERAL = re.compile(r"""["'](UQO_[A-Z0-9_]*[A-Z0-9])["']""")
_SHELL_READ = re.compile(r"\$\{?(UQO_[A-Z0-9_]*[A-Z0-9])")
SOURCES = ["control", "security", "engine", "kernels", "bench", "src/uqo"]


def _read_by_code() -> dict[str, str]:
    """Every UQO_* name the code reads, with where it is read."""
    names = {f"UQO_{f.name.upper()}": "a uqo serve setting"
             for f in msgspec.structs.fields(ServerConfig)}
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            for name in _LITERAL.findall(path.read_text()):
                names.setdefault(name, str(path.relative_to(ROOT)))
    for path in CONTAINERS.rglob("*.sh"):
        for name in _SHELL_READ.findall(path.read_text()):
            names.setdefault(name, str(path.relative_to(ROOT)))
    return names


def _compose_env() -> dict[str, dict]:
    doc = yaml.safe_load((CONTAINERS / "docker-compose.yml").read_text())   # merges <<: anchors
    return {name: svc.get("environment") or {} for name, svc in doc["services"].items()}


def _k8s_env() -> dict[str, list[dict]]:
    out = {}
    for path in K8S.glob("*.yaml"):
        for obj in yaml.safe_load_all(path.read_text()):
            spec = ((obj or {}).get("spec") or {}).get("template", {}).get("spec", {})
            for c in spec.get("containers", []):
                out[f"{obj['metadata']['name']}/{c['name']}"] = c.get("env", [])
    return out


def _dockerfile_env() -> set[str]:
    names = set()
    for path in CONTAINERS.glob("Dockerfile.*"):
        if path.suffix != ".dockerignore":
            text = path.read_text().replace("\\\n", " ")
            for line in text.splitlines():
                if line.startswith("ENV "):
                    names |= set(re.findall(r"(UQO_[A-Z0-9_]+)=", line))
    return names


def test_the_code_reads_the_settings_the_replicas_need():
    read = _read_by_code()
    for name in ("UQO_ETCD", "UQO_REPLICA_ID", "UQO_ADVERTISE_URL", "UQO_OTLP_ENDPOINT",
                 "UQO_HSM_PIN", "UQO_HSM_MODULE", "UQO_BACKEND", "UQO_INSECURE"):
        assert name in read
    assert "UQO_NODE_ID" not in read and "UQO_ETCD_ENDPOINTS" not in read


def test_every_parsed_environment_name_is_read_by_the_code():
    read = _read_by_code()
    used = {f"compose {svc}: {k}" for svc, env in _compose_env().items() for k in env}
    used |= {f"k8s {c}: {e['name']}" for c, env in _k8s_env().items() for e in env}
    used |= {f"Dockerfile: {n}" for n in _dockerfile_env()}
    assert any("UQO_REPLICA_ID" in u for u in used)         # the parsers found the settings
    unknown = sorted(u for u in used if u.split(": ")[1].startswith("UQO_")
                     and u.split(": ")[1] not in read)
    assert unknown == [], f"UQO_* names nothing reads: {unknown}"


def test_every_uqo_name_anywhere_in_containers_is_read_by_the_code():
    read = _read_by_code()
    unknown = sorted({f"{p.relative_to(ROOT)}: {n}" for p in CONTAINERS.rglob("*")
                      if p.is_file() for n in _NAME.findall(p.read_text(errors="replace"))
                      if n not in read})
    assert unknown == [], f"UQO_* names nothing reads: {unknown}"


def test_each_compose_replica_has_its_own_id_and_url_on_the_etcd_members():
    envs = _compose_env()
    replicas = sorted(s for s, env in envs.items() if "UQO_REPLICA_ID" in env)
    assert replicas == ["uqo-1", "uqo-2", "uqo-3"]
    members = sorted(s for s in envs if s.startswith("etcd-"))
    for name in replicas:
        env = envs[name]
        assert env["UQO_REPLICA_ID"] == name
        assert env["UQO_ADVERTISE_URL"] == f"http://{name}:8080"
        assert sorted(u.split("//")[1].split(":")[0] for u in env["UQO_ETCD"].split(",")) \
            == members


# What a replica on etcd needs set (docs/replication.md): the log, its name, the URL followers
# forward to, and the cluster secret without which enrolled accounts stay on one replica.
REPLICATED = ("etcd", "replica_id", "advertise_url", "cluster_secret")
CLUSTER_DIR = "/var/lib/uqo-cluster"


def _compose_volumes(service: str) -> list[str]:
    doc = yaml.safe_load((CONTAINERS / "docker-compose.yml").read_text())
    return doc["services"][service].get("volumes", [])


def _run_cluster_init(volume: Path) -> None:
    """Compose's cluster-init command (our CLI) with its volume at ``volume``, twice: the
    second run finds the secret and changes nothing."""
    doc = yaml.safe_load((CONTAINERS / "docker-compose.yml").read_text())
    shell, flag, script = doc["services"]["cluster-init"]["command"]
    assert f"cluster:{CLUSTER_DIR}" in _compose_volumes("cluster-init")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for _ in range(2):
        done = run([shell, flag, script.replace(CLUSTER_DIR, str(volume))], env=env)
        assert done.returncode == 0, done.stderr
    assert (volume / "cluster-secret.key").is_file()


def test_compose_replicas_have_every_setting_replication_needs(tmp_path):
    _run_cluster_init(tmp_path / "cluster")
    replicas = sorted(s for s, env in _compose_env().items() if "UQO_REPLICA_ID" in env)
    assert replicas
    for name in replicas:
        assert f"cluster:{CLUSTER_DIR}:ro" in _compose_volumes(name)
        env = {k: str(v).replace(CLUSTER_DIR, str(tmp_path / "cluster"))
               for k, v in _compose_env()[name].items()}
        cfg = load_config(env=env, overrides={"data_dir": str(tmp_path / name)})
        assert consensus_of(cfg) == "etcd"
        assert [s for s in REPLICATED if not getattr(cfg, s)] == [], name
        assert _check_replication(cfg) is None                # the server's own start check


def test_compose_replicas_set_only_variables_something_reads():
    """UQO_* names are checked above; the others must be OpenTelemetry's, read by our
    configuration (the exporter) or the OpenTelemetry SDK (service name, resource)."""
    otel = {n for names in _OTEL.values() for n in names}
    otel |= {n for n in dir(otel_sdk_env) if n.startswith("OTEL_")}
    for name, env in _compose_env().items():
        if "UQO_REPLICA_ID" in env:
            unknown = [k for k in env if not k.startswith("UQO_") and k not in otel]
            assert unknown == [], f"{name}: nothing reads {unknown}"


def _plan(env: dict, tmp_path) -> str:
    env = {k: str(v) for k, v in env.items() if k.startswith("UQO_") and k in _read_by_code()}
    cfg = load_config(env=env, overrides={"host": "0.0.0.0", "port": 8080,
                                          "data_dir": str(tmp_path)})
    return plan_tls(cfg).scheme


def test_compose_health_checks_and_scrapes_speak_the_served_scheme(tmp_path):
    scheme = _plan(_compose_env()["uqo-1"], tmp_path)
    dockerfile = (CONTAINERS / "Dockerfile.cuda").read_text()
    assert f"'{scheme}://127.0.0.1:8080/health/ready'" in dockerfile
    prometheus = yaml.safe_load((ROOT / "ops" / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in prometheus["scrape_configs"] if j["job_name"] == "uqo"]
    assert job.get("scheme", "http") == scheme


@pytest.mark.parametrize("probe", ["livenessProbe", "readinessProbe", "startupProbe"])
def test_k8s_probes_and_scrapes_speak_the_served_scheme(k8s_secret, tmp_path, probe):
    docs = [d for d in yaml.safe_load_all((K8S / "uqo.yaml").read_text()) if d]
    (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    scheme = plan_tls(mounted(0, k8s_secret[1], tmp_path)).scheme     # with the Secret's files
    assert c[probe]["httpGet"].get("scheme", "HTTP") == scheme.upper()
    monitor = yaml.safe_load((K8S / "servicemonitor.yaml").read_text())
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint.get("scheme", "http") == scheme
