"""Replicas over mutual TLS: two ``uqo serve`` replicas on one etcd, each with a replica
certificate from one CA (``uqo certs init --replicas 2``) and that CA as ``--client-ca`` with
client certificates required; a write sent to the follower reaches the leader, forwarded over
mutual TLS, and a client without a certificate is refused by both."""

import json
import time
import urllib.error
import urllib.request

import pytest
from uqo.control.client.etcdproc import EtcdCluster, free_port
from uqo.control.client.procs import ServerProcess
from uqo.security.certs import init_pki
from uqo.security.tls import client_context

SETTINGS = {"capacity": 64, "backend": "numpy", "auth": "false", "log_level": "warning",
            "lease_ttl_s": 1, "tick_interval_s": 0.2}


def _call(url, ctx, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_a_follower_forwards_writes_to_the_leader_over_mutual_tls(tmp_path):
    pki = tmp_path / "pki"
    init_pki(pki, hosts=["127.0.0.1"], replicas=2, agents=["agent-1"])
    me = client_context(pki / "ca.pem", pki / "agent-1.pem", pki / "agent-1.key")
    with EtcdCluster(str(tmp_path / "etcd"), members=1, election_ms=500,
                     heartbeat_ms=50) as etcd:
        procs, urls = [], []
        try:
            for i in (1, 2):
                port = free_port()
                url = f"https://127.0.0.1:{port}"
                settings = {**SETTINGS, "etcd": etcd.endpoints[0], "replica_id": f"r{i}",
                            "tls": "on", "tls_cert": pki / f"replica-{i}.pem",
                            "tls_key": pki / f"replica-{i}.key", "client_ca": pki / "ca.pem",
                            "require_client_cert": "true", "advertise_url": url}
                procs.append(ServerProcess(str(tmp_path / f"r{i}"), settings, port=port,
                                           timeout_s=90).start())
                urls.append(url)
            leader = _leader(urls, me)
            follower = urls[1 - leader]
            status, body = _call(f"{follower}/v1/tasks", me, "POST", {"task_id": "via-mtls"})
            assert status == 201, body
            assert _call(f"{urls[leader]}/v1/tasks/via-mtls", me)[0] == 200
            with pytest.raises(OSError):          # no client certificate: refused
                _call(f"{follower}/health/live", client_context(pki / "ca.pem"))
        finally:
            for proc in procs:
                proc.kill()


def _leader(urls, ctx, timeout_s=60.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for i, url in enumerate(urls):
            try:
                status, body = _call(f"{url}/v1/status", ctx)
            except (urllib.error.URLError, OSError):
                continue
            if status == 200 and body["consensus"].get("is_leader"):
                return i
        time.sleep(0.1)
    raise TimeoutError("no replica leads")


def test_a_replica_with_authentication_on_starts_and_serves(tmp_path):
    """Offline session changes (the first start's enrolment) cannot be logged before the
    replica leads: they stay local (and in force here) instead of failing the start."""
    with EtcdCluster(str(tmp_path / "etcd"), members=1, election_ms=500, heartbeat_ms=50) as etcd:
        settings = {**SETTINGS, "auth": "true", "etcd": etcd.endpoints[0], "replica_id": "r1"}
        with ServerProcess(str(tmp_path / "r1"), settings, timeout_s=90) as srv:
            headers = {**srv.auth_headers(), "Content-Type": "application/json"}
            for _ in range(100):                     # until it has elected itself
                req = urllib.request.Request(f"{srv.url}/v1/tasks", data=b'{"task_id": "t"}',
                                             headers=headers)
                try:
                    with urllib.request.urlopen(req, timeout=10) as resp:
                        assert resp.status == 201
                        break
                except urllib.error.HTTPError as exc:
                    assert exc.code == 503, exc.read()
                    time.sleep(0.1)
            else:
                raise AssertionError("never accepted a write")
