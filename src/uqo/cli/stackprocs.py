"""The processes of ``uqo stack up``: ``uqo serve`` replicas and Prometheus as children with
their output in log files, started and stopped by PID.

Use cases::

    child, url = start_replica(1, 8080, root, etcd="http://127.0.0.1:2379,...")
    child, url = start_prometheus("prometheus", prometheus_config([...], "rules", "5s"), 9090, root)
    child.stop()                       # SIGTERM, SIGKILL after 30 s
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

_READY = re.compile(r"ready on (http://\S+)")


def prometheus_config(targets: list[str], rules_dir: str, scrape: str,
                      evaluation: str | None = None) -> dict:
    """The Prometheus configuration of a stack: job ``uqo`` over ``targets`` (host:port) and
    every ``*.yml`` rule file of ``rules_dir``. JSON is YAML, so it is written as JSON."""
    return {
        "global": {"scrape_interval": scrape, "evaluation_interval": evaluation or scrape},
        "rule_files": [str(Path(rules_dir).resolve() / "*.yml")],
        "scrape_configs": [{"job_name": "uqo", "metrics_path": "/metrics",
                            "static_configs": [{"targets": targets}]}],
    }


class Child:
    """One process of the stack, its output in a log file."""

    def __init__(self, name: str, cmd: list[str], log_path: Path, env: dict | None = None):
        self.name, self.cmd, self.log_path = name, cmd, log_path
        # open for the child's lifetime, closed in stop(): no with-block can span that
        self._log = open(log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def tail(self, n: int = 20) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])


def wait_for(child: Child, probe, timeout_s: float):
    """Poll ``probe()`` until it returns a value; fail if the child exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        if not child.alive():
            break
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} did not become ready (log {child.log_path}):\n"
                       f"{child.tail()}")


def spawn_replica(index: int, port: int, root: Path, etcd: str = "") -> tuple[Child, object]:
    """Start replica ``index`` on ``port`` with data dir ``<root>/replica-<index>``, on the
    etcd cluster ``etcd`` (comma-separated endpoints) if given. Returns the child and a probe
    that yields its URL once it logs ``ready on URL``."""
    data = root / f"replica-{index}"
    data.mkdir(parents=True, exist_ok=True)
    log = root / f"replica-{index}.log"
    start = log.stat().st_size if log.exists() else 0
    cmd = [sys.executable, "-m", "uqo", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data)]
    if etcd:
        cmd += ["--etcd", etcd, "--replica-id", f"replica-{index}"]
    child = Child(f"replica {index}", cmd, log, env=dict(os.environ))

    def ready_url():
        with open(log, "rb") as f:
            f.seek(start)
            match = _READY.search(f.read().decode(errors="replace"))
        return match and match.group(1)

    return child, ready_url


def start_replica(index: int, port: int, root: Path, etcd: str = "") -> tuple[Child, str]:
    child, ready = spawn_replica(index, port, root, etcd)
    return child, wait_for(child, ready, 180.0)


def start_prometheus(binary: str, config: dict, port: int, root: Path) -> tuple[Child, str]:
    home = root / "prometheus"
    (home / "data").mkdir(parents=True, exist_ok=True)
    config_path = home / "prometheus.yml"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    url = f"http://127.0.0.1:{port}"
    cmd = [binary, f"--config.file={config_path}", f"--storage.tsdb.path={home / 'data'}",
           f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"]
    child = Child("prometheus", cmd, home / "prometheus.log")
    return child, wait_for(child, lambda: answers(f"{url}/-/ready") and url, 60.0)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def pid_runs(pid: int, needle: str) -> bool:
    """Whether process ``pid`` exists and its command line contains ``needle`` (so a PID
    reused by an unrelated process since stack.json was written is left alone)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return needle in cmdline


def stop_pid(pid: int, needle: str, timeout_s: float = 30.0) -> bool:
    """SIGTERM ``pid`` if it still runs ``needle``, SIGKILL after ``timeout_s``; True if it
    was running."""
    if not pid_runs(pid, needle):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_runs(pid, needle):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
        time.sleep(0.1)
    return True
