"""Authentication across replicas: three ``uqo serve`` with auth on, on a 3-member etcd, each
with its own data directory (its own signing key and bootstrap admin). Each replica's token keys
are published through the replicated state (``PublishKeys``), so a token one replica issued
is accepted by the others, for a read there and for a write forwarded to the leader. With a
cluster secret, accounts are replicated too (``PutAccount``): a user enrolled through the
leader logs in at a follower, and etcd never holds its TOTP secret in clear."""

import base64
import contextlib
import json
import os
import time
import urllib.error
import urllib.request

from uqo.control.client.etcdproc import EtcdCluster
from uqo.control.client.procs import ServerProcess
from uqo.security.clusterkey import write_cluster_secret
from uqo.security.totp import code_at

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


@contextlib.contextmanager
def _cluster(tmp_path, **extra):
    with EtcdCluster(str(tmp_path / "etcd"), members=3, election_ms=500,
                     heartbeat_ms=50) as etcd:
        procs = []
        try:
            for i in range(3):
                settings = {**SETTINGS, "etcd": ",".join(etcd.endpoints), "replica_id": f"r{i}",
                            **extra}
                procs.append(ServerProcess(str(tmp_path / f"r{i}"), settings,
                                           timeout_s=90).start())
            yield procs
        finally:
            for proc in procs:
                proc.kill()


def test_a_token_issued_by_one_replica_is_accepted_by_the_others(tmp_path):
    with _cluster(tmp_path) as procs:
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

        # a key rotated (through a follower: forwarded, so the leader's) is published too;
        # tokens of the old key stay valid until they expire, as on one replica
        status, rotated = _call(f"{procs[f1].url}/v1/keys/rotate", tokens[f1], "POST", {})
        assert status == 200 and rotated["key_id"] != keys[lead], rotated
        fresh = procs[lead].token(level=1)
        _until("a token of the rotated key at a follower",
               lambda: _ok(_call(f"{procs[f2].url}/v1/tasks", fresh)))
        assert _call(f"{procs[f2].url}/v1/tasks", tokens[lead])[0] == 200

        # a token no replica's key signed is refused everywhere
        forged = tokens[f1][:-8] + ("A" * 8 if not tokens[f1].endswith("A" * 8) else "B" * 8)
        assert _call(f"{procs[f2].url}/v1/tasks", forged)[0] == 401


def _ok(answer):
    status, body = answer
    return status == 200, (status, body)


def _login(url, user_id, password, secret_b32):
    body = {"user_id": user_id, "password": password,
            "mfa_token": code_at(base64.b32decode(secret_b32), time.time())}
    req = urllib.request.Request(f"{url}/v1/auth/login", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_a_user_enrolled_through_the_leader_logs_in_at_a_follower(tmp_path):
    secret = write_cluster_secret(tmp_path / "cluster-secret.key")
    with _cluster(tmp_path, cluster_secret=secret) as procs:
        tokens = [p.token() for p in procs]
        lead = _leader(procs, tokens)
        f1, f2 = [i for i in range(3) if i != lead]
        password = "correct horse battery staple"
        status, user = _call(f"{procs[lead].url}/v1/users", tokens[lead], "POST",
                             {"user_id": "ana", "role": "analyst", "clearance": 1,
                              "password": password})
        assert status == 201, user

        # acknowledged by the leader: a follower logs the user in at once (read barrier)
        status, body = _login(procs[f1].url, "ana", password, user["totp_secret"])
        assert status == 200, body
        ana = body["token"]
        assert _until("ana's token at the other follower",
                      lambda: _ok(_call(f"{procs[f2].url}/v1/tasks", ana)))[0] == 200
        status, body = _call(f"{procs[f2].url}/v1/tasks", ana, "POST", {"task_id": "by-ana",
                                                                  "classification": 1})
        assert status == 201, body
        assert _login(procs[f2].url, "ana", "wrong password 12", user["totp_secret"])[0] == 401

        # the sealed TOTP secret: etcd holds the hash but never the secret in clear
        raw = base64.b32decode(user["totp_secret"])
        stored = _files(str(tmp_path / "etcd"))
        assert b"$argon2id$" in stored
        assert raw not in stored and user["totp_secret"].encode() not in stored

        # disabled through a follower (forwarded): refused at every replica, token included
        status, body = _call(f"{procs[f2].url}/v1/users/ana/disable", tokens[f2], "POST", {})
        assert status == 200, body
        for proc in procs:
            assert _login(proc.url, "ana", password, user["totp_secret"])[0] == 401
            assert _call(f"{proc.url}/v1/tasks", ana)[0] == 401
        # removed: gone from every replica's user store
        assert _call(f"{procs[lead].url}/v1/users/ana", tokens[lead], "DELETE")[0] == 200
        for i, proc in enumerate(procs):
            _until(f"ana removed at {proc.url}",
                   lambda i=i, proc=proc: (_call(f"{proc.url}/v1/users/ana",
                                                 tokens[i])[0] == 404, None))


def _files(root: str) -> bytes:
    """Every byte etcd wrote (WAL and database) under ``root``."""
    out = []
    for folder, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(folder, name), "rb") as fh:
                out.append(fh.read())
    return b"".join(out)
