"""End to end on the compose topology as local processes: `uqo stack up` starts a 3-member etcd
(Debian's etcd-server), three `uqo serve` replicas on it and Debian's Prometheus scraping the
three every second with a copy of our rules (``for:`` shortened to 2 s). One replica leads,
the administrator's token works on all three, and all three stay ready while idle. Then the leader is killed -9 (the fault): while
its lease runs out (``lease_ttl_s`` 15 s here) no replica leads and UqoNoLeader must fire in the
real Prometheus; a survivor is elected and the alert resolves. `uqo stack restart` then restarts
the three (the killed one too), and `uqo stack down` stops every process of the stack by PID."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ._opsfiles import binary
from .test_e2e_alerting import Http, _firing, _login, _query, _rules_copy, _until

pytestmark = pytest.mark.slow

SERVER = {"UQO_CAPACITY": "64", "UQO_BACKEND": "numpy", "UQO_TICK_INTERVAL_S": "0.25",
          "UQO_LEASE_TTL_S": "15", "UQO_LOG_LEVEL": "warning"}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


@pytest.fixture
def stack(tmp_path):
    binary("prometheus")
    binary("etcd")
    root = tmp_path / "stack"
    cmd = [sys.executable, "-m", "uqo", "stack", "up", "--dir", str(root), "--port", "0",
           "--etcd-port", "0", "--prometheus-port", "0", "--scrape-interval", "1s",
           "--rules", str(_rules_copy(tmp_path / "rules"))]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **SERVER})
    try:
        _until("stack.json", lambda: (root / "stack.json").exists() or proc.poll() is not None,
               180)
        assert proc.poll() is None, proc.stdout.read()
        state = json.loads((root / "stack.json").read_text())
        yield state
    finally:
        down = subprocess.run([sys.executable, "-m", "uqo", "stack", "down", "--dir", str(root)],
                              capture_output=True, text=True, timeout=120, check=False)
        out, _ = proc.communicate(timeout=60)
    assert down.returncode == 0, down.stderr
    assert proc.returncode == 0, out
    assert "uqo stack: stopped" in out
    pids = [state["pid"], state["prometheus"]["pid"],
            *[c["pid"] for c in state["replicas"] + state["etcd"]]]
    assert [p for p in pids if _alive(p)] == []


def _roles(stack: dict, api_token: str, skip: str = "") -> dict[str, dict]:
    roles = {}
    for r in stack["replicas"]:
        if r["name"] != skip:
            status, body = Http(r["url"], api_token).call("GET", "/v1/status")
            assert status == 200, body
            roles[r["name"]] = body["consensus"]
    return roles


def _one_leader(roles: dict[str, dict]) -> str | None:
    leaders = [name for name, c in roles.items() if c["role"] == "leader"]
    agreed = {c["leader_id"] for c in roles.values()}
    return leaders[0] if len(leaders) == 1 and agreed == set(leaders) else None


def test_killing_the_leader_fires_no_leader_then_a_survivor_leads(stack):
    assert len(stack["replicas"]) == 3 and len(stack["etcd"]) == 3
    prom = stack["prometheus"]["url"]
    first = stack["replicas"][0]
    token = _login(first["url"], first["data_dir"])
    leader = _until("one leader all three agree on", lambda: _one_leader(_roles(stack, token)),
                    30)
    _until("Prometheus to scrape three replicas and one leader", lambda: _query(
        prom, 'count(up{job="uqo"} == 1) == 3 and on() uqo:consensus_leaders:sum == 1'), 30)
    time.sleep(5)          # idle: > for: 2s, and > the 3 s a replica waits for etcd's word
    assert "UqoNoLeader" not in {a["labels"]["alertname"] for a in _firing(prom)}
    for r in stack["replicas"]:         # an idle cluster stays ready (keepalives count)
        assert Http(r["url"]).call("GET", "/health/ready", auth=False)[0] == 200, r["name"]

    (victim,) = [r for r in stack["replicas"] if r["name"] == leader]
    os.kill(victim["pid"], signal.SIGKILL)

    _until("UqoNoLeader to fire", lambda: _query(
        prom, 'max_over_time(ALERTS{alertname="UqoNoLeader",alertstate="firing"}[5m])'), 60)
    (alert,) = [a for a in _firing(prom) if a["labels"]["alertname"] == "UqoNoLeader"] or [
        _history(prom)]
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["escalation"] == "page"

    new = _until("a survivor to lead", lambda: _one_leader(
        _roles(stack, token, skip=leader)), 60)
    assert new != leader
    _until("UqoNoLeader to resolve", lambda: "UqoNoLeader" not in {
        a["labels"]["alertname"] for a in _firing(prom)}, 30)
    assert _query(prom, "uqo:consensus_leaders:sum == 1")
    assert not _alive(victim["pid"])
    for r in stack["replicas"]:
        if r["name"] != leader:
            assert _alive(r["pid"]), f"{r['name']} should still run"
    _rolling_restart_brings_all_three_back(stack, token, new)


def _rolling_restart_brings_all_three_back(stack: dict, token: str, leader: str) -> None:
    """`uqo stack restart`: every replica restarted (the killed one too), the leader last."""
    out = subprocess.run([sys.executable, "-m", "uqo", "stack", "restart", "--dir",
                          stack["dir"]], capture_output=True, text=True, timeout=600,
                         check=False)
    assert out.returncode == 0, out.stderr
    state = json.loads((Path(stack["dir"]) / "stack.json").read_text())
    old_pids = {r["pid"] for r in stack["replicas"]}
    stack["replicas"] = state["replicas"]           # the teardown checks these PIDs are gone
    assert not old_pids & {r["pid"] for r in state["replicas"]}
    assert all(_alive(r["pid"]) for r in state["replicas"])
    restarted = re.findall(r"(replica-\d) \(PID", out.stdout)
    assert sorted(restarted) == ["replica-1", "replica-2", "replica-3"]
    log = Path(stack["dir"]) / f"{leader}.log"
    assert "resigned" in log.read_text()          # the leader stepped down when stopped
    _until("one leader after the restart", lambda: _one_leader(_roles(stack, token)), 60)


def _history(prom: str) -> dict:
    """The fired alert's labels from Prometheus's ALERTS series (it may have resolved already)."""
    (series,) = _query(prom, 'last_over_time(ALERTS{alertname="UqoNoLeader"}[5m])')
    return {"labels": series["metric"]}

