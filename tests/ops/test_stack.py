"""`uqo stack up`: bad arguments are refused with a message naming them and start nothing; the
Prometheus configuration it writes is valid for promtool; Prometheus dying takes the stack
down with exit 1 and no process left behind. (The healthy path, SIGTERM and a replica killed
on etcd are covered by test_e2e_alerting.py and test_e2e_failover.py.)"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from uqo.cli.stack import prometheus_config

from ._opsfiles import RULES_DIR, binary, run


def _uqo(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "uqo", *args], cwd=cwd)


@pytest.mark.parametrize(("args", "named"), [
    (["--replicas", "3", "--etcd-members", "0"], "--replicas 3 with --etcd-members 0"),
    (["--replicas", "0"], "--replicas 0"),
    (["--etcd-members", "-1"], "--etcd-members -1"),
    (["--etcd-port", "70000"], "--etcd-port 70000"),
    (["--scrape-interval", "5 seconds"], "--scrape-interval '5 seconds'"),
    (["--prometheus-port", "70000"], "--prometheus-port 70000"),
    (["--rules", "no/such/dir"], "--rules 'no/such/dir'"),
    (["--prometheus-bin", "no-such-prometheus"], "scripts/setup-system.sh"),
])
def test_bad_arguments_are_refused_before_anything_starts(tmp_path, args, named):
    result = _uqo("stack", "up", "--dir", str(tmp_path / "s"), "--rules", str(RULES_DIR), *args)
    assert result.returncode == 2
    assert named in result.stderr
    assert not (tmp_path / "s").exists()


def test_more_replicas_without_etcd_are_refused_with_the_reason():
    result = _uqo("stack", "up", "--replicas", "3", "--etcd-members", "0")
    assert "etcd-replicated log" in result.stderr


def test_down_without_a_stack_names_the_directory(tmp_path):
    result = _uqo("stack", "down", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert str(tmp_path) in result.stderr and "stack.json" in result.stderr


def test_written_config_passes_promtool(tmp_path):
    config = prometheus_config(["127.0.0.1:8080", "127.0.0.1:8081"], str(RULES_DIR), "1s")
    path = tmp_path / "prometheus.yml"
    path.write_text(json.dumps(config))
    result = run([binary("promtool"), "check", "config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rule files found" in result.stdout
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "uqo"         # the job the rules and dashboards select


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
def test_a_dying_child_stops_the_stack(tmp_path):
    binary("prometheus")
    cmd = [sys.executable, "-m", "uqo", "stack", "up", "--dir", str(tmp_path), "--port", "0",
           "--replicas", "1", "--etcd-members", "0", "--prometheus-port", "0",
           "--rules", str(RULES_DIR)]
    env = {**os.environ, "UQO_CAPACITY": "64", "UQO_BACKEND": "numpy"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    try:
        deadline = time.monotonic() + 180
        while not (tmp_path / "stack.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.2)
        state = json.loads((tmp_path / "stack.json").read_text())
        os.kill(state["prometheus"]["pid"], signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out
    assert "prometheus exited" in out
    assert _gone(state["replicas"][0]["pid"])
