"""``PbftLog`` under ``uqo serve --consensus pbft``: the PBFT primary leads the orchestrator.

Use cases (``uqo.control.leader.replica.make_log`` does this)::

    log = served_log(cfg)                            # cfg.peers: the group's cluster.json
    log.on_role = role.changed                       # (True, "primary of view 3") / (False, ...)
    await log.open(applier)                          # records, snapshot, then the network
    log.start_election(url)                          # serving at url: may lead from now on
    log.leader                                       # Holder(replica_id, url) of the primary
    await log.read_barrier()                         # before a linearizable read

Every replica may propose (it is a PBFT client), but the orchestrator's leader work (the
scheduler's decisions, heartbeats, the agents' long-polls: soft state) runs on one replica,
as on etcd. That replica is the primary of the current view while the view is in normal
operation; during a view change nobody leads, and writes get 503 ``no_leader`` with
Retry-After until the new view's primary takes over. A Byzantine primary can therefore make
poor scheduling choices (each is a valid command, applied identically everywhere), but it
cannot make correct replicas diverge, forge a client's request or hide a view change for
longer than the view-change timer (docs/pbft.md, "Limits").

Liveness: backups suspect the primary only while a request waits (OSDI '99 §4.4), and an
idle orchestrator proposes nothing, so a dead primary would go unnoticed until the next write
(which a follower forwards to it, in vain). Every ``probe_s`` (1 s), a follower that saw no
request execute meanwhile proposes a request with no commands: it executes at once while the
primary is alive, and otherwise starts the view-change timers.

``read_barrier`` orders a request with no commands through PBFT: when it executes here,
every write that any replica acknowledged before the read began has been applied here
(it was ordered before it, at 2f+1 replicas of which f+1 are correct). It costs one round of
agreement; ``?stale=true`` reads skip it.

The group: ``cluster.json`` (``uqo cluster pbft-init`` or ``cluster.make_cluster``) names each
replica's PBFT URL, its public keys, the PKI for mutual TLS and, under ``api``, the URL its
HTTP API is reached at (what followers forward writes to). A replica's signing keys are in
``<cluster dir>/<name>/keys``; its PBFT records and snapshots go to ``<data dir>/pbft``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from ..errors import ControlError
from .cluster import key_ring, load_cluster, open_replica_signer, tls_contexts
from .metrics import PbftMetrics
from .pbftlog import PbftLog, PbftOptions


@dataclass(frozen=True)
class Holder:
    """The replica leading the orchestrator, in the shape of the etcd election's holder."""

    replica_id: str
    url: str


class ServedPbftLog(PbftLog):
    def __init__(self, options: PbftOptions, signer, ring, api_urls: dict[str, str],
                 read_timeout_s: float = 5.0, probe_s: float = 1.0, **kwargs):
        super().__init__(options, signer, ring, **kwargs)
        self.api_urls = dict(api_urls)
        self.read_timeout_s, self.probe_s = read_timeout_s, probe_s
        self._prober: asyncio.Task | None = None
        self.on_role = None
        self.active = False
        self.leader_changes = 0
        self.recovery_s = 0.0
        self.replayed = 0
        self._url = ""
        self._serving = False
        self._primary_seen: tuple[int, bool] | None = None
        self._behind_since: float | None = None

    async def open(self, applier) -> None:
        t0 = time.perf_counter()
        await super().open(applier)
        self.replayed = self.applied_index
        self.recovery_s = time.perf_counter() - t0

    def start_election(self, url: str) -> None:
        """Serving at ``url`` from now on: this replica leads whenever it is the primary."""
        self._url, self._serving = url, True
        self.api_urls.setdefault(self.opts.me, url)
        self._check_role()
        if self._prober is None:
            self._prober = asyncio.get_running_loop().create_task(self._probe())

    async def _probe(self) -> None:
        seen = -1
        while not self._closing:
            await asyncio.sleep(self.probe_s)
            if self.executed_requests == seen and not self.active and self._outstanding is None:
                try:
                    await self.read_barrier()
                except ControlError:
                    pass                  # a view change is under way; probe again later
            seen = self.executed_requests

    async def close(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            await asyncio.gather(self._prober, return_exceptions=True)
        await super().close()

    async def _handle_ready(self) -> None:
        await super()._handle_ready()
        self._check_role()

    def _primary(self) -> tuple[int, bool, str]:
        st = self.core.state
        return st.view, st.normal, self.names[self.core.q.primary(st.view)]

    def _check_role(self) -> None:
        if self.core is None:
            return
        view, normal, primary = self._primary()
        if (view, normal) != self._primary_seen and normal:
            self.leader_changes += 1
        self._primary_seen = (view, normal)
        should = (self._serving and normal and primary == self.opts.me
                  and self._failed is None and not self._closing)
        if should == self.active:
            return
        self.active = should
        reason = (f"primary of view {view}" if should else "closing" if self._closing else
                  "the PBFT log failed" if self._failed is not None else
                  f"view {view} {'normal, primary ' + primary if normal else 'changing'}")
        if self.on_role is not None:
            self.on_role(should, reason)

    @property
    def is_leader(self) -> bool:
        return self.active

    @property
    def leader(self) -> Holder | None:
        if self.core is None:
            return None
        _, normal, primary = self._primary()
        if not normal:
            return None
        return Holder(primary, self.api_urls.get(primary, ""))

    @property
    def healthy(self) -> bool:
        return self._failed is None

    async def read_barrier(self) -> None:
        """Wait until a request with no commands, ordered now, has executed here."""
        if self._failed is not None or self._closing or self._task is None:
            raise ControlError.unavailable("the PBFT log is not running")
        fut = asyncio.get_running_loop().create_future()
        self._queue.append(([], fut))
        self._wake.set()
        try:
            await asyncio.wait_for(fut, self.read_timeout_s)
        except TimeoutError:
            raise ControlError("unavailable", f"no PBFT agreement within "
                               f"{self.read_timeout_s} s (a view change may be under way); "
                               "retry, or read with stale=true", 503) from None

    def status(self) -> dict[str, Any]:
        s = super().status()
        leader = self.leader
        now = time.monotonic()
        if self.core is not None and self.core.fetch is not None:     # catching up
            self._behind_since = self._behind_since or now
        else:
            self._behind_since = None
        return {**s, "replica_id": self.opts.me, "is_leader": self.active,
                "role": "leader" if self.active else "follower",
                "leader_id": leader.replica_id if leader else None,
                "leader_url": leader.url if leader else None,
                "term": s.get("view"), "commit_index": self.applied_index,
                "leader_changes": self.leader_changes, "replayed_on_start": self.replayed,
                "snapshot_index": self._snap[0] if self._snap else 0,
                "recovery_s": self.recovery_s,
                "lag_s": now - self._behind_since if self._behind_since else 0.0}


def read_api_urls(path: str) -> dict[str, str]:
    with open(path, encoding="utf-8") as fh:
        return dict(json.load(fh).get("api", {}))


def served_log(cfg, registry=None) -> ServedPbftLog:
    """The replica ``cfg.replica_id`` of the group described by ``cfg.peers`` (cluster.json);
    ``ValueError`` naming the setting when they do not fit together."""
    if not os.path.isfile(cfg.peers):
        raise ValueError(f"peers {cfg.peers!r}: no such file (the PBFT group's cluster.json)")
    spec = load_cluster(cfg.peers)
    if cfg.replica_id not in spec.replicas:
        raise ValueError(f"replica_id {cfg.replica_id!r} is not one of the group's replicas "
                         f"{spec.names} ({cfg.peers})")
    server_ssl, client_ssl = tls_contexts(spec, cfg.replica_id)
    opts = PbftOptions(me=cfg.replica_id, replicas=dict(spec.replicas),
                       data_dir=os.path.join(cfg.data_dir, "pbft"),
                       listen=spec.listen(cfg.replica_id), tick_s=spec.tick_s,
                       fsync=cfg.fsync, core=dict(spec.core))
    metrics = PbftMetrics(registry) if registry is not None else None
    return ServedPbftLog(opts, open_replica_signer(spec, cfg.replica_id), key_ring(spec),
                         read_api_urls(cfg.peers), read_timeout_s=cfg.read_timeout_s,
                         server_ssl=server_ssl, client_ssl=client_ssl, metrics=metrics)
