"""Kubernetes manifests (containers/k8s): every built-in object validates strictly against the
Kubernetes schemas that kubernetes-validate ships (oldest and newest version we support), the
Prometheus Operator objects against their CRD schemas (tests/ops/schemas), and the pieces fit:
the StatefulSet's headless service, probes, GPU limits, disruption budget, network policy and
ServiceMonitor all select the same pods and ports; the PrometheusRule is our rule files."""

import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from ._opsfiles import K8S, rule_groups

K8S_VERSIONS = ("1.30", "1.37")          # oldest and newest supported
NAMESPACE = "agi-orchestrator"
CRD_SCHEMAS = Path(__file__).parent / "schemas"


def _objects() -> list[dict]:
    return [doc for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def _one(kind: str, name: str) -> dict:
    (obj,) = [o for o in _objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def _crd_validator(kind: str):
    schema = json.loads((CRD_SCHEMAS / f"{kind.lower()}-monitoring-v1.json").read_text())
    # Draft 4 as OpenAPI v3 schemas are; no check_schema: CRD patterns are Go RE2 syntax.
    return jsonschema.Draft4Validator(schema)


def test_kustomization_lists_every_manifest():
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(listed["resources"]) == files and listed["namespace"] == NAMESPACE


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_builtin_objects_validate_strictly(version):
    builtin = [o for o in _objects() if not o["apiVersion"].startswith("monitoring.coreos.com")]
    assert {o["kind"] for o in builtin} >= {"Namespace", "StatefulSet", "Service",
                                            "PodDisruptionBudget", "NetworkPolicy"}
    for obj in builtin:
        kubernetes_validate.validate(obj, version, strict=True)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]


def test_strict_validation_rejects_a_misspelt_probe():
    sts = _one("StatefulSet", "uqo")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(sts, K8S_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("kind", ["ServiceMonitor", "PrometheusRule"])
def test_operator_objects_validate_against_their_crds(kind):
    validator = _crd_validator(kind)
    (obj,) = [o for o in _objects() if o["kind"] == kind]
    assert [e.message for e in validator.iter_errors(obj)] == []
    broken = json.loads(json.dumps(obj))
    broken["spec"]["unknownField"] = 1
    assert list(validator.iter_errors(broken))


def test_prometheusrule_is_exactly_our_rule_files():
    (obj,) = [o for o in _objects() if o["kind"] == "PrometheusRule"]
    assert obj["spec"]["groups"] == rule_groups()


def test_statefulset_headless_service_and_probes():
    sts = _one("StatefulSet", "uqo")
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["replicas"] == 3
    svc = _one("Service", sts["spec"]["serviceName"])
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    pod = sts["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (c,) = pod["containers"]
    port_names = {p["name"] for p in c["ports"]}
    assert c["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert c["startupProbe"]["httpGet"]["path"] == "/health/live"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["port"] in port_names
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert c["securityContext"]["allowPrivilegeEscalation"] is False


def test_etcd_has_three_members_named_in_its_initial_cluster():
    sts = _one("StatefulSet", "etcd")
    assert sts["spec"]["replicas"] == 3
    env = {e["name"]: e.get("value") for e in sts["spec"]["template"]["spec"]["containers"][0]
           ["env"]}
    members = [m.split("=")[0] for m in env["ETCD_INITIAL_CLUSTER"].split(",")]
    assert members == ["etcd-0", "etcd-1", "etcd-2"]
    uqo_env = {e["name"]: e.get("value") for e in _one("StatefulSet", "uqo")["spec"]["template"]
               ["spec"]["containers"][0]["env"]}
    assert uqo_env["UQO_ETCD"].count(".etcd.agi-orchestrator.svc:2379") == 3


@pytest.mark.parametrize("name", ["uqo", "etcd"])
def test_disruption_budgets_keep_a_quorum(name):
    pdb = _one("PodDisruptionBudget", name)
    sts = _one("StatefulSet", name)
    assert pdb["spec"]["selector"] == sts["spec"]["selector"]
    assert pdb["spec"]["maxUnavailable"] == 1 < sts["spec"]["replicas"] // 2 + 1


def test_network_policy_admits_the_api_and_metrics_port():
    policy = _one("NetworkPolicy", "uqo")
    sts = _one("StatefulSet", "uqo")
    assert policy["spec"]["podSelector"] == sts["spec"]["selector"]
    ports = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert ports == {8080}
    egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert {2379, 53} <= egress_ports


def test_servicemonitor_scrapes_the_headless_service_as_job_uqo():
    monitor = _one("ServiceMonitor", "uqo")
    svc = _one("Service", "uqo")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in svc["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert svc["metadata"]["labels"][monitor["spec"]["jobLabel"]] == "uqo"   # rules use job="uqo"
    api = _one("Service", "uqo-api")     # not also scraped (every series would count twice)
    assert not monitor["spec"]["selector"]["matchLabels"].items() <= api["metadata"]["labels"].items()
