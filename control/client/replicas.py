"""A replicated control plane as real processes: an etcd cluster and N ``uqo serve`` replicas.

Use cases::

    with ReplicaCluster(tmp_dir, replicas=3) as rc:      # 3 etcd members + 3 replicas
        rc.urls                                          # give them all to the SDK
        i = rc.leader()                                  # index of the replica that leads
        rc.kill(i); rc.restart(i)                        # kill -9, then start on its data dir
        rc.pause(i); rc.resume(i)                        # SIGSTOP / SIGCONT
        rc.partition(i); rc.heal(i)                      # cut replica i from etcd, and back
        rc.etcd.kill(0); rc.etcd.restart(0)              # an etcd member

Each replica keeps its port across restarts (clients hold the list of URLs). With
``partitionable`` every replica reaches each etcd member through its own ``DropProxy``, so one
replica can be cut from etcd while its clients still reach it. Fault tests, ``uqo bench
replication`` and the PBFT comparison reuse this. Settings travel as ``UQO_*`` variables.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Self

from .etcdproc import EtcdCluster, free_port
from .faultproxy import DropProxy
from .procs import ServerProcess

FAST = {"capacity": 4096, "backend": "numpy", "tick_interval_s": 0.2, "auth": "false",
        "log_level": "warning", "schedule_interval_s": 0.005}


class ReplicaCluster:
    """``settings``: ``uqo serve`` settings for every replica (``FAST`` by default:
    authentication off, a small engine). ``lease_ttl_s`` 1 needs etcd's election timeout
    <= 600 ms (etcd raises shorter leases to 1.5 x its election timeout)."""

    def __init__(self, base_dir: str, replicas: int = 3, etcd_members: int = 3,
                 settings: dict | None = None, lease_ttl_s: int = 1,
                 partitionable: bool = True, heartbeat_ms: int = 50, election_ms: int = 500,
                 overrides: dict[int, dict] | None = None):
        self.base_dir, self.n = base_dir, replicas
        self.overrides = overrides or {}
        self.settings = {**FAST, **(settings or {}), "lease_ttl_s": lease_ttl_s}
        self.partitionable = partitionable
        self.etcd = EtcdCluster(os.path.join(base_dir, "etcd"), members=etcd_members,
                                heartbeat_ms=heartbeat_ms, election_ms=election_ms)
        self.ports = [free_port() for _ in range(replicas)]
        self.procs: list[ServerProcess | None] = [None] * replicas
        self.proxies: list[list[DropProxy]] = []

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    def replica_id(self, i: int) -> str:
        return f"r{i}"

    def start(self) -> Self:
        self.etcd.start()
        for _ in range(self.n):
            self.proxies.append([DropProxy(("127.0.0.1", m.client_port)).start()
                                 for m in self.etcd.members] if self.partitionable else [])
        with ThreadPoolExecutor(self.n) as pool:
            list(pool.map(self.restart, range(self.n)))
        return self

    def _endpoints(self, i: int) -> str:
        if self.partitionable:
            return ",".join(p.url for p in self.proxies[i])
        return ",".join(self.etcd.endpoints)

    def restart(self, i: int) -> ServerProcess:
        """Start replica ``i`` (again) on its data dir and port."""
        settings = {**self.settings, **self.overrides.get(i, {}), "etcd": self._endpoints(i),
                    "replica_id": self.replica_id(i)}
        proc = ServerProcess(os.path.join(self.base_dir, f"r{i}"), settings=settings,
                             port=self.ports[i], timeout_s=90)
        self.procs[i] = proc.start()
        return proc

    # ---- who leads ----------------------------------------------------------------------
    def status(self, i: int, timeout_s: float = 2.0) -> dict | None:
        try:
            with urllib.request.urlopen(f"{self.urls[i]}/v1/status", timeout=timeout_s) as r:
                return json.loads(r.read())
        except (OSError, ValueError):
            return None

    def leader(self, timeout_s: float = 30.0, exclude: tuple[int, ...] = ()) -> int:
        """Index of the replica that leads (active), waiting up to ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for i in range(self.n):
                if i in exclude or not self.alive(i):
                    continue
                st = self.status(i, 1.0)
                if st and st["consensus"].get("is_leader"):
                    return i
            time.sleep(0.05)
        raise TimeoutError(f"no replica leads after {timeout_s} s")

    def describe(self, lines: int = 15) -> str:
        """Each replica's consensus status and last log lines (for a failing test's message)."""
        out = []
        for i in range(self.n):
            st = self.status(i, 2.0) if self.alive(i) else None
            c = st["consensus"] if st else {}
            out.append(f"--- r{i} alive={self.alive(i)} role={c.get('role')} "
                       f"leader={c.get('leader_id')} term={c.get('term')} "
                       f"applied={c.get('applied_revision')} healthy={c.get('healthy')} "
                       f"lease={c.get('lease')}")
            if self.procs[i] is not None:
                out.extend(self.procs[i].lines[-lines:])
        return "\n".join(out)

    def alive(self, i: int) -> bool:
        p = self.procs[i]
        return p is not None and p.proc is not None and p.proc.poll() is None

    # ---- faults (by PID) ----------------------------------------------------------------
    def kill(self, i: int) -> None:
        self.procs[i].kill()

    def pause(self, i: int) -> None:
        os.kill(self.procs[i].proc.pid, signal.SIGSTOP)

    def resume(self, i: int) -> None:
        os.kill(self.procs[i].proc.pid, signal.SIGCONT)

    def partition(self, i: int) -> None:
        for p in self.proxies[i]:
            p.partition()

    def heal(self, i: int) -> None:
        for p in self.proxies[i]:
            p.heal()

    def stop(self) -> None:
        for i, p in enumerate(self.procs):
            if p is not None and self.alive(i):
                os.kill(p.proc.pid, signal.SIGCONT)
        for i, p in enumerate(self.procs):
            if p is not None and self.alive(i):
                p.proc.send_signal(signal.SIGTERM)
        for p in self.procs:
            if p is not None and p.proc is not None:
                try:
                    p.proc.wait(20)
                except Exception:  # noqa: BLE001 - stop must not leave processes behind
                    p.kill()
        for group in self.proxies:
            for proxy in group:
                proxy.stop()
        self.etcd.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
