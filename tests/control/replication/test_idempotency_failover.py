"""Idempotency keys across a failover, on three ``uqo serve`` replicas over a real 3-member
etcd cluster: a keyed cancel sent through a follower (forwarded to the leader) is applied;
the leader is killed (-9); the retry, sent to the replica that now leads, is answered with the
first answer (``Idempotent-Replayed: true``) because the key was recorded in the replicated
state as the entry applied, and the task was cancelled once."""

import json
import urllib.error
import urllib.request

import pytest
from uqo.control.client.replicas import ReplicaCluster

pytestmark = pytest.mark.slow

KEY = "cancel-k1-7d2e"


def http(method, url, body=None, headers=None, timeout=30):
    req = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), dict(e.headers)


def test_a_keyed_cancel_retried_after_the_leader_dies_is_applied_once(tmp_path):
    with ReplicaCluster(str(tmp_path), replicas=3) as rc:
        leader = rc.leader()
        via = next(i for i in range(rc.n) if i != leader)
        base = rc.urls[via]
        assert http("POST", f"{base}/v1/agents", {"agent_id": "w1", "capacity": 4,
                                                  "capabilities": ["general"]})[0] == 201
        assert http("POST", f"{base}/v1/tasks", {"task_id": "k1"})[0] == 201
        cancel = "/v1/tasks/k1/cancel"
        status, first, _ = http("POST", base + cancel, {"reason": "stop"},
                                {"Idempotency-Key": KEY})
        assert status == 200 and first["state"] == "cancelled", first

        rc.kill(leader)
        new = rc.leader(timeout_s=30, exclude=(leader,))
        status, again, headers = http("POST", rc.urls[new] + cancel, {"reason": "stop"},
                                      {"Idempotency-Key": KEY})
        assert status == 200, again
        assert headers.get("Idempotent-Replayed") == "true"
        assert again == first
        # another request under the key is refused on the new leader too
        status, refused, _ = http("POST", rc.urls[new] + cancel, {"reason": "other"},
                                  {"Idempotency-Key": KEY})
        assert status == 422 and refused["error"]["code"] == "idempotency_key_reused"
        tasks = http("GET", f"{rc.urls[new]}/v1/tasks?state=cancelled")[1]
        assert [t["task_id"] for t in tasks["items"]] == ["k1"]
