"""The Kubernetes replicas can forward writes to the leader as deployed: the command that
kustomization.yaml documents (our own ``uqo certs init``) makes every file its secretGenerator
names; the Secret built from them validates; the StatefulSet mounts it and sets settings that
``uqo serve`` reads (through ``load_config``, so a renamed setting or variable fails here); and
with those files, two pods' TLS plans complete a mutual TLS handshake on the leader's name.

kustomize itself is not needed: the Secret is assembled here as its secretGenerator does
(``key=path`` entries, base64 data); the name suffix kustomize adds is rewritten into the
StatefulSet by kustomize and does not matter to the checks."""

import ssl

import kubernetes_validate
import pytest
from cryptography import x509
from uqo.control.config import load_config
from uqo.control.server.tls import plan_tls

from uqo.cli.control import _check_replication

from ._k8spki import mounted, pod_env
from .test_k8s import K8S_VERSIONS, NAMESPACE


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_generated_secret_validates(k8s_secret, version):
    obj, _ = k8s_secret
    kubernetes_validate.validate(obj, version, strict=True)
    assert obj["metadata"]["namespace"] == NAMESPACE
    assert "ca.key" not in obj["data"]                  # the CA's key stays out of the cluster


@pytest.mark.parametrize("index", range(3))
def test_each_pod_mounts_the_secret_and_sets_what_the_server_reads(k8s_secret, tmp_path, index):
    obj, _ = k8s_secret
    pod, env, name = pod_env(index)
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == obj["metadata"]["name"]
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    cfg = load_config(env=env, overrides={"host": "0.0.0.0", "data_dir": str(tmp_path)})
    needed = {"tls_cert": f"{name}.pem", "tls_key": f"{name}.key", "client_ca": "ca.pem",
              "cluster_secret": "cluster-secret.key"}
    for setting, key in needed.items():
        assert getattr(cfg, setting) == f"{mount['mountPath']}/{key}", setting
        assert key in obj["data"], key
    assert cfg.etcd and cfg.replica_id == name and cfg.advertise_url


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, host: str) -> dict:
    """A TLS handshake in memory; returns the client certificate the server saw."""
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    cli = client.wrap_bio(c_in, c_out, server_hostname=host)
    done = {"srv": False, "cli": False}
    for _ in range(20):
        for key, end in (("cli", cli), ("srv", srv)):
            if not done[key]:
                try:
                    end.do_handshake()
                    done[key] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return srv.getpeercert()
    raise AssertionError("handshake did not finish")


def test_a_follower_forwards_to_the_leader_over_mutual_tls(k8s_secret, tmp_path):
    _, files = k8s_secret
    leader, follower = mounted(0, files, tmp_path), mounted(1, files, tmp_path)
    leader_plan, follower_plan = plan_tls(leader), plan_tls(follower)
    assert leader_plan.scheme == follower_plan.scheme == "https"
    assert _check_replication(leader) is None is _check_replication(follower)   # start checks
    host = leader.advertise_url.split("//")[1].split(":")[0]    # uqo-0.uqo.agi-orchestrator.svc
    seen = _handshake(leader_plan.context, follower_plan.forward, host)
    assert ("URI", "uqo://replica/replica-2") in seen["subjectAltName"]


def test_every_certificate_names_every_pod_and_the_api_service(k8s_secret):
    _, files = k8s_secret
    hosts = {f"uqo-{i}.uqo.{NAMESPACE}.svc" for i in range(3)} | {f"uqo-api.{NAMESPACE}.svc"}
    for key in ("uqo-0.pem", "uqo-1.pem", "uqo-2.pem"):
        cert = x509.load_pem_x509_certificate(files[key].read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert hosts <= set(san.get_values_for_type(x509.DNSName)), key


def test_the_network_policy_lets_a_follower_reach_the_leader():
    from .test_k8s import _one

    policy, sts = _one("NetworkPolicy", "uqo"), _one("StatefulSet", "uqo")
    labels = sts["spec"]["template"]["metadata"]["labels"]
    port = sts["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    out = [rule for rule in policy["spec"]["egress"]
           if any(p["port"] == port for p in rule["ports"])
           and any(t.get("podSelector", {}).get("matchLabels", {}).items() <= labels.items()
                   and "namespaceSelector" not in t for t in rule["to"])]
    inbound = [rule for rule in policy["spec"]["ingress"]
               if any(p["port"] == port for p in rule["ports"])
               and any(f.get("podSelector") == {} for f in rule["from"])]
    assert out and inbound, "replicas cannot reach each other's API port (forwarding)"
