"""``uqo stack up`` / ``uqo stack down``: the deployment's topology (``containers/
docker-compose.yml``) as local processes, for development, operations drills and the
end-to-end tests.

Use cases::

    uqo stack up                     # etcd x3, 3 replicas on :8080-8082, Prometheus on :9090
    uqo stack up --replicas 1 --etcd-members 0          # one replica on its single-node log
    uqo stack up --dir /tmp/s --port 0 --etcd-port 0 --prometheus-port 0 --scrape-interval 1s
    cat ./uqo-stack/stack.json       # URLs, PIDs, data dirs, log files, admin credential
    uqo stack restart                # rolling restart: replicas one by one, the leader last
    uqo stack down                   # from another shell: stops everything by PID

It starts an etcd cluster (Debian's ``etcd-server``, ``uqo.control.client.etcdproc``), then
``uqo serve`` replicas on it, then Prometheus (Debian's ``prometheus``) scraping them as job
``uqo`` with the rules of ``ops/prometheus/rules``; writes ``<dir>/stack.json`` once everything
answers and runs until Ctrl-C, SIGTERM or ``uqo stack down``; then stops Prometheus, the
replicas and etcd, in that order. A replica that dies is reported and the others go on (that
is a failover drill); the stack stops with exit 1 when Prometheus or an etcd member exits, or
no replica is left. ``UQO_*`` settings in the environment reach every replica.

``uqo stack restart`` (SIGHUP to the stack) restarts the replicas one at a time, followers
first and the leader last, each with its command line of the first start (so code installed
since then runs), waiting until the restarted one is ready before the next: the rolling
upgrade of docs/operations.md. It returns once stack.json shows the new PIDs.

Replicas accept each other's tokens only when they share one security state
(docs/replication.md): on the first start of a directory, replica 1 starts alone, enrols the
administrator (``replica-1/admin-credential.json``) and stops; its ``security`` directory is
copied to the other replicas before they first start.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path

from uqo.control.client.etcdproc import EtcdCluster, etcd_binary, free_port

from .stackprocs import (
    Child,
    answers,
    pid_runs,
    prometheus_config,
    spawn_replica,
    start_prometheus,
    start_replica,
    stop_pid,
    wait_for,
)

_DURATION = re.compile(r"^[0-9]+(ms|s|m|h)$")
STATE_FILE = "stack.json"
_LEADS = re.compile(r"^uqo_consensus_is_leader\{[^}]*\} 1(\.0)?$", re.MULTILINE)


def add_commands(sub, bench) -> None:
    p = sub.add_parser("stack", help="run the deployment topology as local processes")
    actions = p.add_subparsers(dest="stack_action", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    up = actions.add_parser("up", help="start etcd, replicas and Prometheus; Ctrl-C stops them")
    up.add_argument("--dir", default="./uqo-stack",
                    help="data, logs and stack.json (default ./uqo-stack)")
    up.add_argument("--replicas", type=int, default=3, help="uqo serve replicas (default 3)")
    up.add_argument("--etcd-members", type=int, default=3,
                    help="etcd members (default 3; 0: a single replica on its own log)")
    up.add_argument("--port", type=int, default=8080,
                    help="first replica's port, the next ones follow (0: free ports)")
    up.add_argument("--etcd-port", type=int, default=2379,
                    help="first etcd member's client port; member i uses PORT+2i for clients "
                    "and PORT+2i+1 for peers (0: free ports)")
    up.add_argument("--prometheus-port", type=int, default=9090, help="0 picks a free one")
    up.add_argument("--rules", default="ops/prometheus/rules",
                    help="directory of Prometheus rule files (*.yml)")
    up.add_argument("--scrape-interval", default="5s", help="e.g. 1s, 15s (default 5s)")
    up.add_argument("--evaluation-interval", help="rule evaluation (default: scrape interval)")
    up.add_argument("--prometheus-bin", default="prometheus", help="the Prometheus server")
    up.set_defaults(func=_up)
    down = actions.add_parser("down", help="stop a stack started with `uqo stack up`")
    down.add_argument("--dir", default="./uqo-stack", help="the stack's --dir")
    down.set_defaults(func=_down)
    restart = actions.add_parser("restart", help="rolling restart of the replicas, the "
                                 "leader last")
    restart.add_argument("--dir", default="./uqo-stack", help="the stack's --dir")
    restart.add_argument("--timeout", type=float, default=600.0,
                         help="seconds to wait for the whole restart (default 600)")
    restart.set_defaults(func=_restart)


def _fail(message: str) -> int:
    print(f"uqo stack: {message}", file=sys.stderr)
    return 2


def _check(args) -> str | None:
    """The first thing wrong with the arguments, as a message naming it; None if all is well."""
    if args.replicas < 1:
        return f"--replicas {args.replicas}: at least 1"
    if args.etcd_members < 0:
        return f"--etcd-members {args.etcd_members}: 0 or more"
    if args.replicas > 1 and args.etcd_members == 0:
        return (f"--replicas {args.replicas} with --etcd-members 0: more than one replica needs "
                "the etcd-replicated log (give --etcd-members 1 or more)")
    for flag, value in (("--scrape-interval", args.scrape_interval),
                        ("--evaluation-interval", args.evaluation_interval)):
        if value is not None and not _DURATION.match(value):
            return f"{flag} {value!r}: a Prometheus duration such as 500ms, 5s or 1m"
    for flag, port in (("--port", args.port), ("--prometheus-port", args.prometheus_port),
                       ("--etcd-port", args.etcd_port)):
        if not 0 <= port <= 65535:
            return f"{flag} {port}: 0..65535"
    rules = Path(args.rules)
    if not rules.is_dir() or not list(rules.glob("*.yml")):
        return f"--rules {args.rules!r}: no directory with *.yml rule files there"
    if shutil.which(args.prometheus_bin) is None:
        return (f"--prometheus-bin {args.prometheus_bin!r} not found: install Debian's "
                "prometheus (bash scripts/setup-system.sh, or apt-get install prometheus)")
    if args.etcd_members and etcd_binary() is None:
        return ("--etcd-members needs etcd: install Debian's etcd-server "
                "(bash scripts/setup-system.sh), or use --replicas 1 --etcd-members 0")
    return None


class Stack:
    """The running children, stopped in reverse order of start (Prometheus, replicas, etcd)."""

    def __init__(self):
        self.etcd: EtcdCluster | None = None
        self.replicas: list[Child] = []
        self.prometheus: Child | None = None
        self.reported: set[str] = set()

    def stop(self) -> None:
        if self.prometheus is not None:
            self.prometheus.stop()
        for child in reversed(self.replicas):
            child.stop()
        if self.etcd is not None:
            self.etcd.stop()

    def fatal(self) -> str | None:
        """Why the stack cannot go on (Prometheus or an etcd member gone, no replica left), or
        None; a replica that died is reported once."""
        if self.prometheus is not None and not self.prometheus.alive():
            return self._exit_note(self.prometheus)
        for m in self.etcd.members if self.etcd else []:
            if not m.alive:
                return f"etcd member {m.name} exited (log {m.log_path})"
        for child in self.replicas:
            if not child.alive() and child.name not in self.reported:
                self.reported.add(child.name)
                print(f"uqo stack: {child.name} exited with {child.proc.returncode} "
                      f"(log {child.log_path}); the others go on", file=sys.stderr, flush=True)
        if self.replicas and not any(c.alive() for c in self.replicas):
            return "no replica is left: " + self._exit_note(self.replicas[-1])
        return None

    @staticmethod
    def _exit_note(child: Child) -> str:
        return (f"{child.name} exited with {child.proc.returncode} (log {child.log_path}):\n"
                f"{child.tail()}")


def _up(args) -> int:
    problem = _check(args)
    if problem:
        return _fail(problem)
    root = Path(args.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    stop, restart = threading.Event(), threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: restart.set())
    stack = Stack()
    try:
        state = _start_all(args, root, stack)
    except RuntimeError as exc:
        stack.stop()
        print(f"uqo stack: {exc}", file=sys.stderr)
        return 1
    _write_state(root, state)
    _print_urls(state, root)
    return _supervise(stack, stop, restart, root, state)


def _write_state(root: Path, state: dict) -> None:
    tmp = root / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(root / STATE_FILE)          # readers never see half a file


def _ports(first: int, n: int, step: int = 1) -> list[int]:
    return [free_port() if first == 0 else first + step * i for i in range(n)]


def _start_etcd(args, root: Path) -> EtcdCluster:
    etcd = EtcdCluster(str(root / "etcd"), members=args.etcd_members,
                       token=f"uqo-stack-{root.name}")
    clients = _ports(args.etcd_port, args.etcd_members, 2)
    peers = [free_port() if args.etcd_port == 0 else p + 1 for p in clients]
    for m, client, peer in zip(etcd.members, clients, peers, strict=True):
        m.client_port, m.peer_port = client, peer     # fixed ports: a restart finds its peers
    return etcd.start()


def _share_security(root: Path, port: int, etcd: str, n: int) -> None:
    """On a first start, replica 1 enrols the administrator alone; its security state is then
    copied to the replicas that have none (docs/replication.md, "Security between replicas")."""
    missing = [i for i in range(2, n + 1) if not (root / f"replica-{i}" / "security").exists()]
    if not missing:
        return
    first = root / "replica-1" / "security"
    if not first.exists():
        child, _ = start_replica(1, port, root, etcd)
        child.stop()
    for i in missing:
        (root / f"replica-{i}").mkdir(parents=True, exist_ok=True)
        shutil.copytree(first, root / f"replica-{i}" / "security")


def _start_all(args, root: Path, stack: Stack) -> dict:
    etcd_urls = ""
    if args.etcd_members:
        stack.etcd = _start_etcd(args, root)
        etcd_urls = ",".join(stack.etcd.endpoints)
        print(f"uqo stack: etcd ready on {etcd_urls}", flush=True)
    ports = _ports(args.port, args.replicas)
    if args.replicas > 1:
        _share_security(root, ports[0], etcd_urls, args.replicas)
    probes = []
    for i, port in enumerate(ports, start=1):
        child, ready = spawn_replica(i, port, root, etcd_urls)
        stack.replicas.append(child)
        probes.append(ready)
    replicas = []
    for i, (child, ready) in enumerate(zip(stack.replicas, probes, strict=True), start=1):
        url = wait_for(child, ready, 180.0)
        replicas.append({"name": f"replica-{i}", "url": url, "pid": child.proc.pid,
                         "data_dir": str(root / f"replica-{i}"), "log": str(child.log_path),
                         "cmd": child.cmd})
        print(f"uqo stack: replica {i} ready on {url}", flush=True)
    targets = [r["url"].removeprefix("http://") for r in replicas]
    config = prometheus_config(targets, args.rules, args.scrape_interval, args.evaluation_interval)
    stack.prometheus, url = start_prometheus(args.prometheus_bin, config,
                                             args.prometheus_port or free_port(), root)
    print(f"uqo stack: prometheus ready on {url}", flush=True)
    etcd = [{"name": m.name, "url": m.client_url, "pid": m.proc.pid, "data_dir": m.data_dir,
             "log": m.log_path} for m in (stack.etcd.members if stack.etcd else [])]
    return {"pid": os.getpid(), "dir": str(root), "replicas": replicas, "etcd": etcd,
            "admin_credential": str(root / "replica-1" / "admin-credential.json"),
            "prometheus": {"url": url, "pid": stack.prometheus.proc.pid,
                           "log": str(stack.prometheus.log_path),
                           "config": str(root / "prometheus" / "prometheus.yml")}}


def _print_urls(state: dict, root: Path) -> None:
    print(f"uqo stack: up: {len(state['replicas'])} replica(s) "
          f"{' '.join(r['url'] for r in state['replicas'])}", flush=True)
    if state["etcd"]:
        print(f"uqo stack: etcd {','.join(m['url'] for m in state['etcd'])}", flush=True)
    print(f"uqo stack: prometheus {state['prometheus']['url']}; state in {root / STATE_FILE}; "
          "Ctrl-C or `uqo stack down` stops", flush=True)


def _supervise(stack: Stack, stop: threading.Event, restart: threading.Event, root: Path,
               state: dict) -> int:
    """Run until asked to stop (exit 0) or until the stack cannot go on (exit 1); restart the
    replicas one by one when asked (SIGHUP)."""
    fatal = None
    while not stop.wait(0.5):
        if restart.is_set():
            restart.clear()
            fatal = _rolling_restart(stack, state, root, stop)
        fatal = fatal or stack.fatal()
        if fatal is not None:
            print(f"uqo stack: {fatal}; stopping the rest", file=sys.stderr, flush=True)
            break
    stack.stop()
    print("uqo stack: stopped", flush=True)
    return 1 if fatal is not None else 0


def _is_leader(url: str) -> bool:
    """Whether the replica at ``url`` leads, from its /metrics (no login needed)."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return False
    return _LEADS.search(text) is not None


def _rolling_restart(stack: Stack, state: dict, root: Path, stop: threading.Event) -> str | None:
    """Restart every replica, followers first and the leader last; None, or why it failed."""
    order = sorted(range(len(stack.replicas)),
                   key=lambda i: _is_leader(state["replicas"][i]["url"]))
    for i in order:
        if stop.is_set():
            return None
        old, record = stack.replicas[i], state["replicas"][i]
        print(f"uqo stack: restarting {old.name}", flush=True)
        old.stop()
        stack.reported.discard(old.name)
        child = Child(old.name, old.cmd, old.log_path, env=dict(os.environ))
        stack.replicas[i] = child
        try:
            wait_for(child, lambda r=record: answers(f"{r['url']}/health/ready"), 180.0)
        except RuntimeError as exc:
            return str(exc)
        record["pid"] = child.proc.pid
        print(f"uqo stack: {old.name} ready again on {record['url']}", flush=True)
    state["restarts"] = state.get("restarts", 0) + 1
    _write_state(root, state)
    return None


def _restart(args) -> int:
    """SIGHUP the stack of ``--dir`` and wait until it has restarted every replica."""
    root = Path(args.dir).resolve()
    try:
        state = json.loads((root / STATE_FILE).read_text())
    except (OSError, ValueError) as exc:
        return _fail(f"--dir {args.dir!r}: no readable {STATE_FILE} there ({exc})")
    if not pid_runs(state["pid"], "stack"):
        return _fail(f"--dir {args.dir!r}: its uqo stack (PID {state['pid']}) is not running")
    before = state.get("restarts", 0)
    os.kill(state["pid"], signal.SIGHUP)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and pid_runs(state["pid"], "stack"):
        now = json.loads((root / STATE_FILE).read_text())
        if now.get("restarts", 0) > before:
            print("uqo stack: restarted " + ", ".join(
                f"{r['name']} (PID {r['pid']})" for r in now["replicas"]), flush=True)
            return 0
        time.sleep(0.5)
    print(f"uqo stack: the restart did not finish (see {root}/*.log)", file=sys.stderr)
    return 1


def _down(args) -> int:
    """SIGTERM the ``uqo stack up`` of ``--dir`` and wait for it; then stop by PID whatever
    of its children still runs (if the supervisor was killed -9)."""
    root = Path(args.dir).resolve()
    try:
        state = json.loads((root / STATE_FILE).read_text())
    except (OSError, ValueError) as exc:
        return _fail(f"--dir {args.dir!r}: no readable {STATE_FILE} there ({exc})")
    stopped = stop_pid(state["pid"], "stack", timeout_s=90.0)
    children = [state["prometheus"], *state["replicas"], *state["etcd"]]
    leftovers = sum(stop_pid(c["pid"], str(root)) for c in children)
    print(f"uqo stack: stopped the stack in {root}" if stopped or leftovers else
          f"uqo stack: nothing of the stack in {root} was running", flush=True)
    (root / STATE_FILE).unlink()
    # wait for the children's PIDs to vanish: the supervisor reaps them before it exits
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{c['pid']}")
                                              and _not_zombie(c["pid"]) for c in children):
        time.sleep(0.1)
    return 0


def _not_zombie(pid: int) -> bool:
    try:
        return " Z " not in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
