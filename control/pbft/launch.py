"""Start PBFT replicas as separate processes on this machine, and drive them (tests, bench).

Use cases::

    cluster = ProcessCluster(tmp / "c", n=4, base_port=7401, byzantine={"replica-4": "garbage"})
    cluster.start_all()                          # one ``runner`` process per replica
    await cluster.propose("replica-2", [payload])   # [[ok, code], ...] once applied there
    await cluster.status("replica-2")            # PbftLog.status() + chain, entries
    cluster.kill("replica-1")                    # kill -9
    cluster.start("replica-1")                   # restart from its data directory
    cluster.stop_all()                           # SIGTERM, then SIGKILL stragglers

Processes are tracked by PID and only those are signalled. The driving side connects with the
cluster's ``bench`` client certificate (mutual TLS).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import msgspec
from uqo.security.tls import client_context

from .cluster import ClusterSpec, make_cluster


def free_port_block(count: int, seed: int | None = None) -> int:
    """A base port with ``count`` consecutive ports free on 127.0.0.1, below the kernel's
    ephemeral range (outgoing connections take ports from that range and could steal one
    between this check and the replica's bind)."""
    rng = random.Random(seed if seed is not None else os.getpid() ^ time.monotonic_ns())
    low = 20_000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as fh:
            high = int(fh.read().split()[0]) - count
    except (OSError, ValueError, IndexError):
        high = 32_000
    for _ in range(200):
        base = rng.randrange(low, high)
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError(f"no {count} consecutive free ports in [{low}, {high})")


class ProcessCluster:
    def __init__(self, root, n: int, base_port: int, core: dict | None = None,
                 tick_s: float = 0.01, byzantine: dict[str, str] | None = None):
        self.spec: ClusterSpec = make_cluster(root, n, base_port, core=core, tick_s=tick_s)
        self.byzantine = dict(byzantine or {})
        self.procs: dict[str, subprocess.Popen] = {}
        pki = self.spec.pki
        self.ssl = client_context(os.path.join(pki, "ca.pem"), os.path.join(pki, "bench.pem"),
                                  os.path.join(pki, "bench.key"))
        self._session: aiohttp.ClientSession | None = None

    @property
    def names(self) -> list[str]:
        return self.spec.names

    def start(self, name: str, timeout: float = 60.0) -> None:
        cmd = [sys.executable, "-m", "uqo.control.pbft.runner",
               os.path.join(self.spec.root, "cluster.json"), name]
        if name in self.byzantine:
            cmd += ["--byzantine", self.byzantine[name]]
        err = open(os.path.join(self.spec.root, f"{name}.stderr"), "ab")  # noqa: SIM115
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        err.close()
        deadline = time.monotonic() + timeout
        line = proc.stdout.readline()
        if line.strip() != f"ready {name}" or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{name} did not start: {line!r} (see {name}.stderr)")
        self.procs[name] = proc

    def start_all(self) -> None:
        for name in self.names:
            self.start(name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()

    # ---- driving -----------------------------------------------------------------------
    async def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.ssl, limit=256),
                timeout=aiohttp.ClientTimeout(total=300))
        return self._session

    async def propose(self, name: str, payloads: list[bytes]) -> list:
        s = await self.session()
        async with s.post(self.spec.replicas[name] + "/ctl/v1/propose",
                          data=msgspec.msgpack.encode(payloads)) as resp:
            if resp.status != 200:
                raise RuntimeError(f"{name}: HTTP {resp.status} {await resp.text()}")
            return msgspec.msgpack.decode(await resp.read())

    async def status(self, name: str) -> dict:
        s = await self.session()
        async with s.get(self.spec.replicas[name] + "/ctl/v1/status") as resp:
            return await resp.json()

    async def latencies(self, name: str) -> list[float]:
        """``PbftLog.propose`` durations measured inside replica ``name`` since the last call."""
        s = await self.session()
        async with s.post(self.spec.replicas[name] + "/ctl/v1/latencies") as resp:
            return await resp.json()

    async def converged(self, names: list[str], timeout: float = 60.0) -> tuple[int, str]:
        """Wait until ``names`` applied the same entries; return (entries, chain)."""
        deadline = time.monotonic() + timeout
        while True:
            sts = [await self.status(n) for n in names]
            heads = {(s["entries"], s["chain"]) for s in sts}
            if len(heads) == 1:
                return heads.pop()
            if time.monotonic() > deadline:
                raise AssertionError({n: (s["entries"], s["view"], s["executed_seq"])
                                      for n, s in zip(names, sts, strict=True)})
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.stop_all()
