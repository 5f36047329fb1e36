"""Which log an orchestrator runs on, and its follower/leader switching on a replicated one.

Use cases (``Orchestrator`` does this)::

    log = await make_log(cfg)                      # SingleNodeLog, or EtcdLog with cfg.etcd
    role = ReplicaRole(orch); log.on_role = role.changed
    role.changed(True, "elected")                  # fresh LeaderCore.recover(sm), then the loop
    role.changed(False, "lease expired")           # stop the loop at once; proposals refused

A replica starts as a follower: it applies the log by watch and serves reads, and its HTTP
layer forwards writes to the leader. On winning the election (and having applied everything
committed before its win) it becomes the leader: a new ``LeaderCore`` rebuilds the soft state
from the applied state (``recover``), the applier starts feeding it, and the ``LeaderLoop``
starts. On losing the lease it stops at once: the applier stops feeding the core, the loop is
cancelled, and the log refuses proposals. A scheduler driver that has served as a leader is
rebuilt before the next leadership (its soft state belongs to the old term).
"""

from __future__ import annotations

import asyncio
import logging
import time

from ..config import ServerConfig
from ..log import SingleNodeLog, WalStorage

_LOG = logging.getLogger(__name__)


class StartRefused(RuntimeError):
    """The replica cannot start (etcd unreachable, a foreign data dir); the message says why
    and names the endpoints or the directory. ``uqo serve`` prints it and exits non-zero."""


async def open_log(log, applier, cfg: ServerConfig) -> None:
    """``log.open(applier)``, with the replicated log's start-up failures as ``StartRefused``."""
    if not cfg.etcd:
        await log.open(applier)
        return
    from ..log.etcd_client import EtcdError
    from ..log.etcd_store import ReplicaRefused

    try:
        await log.open(applier)
    except EtcdError as exc:
        await log.etcd.close()
        raise StartRefused(f"cannot reach etcd at {', '.join(log.etcd.endpoints)}: {exc}"
                           ) from None
    except ReplicaRefused as exc:
        await log.etcd.close()
        raise StartRefused(f"replica {cfg.replica_id} refuses to start: {exc}") from None


async def make_log(cfg: ServerConfig):
    """The log ``cfg`` asks for (not opened yet)."""
    loop = asyncio.get_running_loop()
    if not cfg.etcd:
        storage = await loop.run_in_executor(None, lambda: WalStorage(cfg.data_dir,
                                                                      fsync=cfg.fsync))
        return SingleNodeLog(storage, snapshot_every=cfg.snapshot_every,
                             snapshot_bytes=cfg.snapshot_bytes)
    from ..log.etcd import EtcdLog
    from ..log.etcd_client import EtcdClient, TlsFiles

    if not cfg.replica_id:
        raise StartRefused("replica_id is required with etcd (--replica-id NAME)")
    tls = TlsFiles(cfg.etcd_ca, cfg.etcd_cert or None, cfg.etcd_key or None) \
        if cfg.etcd_ca else None
    client = EtcdClient(cfg.etcd, tls=tls)
    return EtcdLog(client, cfg.replica_id, cfg.data_dir, prefix=cfg.etcd_prefix,
                   lease_ttl_s=cfg.lease_ttl_s, snapshot_every=cfg.snapshot_every,
                   snapshot_bytes=cfg.snapshot_bytes, read_timeout_s=cfg.read_timeout_s)


class ReplicaRole:
    """Starts and stops the leader's work of ``orch`` as its log's election decides."""

    def __init__(self, orch):
        self.orch = orch
        self.generation = 0               # bumps on every change: stale starts give up
        self.driver_used = False          # the scheduler driver served a leadership
        self.transitions = 0
        self._task: asyncio.Task | None = None

    def changed(self, active: bool, reason: str) -> None:
        self.generation += 1
        self.transitions += 1
        if active:
            self._lead()
        else:
            self._follow(reason)

    def _lead(self) -> None:
        orch = self.orch
        orch.core = orch.new_core()
        orch.core.recover(orch.sm, time.monotonic())     # soft state from the applied state
        orch.applier.on_applied = orch._on_applied       # from now on the core sees each apply
        previous, generation = self._task, self.generation
        self._task = asyncio.create_task(self._start_loop(previous, generation))

    async def _start_loop(self, previous: asyncio.Task | None, generation: int) -> None:
        orch = self.orch
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        if self.driver_used:
            from .driver import SchedulerDriver

            old = orch.driver
            orch.driver = await asyncio.get_running_loop().run_in_executor(
                None, SchedulerDriver, orch.cfg)
            old.close()
            self.driver_used = False
        if generation != self.generation:
            return
        orch.core.ticked(orch.driver.initial_report)
        orch.loop = orch.make_loop()
        self.driver_used = True
        orch.loop.start()
        _LOG.warning("leader's work started (%d agents, %d tasks)", len(orch.sm.agents),
                     len(orch.sm.tasks))

    def _follow(self, reason: str) -> None:
        orch = self.orch
        orch.applier.on_applied = None
        loop, orch.loop = orch.loop, None
        previous = self._task
        self._task = asyncio.create_task(self._stop_loop(previous, loop, reason))

    async def _stop_loop(self, previous, loop, reason: str) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        if loop is not None:
            await loop.stop()
        _LOG.warning("leader's work stopped: %s", reason)

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
