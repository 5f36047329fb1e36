"""Authentication across replicas: three ``uqo serve`` with auth on, on a 3-member etcd, each
with its own data directory (its own signing key and bootstrap admin). Each replica's token keys
are published through the replicated state (``PublishKeys``), so a token one replica issued
is accepted by the others, for a read there and for a write forwarded to the leader."""

import json
import time
import urllib.error
import urllib.request

from uqo.control.client.etcdproc import EtcdCluster
from uqo.control.client.procs import ServerProcess

SETTINGS = {"capacity": 64, "backend": "numpy", "auth": "true", "log_level": "warning",
            "lease_ttl_s": 1, "tick_interval_s": 0.2}


def _call(url, token, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _until(what, fn, timeout_s=60.0):
    """Poll ``fn`` (returns (ok, last)) until ok; the last answer names what never came."""
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        ok, last = fn()
        if ok:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what}: last answer {last}")


def _leader(procs, tokens) -> int:
    def probe():
        for i, proc in enumerate(procs):
            try:
                status, body = _call(f"{proc.url}/v1/status", tokens[i])
            except OSError:
                continue
            if status == 200 and body["consensus"].get("is_leader"):
                return True, i
        return False, None
    return _until("no replica leads", probe)


def test_a_token_issued_by_one_replica_is_accepted_by_the_others(tmp_path):
    with EtcdCluster(str(tmp_path / "etcd"), members=3, election_ms=500,
                     heartbeat_ms=50) as etcd:
        procs = []
        try:
            for i in range(3):
                settings = {**SETTINGS, "etcd": ",".join(etcd.endpoints), "replica_id": f"r{i}"}
                procs.append(ServerProcess(str(tmp_path / f"r{i}"), settings,
                                           timeout_s=90).start())
            tokens = [p.token() for p in procs]        # each logs in at its own replica
            lead = _leader(procs, tokens)
            f1, f2 = [i for i in range(3) if i != lead]
            keys = [_call(f"{p.url}/v1/keys", tokens[i])[1]["keys"][0]["key_id"]
                    for i, p in enumerate(procs)]
            assert len(set(keys)) == 3                 # three signing keys, none shared

            # the leader's token: a read at a follower, and a write through it
            _until("the leader's token at a follower",
                   lambda: _ok(_call(f"{procs[f1].url}/v1/tasks", tokens[lead])))
            status, body = _call(f"{procs[f1].url}/v1/tasks", tokens[lead], "POST",
                                 {"task_id": "from-leader-token"})
            assert status == 201, body

            # a follower's token at the other follower: the write is forwarded to the leader,
            # which verifies a token it did not issue with the key the state publishes
            _until("a follower's token at the other follower",
                   lambda: _ok(_call(f"{procs[f2].url}/v1/tasks", tokens[f1])))
            status, body = _call(f"{procs[f2].url}/v1/tasks", tokens[f1], "POST",
                                 {"task_id": "from-follower-token"})
            assert status == 201, body
            for i, proc in enumerate(procs):
                for task in ("from-leader-token", "from-follower-token"):
                    assert _call(f"{proc.url}/v1/tasks/{task}", tokens[i])[0] == 200

            # a token no replica's key signed is refused everywhere
            forged = tokens[f1][:-8] + ("A" * 8 if not tokens[f1].endswith("A" * 8) else "B" * 8)
            assert _call(f"{procs[f2].url}/v1/tasks", forged)[0] == 401
        finally:
            for proc in procs:
                proc.kill()


def _ok(answer):
    status, body = answer
    return status == 200, (status, body)
