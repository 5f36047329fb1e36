"""Run a real etcd cluster (Debian's ``etcd-server``) as child processes, on loopback ports.

Use cases::

    with EtcdCluster(tmp_dir, members=3) as etcd:     # 3 members, free ports, temp data dirs
        etcd.endpoints                                # ["http://127.0.0.1:P1", ...]
        etcd.kill(0)                                  # SIGKILL member 0 (kill -9) ...
        etcd.restart(0)                               # ... and start it again on its data dir
        etcd.pause(1); etcd.resume(1)                 # SIGSTOP / SIGCONT

    EtcdCluster(tmp_dir, tls=EtcdTls(ca, cert, key))  # clients must speak TLS with a cert
                                                      # signed by ``ca`` (mutual TLS)

Fault tests, ``uqo bench replication`` and ``uqo stack up`` use it. Every member is started
and stopped by its PID (never by name). Auto-compaction is off: the replicated log compacts
etcd itself, only after a snapshot is durable (``uqo.control.log.etcd``). The election timeout
is etcd's default unless given (tests shorten it to make failovers quicker).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Self

ETCD_BINARY = "etcd"


def etcd_binary() -> str | None:
    """Path of the etcd server binary, or None (``scripts/setup-system.sh`` installs it)."""
    return shutil.which(ETCD_BINARY) or (
        "/usr/bin/etcd" if os.access("/usr/bin/etcd", os.X_OK) else None)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class EtcdTls:
    """PEM files for etcd's client port: the CA clients' certificates must chain to, and the
    server's certificate and key (e.g. ``uqo certs init``'s ca.pem, server.pem, server.key);
    ``client_cert``/``client_key``: a client identity for the health checks here."""

    ca: str
    cert: str
    key: str
    client_cert: str
    client_key: str


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: str
    proc: subprocess.Popen | None = None
    log_path: str = ""
    args: list[str] = field(default_factory=list)
    scheme: str = "http"

    @property
    def client_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class EtcdCluster:
    """``members`` etcd servers under ``base_dir`` (one data dir and one log file each).
    ``heartbeat_ms``/``election_ms``: etcd's Raft timers (defaults 100/1000 ms)."""

    def __init__(self, base_dir: str, members: int = 3, heartbeat_ms: int = 100,
                 election_ms: int = 1000, timeout_s: float = 30.0, token: str | None = None,
                 tls: EtcdTls | None = None):
        if members < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        binary = etcd_binary()
        if binary is None:
            raise RuntimeError("etcd is not installed: run scripts/setup-system.sh "
                               "(Debian package etcd-server)")
        self.binary, self.base_dir, self.timeout_s = binary, base_dir, timeout_s
        self.heartbeat_ms, self.election_ms = heartbeat_ms, election_ms
        self.token = token or f"uqo-{os.getpid()}-{time.monotonic_ns()}"
        self.tls = tls
        self.members = [Member(f"etcd{i}", free_port(), free_port(),
                               os.path.join(base_dir, f"etcd{i}"),
                               scheme="https" if tls else "http") for i in range(members)]

    @property
    def endpoints(self) -> list[str]:
        return [m.client_url for m in self.members]

    def _args(self, m: Member) -> list[str]:
        cluster = ",".join(f"{x.name}={x.peer_url}" for x in self.members)
        return [self.binary, "--name", m.name, "--data-dir", m.data_dir,
                "--listen-client-urls", m.client_url, "--advertise-client-urls", m.client_url,
                "--listen-peer-urls", m.peer_url, "--initial-advertise-peer-urls", m.peer_url,
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", self.token,
                "--heartbeat-interval", str(self.heartbeat_ms),
                "--election-timeout", str(self.election_ms),
                "--auto-compaction-retention", "0", "--logger", "zap",
                "--log-outputs", "stderr", *self._tls_args()]

    def _tls_args(self) -> list[str]:
        if self.tls is None:
            return []
        return ["--cert-file", self.tls.cert, "--key-file", self.tls.key,
                "--trusted-ca-file", self.tls.ca, "--client-cert-auth"]

    def _spawn(self, m: Member) -> None:
        os.makedirs(self.base_dir, exist_ok=True)
        m.log_path = os.path.join(self.base_dir, f"{m.name}.log")
        with open(m.log_path, "ab") as log:
            m.proc = subprocess.Popen(self._args(m), stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)

    def start(self) -> Self:
        for m in self.members:
            self._spawn(m)
        self.wait_healthy()
        return self

    def wait_healthy(self, members: list[int] | None = None) -> None:
        """Wait until the given members (default all alive) answer ``/health`` true."""
        deadline = time.monotonic() + self.timeout_s
        todo = [self.members[i] for i in members] if members is not None else [
            m for m in self.members if m.alive]
        while todo:
            m = todo[0]
            if not m.alive:
                raise RuntimeError(f"etcd member {m.name} exited:\n{self.log_tail(m)}")
            if self._healthy(m):
                todo.pop(0)
                continue
            if time.monotonic() > deadline:
                raise RuntimeError(f"etcd member {m.name} not healthy after "
                                   f"{self.timeout_s} s:\n{self.log_tail(m)}")
            time.sleep(0.05)

    def log_tail(self, m: Member, lines: int = 20) -> str:
        try:
            with open(m.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    # ---- faults (by PID) ----------------------------------------------------------------
    def kill(self, i: int) -> None:
        """SIGKILL member ``i`` (kill -9) and reap it."""
        m = self.members[i]
        if m.alive:
            os.kill(m.proc.pid, signal.SIGKILL)
            m.proc.wait(10)

    def restart(self, i: int, wait: bool = True) -> None:
        """Start member ``i`` again on its data dir (after ``kill``)."""
        m = self.members[i]
        if m.alive:
            return
        self._spawn(m)
        if wait:
            self.wait_healthy([i])

    def pause(self, i: int) -> None:
        os.kill(self.members[i].proc.pid, signal.SIGSTOP)

    def resume(self, i: int) -> None:
        os.kill(self.members[i].proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        for m in self.members:
            if m.alive:
                os.kill(m.proc.pid, signal.SIGCONT)
                m.proc.terminate()
        for m in self.members:
            if m.proc is not None:
                try:
                    m.proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.kill(m.proc.pid, signal.SIGKILL)
                    m.proc.wait(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


    def _healthy(self, m: Member) -> bool:
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(cafile=self.tls.ca)
            context.load_cert_chain(self.tls.client_cert, self.tls.client_key)
        try:
            with urllib.request.urlopen(f"{m.client_url}/health", timeout=1.0,
                                        context=context) as resp:
                return b'"true"' in resp.read()
        except (OSError, ValueError):
            return False
