"""TLS to etcd with the project's certificates (``uqo certs init``): mutual TLS works, and a
replica without the CA's trust is refused with a message naming the endpoint."""

import json
import time
import urllib.error
import urllib.request

import pytest
from uqo.control.client.etcdproc import EtcdCluster, EtcdTls
from uqo.control.client.procs import ServerProcess
from uqo.security.certs import init_pki

SETTINGS = {"capacity": 64, "backend": "numpy", "auth": "false", "log_level": "warning"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    out = tmp_path_factory.mktemp("pki")
    init_pki(out, hosts=["localhost", "127.0.0.1"], replicas=1, agents=["agent-1"])
    return out


def test_replica_talks_to_etcd_over_mutual_tls(tmp_path, pki):
    tls = EtcdTls(str(pki / "ca.pem"), str(pki / "server.pem"), str(pki / "server.key"),
                  str(pki / "replica-1.pem"), str(pki / "replica-1.key"))
    with EtcdCluster(str(tmp_path / "etcd"), members=1, tls=tls) as etcd:
        assert etcd.endpoints[0].startswith("https://")
        settings = {**SETTINGS, "etcd": etcd.endpoints[0], "replica_id": "r1",
                    "etcd_ca": tls.ca, "etcd_cert": tls.client_cert, "etcd_key": tls.client_key}
        with ServerProcess(str(tmp_path / "r1"), settings=settings) as srv:
            req = urllib.request.Request(f"{srv.url}/v1/tasks", data=b'{"task_id": "tls-1"}',
                                         headers={"Content-Type": "application/json"})
            for _ in range(100):                  # the single replica elects itself
                try:
                    with urllib.request.urlopen(req, timeout=10) as r:
                        assert r.status == 201
                        break
                except urllib.error.HTTPError as exc:
                    assert exc.code == 503
                    time.sleep(0.1)
            with urllib.request.urlopen(f"{srv.url}/v1/status", timeout=10) as r:
                consensus = json.loads(r.read())["consensus"]
            assert consensus["is_leader"] and consensus["endpoints"] == etcd.endpoints

        # without a client certificate etcd refuses the handshake: a clear start error
        bare = {**settings, "etcd_cert": "", "etcd_key": ""}
        srv = ServerProcess(str(tmp_path / "r2"), settings=bare, timeout_s=60)
        with pytest.raises(RuntimeError) as err:
            srv.start()
        assert "cannot reach etcd" in str(err.value) and etcd.endpoints[0] in str(err.value)
