"""Bad starts of a replica: each is refused with a message naming the culprit, exit non-zero."""

import json
import os
import subprocess
import sys

import pytest
from uqo.control.client.etcdproc import EtcdCluster, free_port


def _serve(tmp_path, *args, timeout=60):
    env = {**os.environ, "UQO_AUTH": "false", "UQO_BACKEND": "numpy", "UQO_CAPACITY": "64"}
    return subprocess.run([sys.executable, "-m", "uqo", "serve", "--port", "0", *args],
                          capture_output=True, text=True, timeout=timeout, env=env, check=False,
                          cwd=tmp_path)


def test_etcd_unreachable_at_start_names_the_endpoints(tmp_path):
    endpoints = f"http://127.0.0.1:{free_port()},http://127.0.0.1:{free_port()}"
    out = _serve(tmp_path, "--etcd", endpoints, "--replica-id", "r1", "--data-dir",
                 str(tmp_path / "d"))
    assert out.returncode != 0
    assert "cannot reach etcd" in out.stderr
    for endpoint in endpoints.split(","):
        assert endpoint in out.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["--replica-id", "r1"], "--replica-id needs --etcd"),
    (["--etcd", "localhost:2379", "--replica-id", "r1"], "expected http(s)://HOST:PORT"),
    (["--etcd", "http://127.0.0.1:2379", "--replica-id", "bad/name"], "--replica-id"),
    (["--etcd", "http://127.0.0.1:2379"], "--replica-id"),
    (["--etcd", "http://127.0.0.1:2379", "--replica-id", "r1", "--etcd-ca", "/nonexistent"],
     "--etcd-ca"),
])
def test_bad_replication_flags(tmp_path, args, needle):
    out = _serve(tmp_path, *args, "--data-dir", str(tmp_path / "d"))
    assert out.returncode == 2 and needle in out.stderr


@pytest.fixture(scope="module")
def etcd(tmp_path_factory):
    with EtcdCluster(str(tmp_path_factory.mktemp("etcd")), members=1) as cluster:
        yield cluster


def test_data_dir_of_another_cluster_refuses_to_start(tmp_path, etcd):
    data = tmp_path / "d"
    data.mkdir()
    (data / "etcd-cluster.json").write_text(json.dumps({"cluster_id": "someone-else",
                                                        "prefix": "/uqo"}))
    out = _serve(tmp_path, "--etcd", etcd.endpoints[0], "--replica-id", "r1", "--data-dir",
                 str(data))
    assert out.returncode != 0
    assert "refuses to start" in out.stderr and "someone-else" in out.stderr


def test_single_node_data_dir_refuses_to_start(tmp_path, etcd):
    wal = tmp_path / "d" / "wal"
    wal.mkdir(parents=True)
    (wal / "00000001.seg").write_bytes(b"x" * 32)
    out = _serve(tmp_path, "--etcd", etcd.endpoints[0], "--replica-id", "r1", "--data-dir",
                 str(tmp_path / "d"))
    assert out.returncode != 0 and "single-node log" in out.stderr
