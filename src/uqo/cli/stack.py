"""``uqo stack up``: the deployment's topology as local processes, for development and the
end-to-end alerting test.

Use cases::

    uqo stack up                                   # 1 replica on :8080, Prometheus on :9090
    uqo stack up --dir /tmp/s --port 0 --prometheus-port 0 --scrape-interval 1s
    cat ./uqo-stack/stack.json                     # URLs, PIDs, data dirs, log files

It starts ``uqo serve`` replicas and a Prometheus (Debian's ``prometheus``, installed by
``scripts/setup-system.sh``) that scrapes them as job ``uqo`` and evaluates the rules in
``ops/prometheus/rules``, writes ``<dir>/stack.json`` once everything answers, and runs until
Ctrl-C or SIGTERM, then stops Prometheus and the replicas (SIGTERM, SIGKILL after 30 s). If a
child exits on its own the stack stops and the command exits 1. ``UQO_*`` settings in the
environment reach every replica, as they would reach ``uqo serve``.

The topology of ``containers/docker-compose.yml`` is 3 replicas on a 3-member etcd; this build
has only the single-node log, so ``--replicas`` above 1 is refused with that reason until etcd
replication lands (docs/operations.md, "Local stack", has the plan).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

_DURATION = re.compile(r"^[0-9]+(ms|s|m|h)$")
_READY = re.compile(r"ready on (http://\S+)")
MAX_REPLICAS_NOW = 1          # until `uqo serve` can join an etcd-replicated log


def add_commands(sub, bench) -> None:
    p = sub.add_parser("stack", help="run the deployment topology as local processes")
    actions = p.add_subparsers(dest="stack_action", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    up = actions.add_parser("up", help="start replicas and Prometheus; Ctrl-C stops them")
    up.add_argument("--dir", default="./uqo-stack",
                    help="data, logs and stack.json (default ./uqo-stack)")
    up.add_argument("--replicas", type=int, default=1, help="uqo serve replicas (default 1)")
    up.add_argument("--port", type=int, default=8080,
                    help="first replica's port, the next ones follow (0: free ports)")
    up.add_argument("--prometheus-port", type=int, default=9090, help="0 picks a free one")
    up.add_argument("--rules", default="ops/prometheus/rules",
                    help="directory of Prometheus rule files (*.yml)")
    up.add_argument("--scrape-interval", default="5s", help="e.g. 1s, 15s (default 5s)")
    up.add_argument("--evaluation-interval", help="rule evaluation (default: scrape interval)")
    up.add_argument("--prometheus-bin", default="prometheus", help="the Prometheus server")
    up.set_defaults(func=_up)


def _fail(message: str) -> int:
    print(f"uqo stack: {message}", file=sys.stderr)
    return 2


def _check(args) -> str | None:
    """The first thing wrong with the arguments, as a message naming it; None if all is well."""
    if args.replicas < 1:
        return f"--replicas {args.replicas}: at least 1"
    if args.replicas > MAX_REPLICAS_NOW:
        return (f"--replicas {args.replicas}: more than one replica needs the etcd-replicated "
                "log, which this build of uqo serve does not have yet; use --replicas 1")
    for flag, value in (("--scrape-interval", args.scrape_interval),
                        ("--evaluation-interval", args.evaluation_interval)):
        if value is not None and not _DURATION.match(value):
            return f"{flag} {value!r}: a Prometheus duration such as 500ms, 5s or 1m"
    for flag, port in (("--port", args.port), ("--prometheus-port", args.prometheus_port)):
        if not 0 <= port <= 65535:
            return f"{flag} {port}: 0..65535"
    rules = Path(args.rules)
    if not rules.is_dir() or not list(rules.glob("*.yml")):
        return f"--rules {args.rules!r}: no directory with *.yml rule files there"
    if shutil.which(args.prometheus_bin) is None:
        return (f"--prometheus-bin {args.prometheus_bin!r} not found: install Debian's "
                "prometheus (bash scripts/setup-system.sh, or apt-get install prometheus)")
    return None


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def _wait(child: Child, probe, timeout_s: float):
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


def start_replica(index: int, port: int, root: Path) -> tuple[Child, str]:
    data = root / f"replica-{index}"
    data.mkdir(parents=True, exist_ok=True)
    log = root / f"replica-{index}.log"
    start = log.stat().st_size if log.exists() else 0
    cmd = [sys.executable, "-m", "uqo", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data)]
    child = Child(f"replica {index}", cmd, log, env=dict(os.environ))

    def ready_url():
        with open(log, "rb") as f:
            f.seek(start)
            match = _READY.search(f.read().decode(errors="replace"))
        return match and match.group(1)

    return child, _wait(child, ready_url, 180.0)


def start_prometheus(binary: str, config: dict, port: int, root: Path) -> tuple[Child, str]:
    home = root / "prometheus"
    (home / "data").mkdir(parents=True, exist_ok=True)
    config_path = home / "prometheus.yml"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    url = f"http://127.0.0.1:{port}"
    cmd = [binary, f"--config.file={config_path}", f"--storage.tsdb.path={home / 'data'}",
           f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"]
    child = Child("prometheus", cmd, home / "prometheus.log")
    return child, _wait(child, lambda: _answers(f"{url}/-/ready") and url, 60.0)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _up(args) -> int:
    problem = _check(args)
    if problem:
        return _fail(problem)
    root = Path(args.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    children: list[Child] = []
    try:
        state = _start_all(args, root, children)
    except RuntimeError as exc:
        _stop_all(children)
        print(f"uqo stack: {exc}", file=sys.stderr)
        return 1
    (root / "stack.json").write_text(json.dumps(state, indent=2) + "\n")
    print(f"uqo stack: up ({len(state['replicas'])} replica(s), Prometheus "
          f"{state['prometheus']['url']}); state in {root / 'stack.json'}; Ctrl-C stops",
          flush=True)
    return _supervise(children, stop)


def _start_all(args, root: Path, children: list[Child]) -> dict:
    replicas = []
    for i in range(1, args.replicas + 1):
        port = 0 if args.port == 0 else args.port + i - 1
        child, url = start_replica(i, port, root)
        children.append(child)
        replicas.append({"url": url, "pid": child.proc.pid, "data_dir": str(root / f"replica-{i}"),
                         "log": str(child.log_path)})
        print(f"uqo stack: replica {i} ready on {url}", flush=True)
    targets = [r["url"].removeprefix("http://") for r in replicas]
    config = prometheus_config(targets, args.rules, args.scrape_interval, args.evaluation_interval)
    port = args.prometheus_port or _free_port()
    child, url = start_prometheus(args.prometheus_bin, config, port, root)
    children.append(child)
    print(f"uqo stack: prometheus ready on {url}", flush=True)
    return {"replicas": replicas, "etcd": [],
            "prometheus": {"url": url, "pid": child.proc.pid, "log": str(child.log_path),
                           "config": str(root / "prometheus" / "prometheus.yml")}}


def _supervise(children: list[Child], stop: threading.Event) -> int:
    """Run until asked to stop (exit 0) or until a child exits by itself (exit 1)."""
    died = None
    while not stop.wait(0.5):
        died = next((c for c in children if not c.alive()), None)
        if died is not None:
            print(f"uqo stack: {died.name} exited with {died.proc.returncode}; stopping the "
                  f"rest (log {died.log_path}):\n{died.tail()}", file=sys.stderr)
            break
    _stop_all(children)
    print("uqo stack: stopped", flush=True)
    return 1 if died is not None else 0


def _stop_all(children: list[Child]) -> None:
    for child in reversed(children):       # Prometheus first, then the replicas
        child.stop()
