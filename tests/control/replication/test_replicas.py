"""Three ``uqo serve`` replicas on a real 3-member etcd cluster: roles, forwarding, 307,
linearizable and stale reads, status, snapshots and compaction, etcd lost while running."""

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest
from uqo.control.client.replicas import ReplicaCluster
from uqo.control.sdk.client import UnifiedOrchestrator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rc(tmp_path_factory):
    # replica 2 answers follower writes with 307; small snapshots so compaction happens
    with ReplicaCluster(str(tmp_path_factory.mktemp("rc")), replicas=3,
                        settings={"snapshot_every": 40},
                        overrides={2: {"follower_writes": "redirect"}}) as cluster:
        yield cluster


def http(method, url, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), dict(e.headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _followers(rc, leader):
    return [i for i in range(rc.n) if i != leader]


def test_one_leader_and_status(rc):
    leader = rc.leader()
    roles = [rc.status(i)["consensus"]["role"] for i in range(rc.n)]
    assert roles.count("leader") == 1 and roles.count("follower") == 2
    c = rc.status(_followers(rc, leader)[0])["consensus"]
    assert c["mode"] == "etcd" and c["leader_id"] == f"r{leader}"
    assert c["leader_url"] == rc.urls[leader] and c["term"] > 0
    assert c["lease"]["ttl_s"] >= 1 and c["healthy"] is True
    assert {"applied_revision", "applied_index", "replicas"} <= set(c)


def test_writes_through_a_follower_are_forwarded_and_read_everywhere(rc):
    leader = rc.leader()
    forwarding = [i for i in _followers(rc, leader) if i != 2]
    via = forwarding[0]                   # replica 2 redirects; one of 0, 1 forwards
    status, body, headers = http("POST", f"{rc.urls[via]}/v1/tasks", {"task_id": "fw-1"})
    assert status == 201 and body["task_id"] == "fw-1"
    assert headers.get("X-Uqo-Leader") == rc.urls[leader]
    for i in range(rc.n):        # linearizable by default: visible at once on every replica
        status, body, _ = http("GET", f"{rc.urls[i]}/v1/tasks/fw-1")
        assert status == 200 and body["task_id"] == "fw-1"


def _move_leadership_off(rc, i):
    """Pause replica ``i`` past its lease so another one leads, then wake it (a follower)."""
    if rc.leader() != i:
        return
    rc.pause(i)
    try:
        rc.leader(exclude=(i,))
    finally:
        rc.resume(i)


def test_redirecting_follower_answers_307_with_the_leader(rc):
    _move_leadership_off(rc, 2)
    leader = rc.leader(exclude=(2,))
    time.sleep(0.5)                       # replica 2 has seen the new leader's key
    opener = urllib.request.build_opener(_NoRedirect)
    req = urllib.request.Request(f"{rc.urls[2]}/v1/tasks", data=b'{"task_id": "rd-1"}',
                                 method="POST", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        opener.open(req, timeout=10)
    assert err.value.code == 307
    assert err.value.headers["Location"] == f"{rc.urls[leader]}/v1/tasks"


def test_sdk_follows_307_and_fails_over_from_a_dead_endpoint(rc):
    async def go():
        dead = "http://127.0.0.1:9"           # nothing listens: the client moves on
        async with UnifiedOrchestrator([dead, rc.urls[2], *rc.urls[:2]], retries=6) as uo:
            tid = await uo.submit_task(task_id="sdk-1")
            assert tid == "sdk-1"
            assert (await uo.get_task("sdk-1"))["task_id"] == "sdk-1"
            assert uo.failovers >= 1 and uo.base_url != dead
    asyncio.run(go())


def test_stale_reads_opt_out_and_bad_values_are_refused(rc):
    follower = _followers(rc, rc.leader())[0]
    status, _, _ = http("GET", f"{rc.urls[follower]}/v1/tasks?stale=true&limit=5")
    assert status == 200
    status, body, _ = http("GET", f"{rc.urls[follower]}/v1/tasks?stale=maybe")
    assert status == 400 and body["error"]["field"] == "stale"


def test_snapshots_are_written_and_a_cut_off_follower_reloads_after_compaction(rc):
    leader = rc.leader()
    follower = next(iter(_followers(rc, leader)))
    rc.partition(follower)
    try:
        for k in range(6):                    # > 2 snapshots of 40 entries: compaction passes
            http("POST", f"{rc.urls[leader]}/v1/tasks/batch",
                 {"tasks": [{"task_id": f"sn-{k}-{j}"} for j in range(5)]})
            for j in range(20):
                http("POST", f"{rc.urls[leader]}/v1/tasks", {"task_id": f"sn1-{k}-{j}"})
        c = rc.status(leader)["consensus"]
        assert c["snapshots_written"] >= 2 and c["snapshot_index"] > 0
    finally:
        rc.heal(follower)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        c = rc.status(follower)["consensus"]
        if c["snapshot_reloads"] >= 1 and c["applied_index"] >= rc.status(
                leader)["consensus"]["applied_index"]:
            break
        time.sleep(0.2)
    assert c["snapshot_reloads"] >= 1
    status, _body, _ = http("GET", f"{rc.urls[follower]}/v1/tasks/sn1-5-19")
    assert status == 200


def test_replica_cut_from_etcd_turns_unready_and_answers_503_with_retry_after(rc):
    leader = rc.leader()
    follower = _followers(rc, leader)[0]
    rc.partition(follower)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status, _, _ = http("GET", f"{rc.urls[follower]}/health/ready")
            if status == 503:
                break
            time.sleep(0.2)
        assert status == 503
        status, body, headers = http("GET", f"{rc.urls[follower]}/v1/tasks/fw-1", timeout=30)
        assert status == 503 and headers.get("Retry-After")
        assert "stale=true" in body["error"]["message"]
    finally:
        rc.heal(follower)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if http("GET", f"{rc.urls[follower]}/health/ready")[0] == 200:
            break
        time.sleep(0.2)
    assert http("GET", f"{rc.urls[follower]}/health/ready")[0] == 200


def test_leader_cut_from_etcd_stops_and_another_takes_over(rc):
    leader = rc.leader()
    rc.partition(leader)
    try:
        new = rc.leader(timeout_s=20, exclude=(leader,))
        assert new != leader
        status, _body, headers = http("POST", f"{rc.urls[leader]}/v1/tasks",
                                     {"task_id": "cut-1"}, timeout=30)
        # the cut-off replica knows it does not lead: it forwards (if it has heard of the
        # new leader) or answers 503 with a retry hint; it never acknowledges on its own
        assert status in (201, 503)
        if status == 503:
            assert headers.get("Retry-After")
    finally:
        rc.heal(leader)
    st = http("GET", f"{rc.urls[new]}/v1/status")[1]["consensus"]
    assert st["is_leader"] is True


def test_cluster_status_command(rc, capsys):
    from uqo.cli.main import main

    leader = rc.leader()
    time.sleep(1.2)                        # every replica has published its presence
    assert main(["cluster", "status", "--etcd", ",".join(rc.etcd.endpoints), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["leader"]["replica_id"] == f"r{leader}"
    assert doc["leader"]["url"] == rc.urls[leader]
    assert sum(m["is_leader"] for m in doc["members"] if m["reachable"]) == 1
    assert {r["replica_id"] for r in doc["replicas"]} == {"r0", "r1", "r2"}
    assert all(r["lag_entries"] >= 0 for r in doc["replicas"])
    assert main(["cluster", "status", "--etcd", ",".join(rc.etcd.endpoints)]) == 0
    table = capsys.readouterr().out
    assert f"leader: r{leader} at {rc.urls[leader]}" in table
