"""The election's driver: carries out ``ElectionCore``'s decisions against etcd.

Use cases (``EtcdLog`` owns one)::

    session = Session(etcd, keys, core, replica_id, on_ready=log._election_ready)
    session.start(url)            # tick every 50 ms: lease grant/keepalive, campaign
    session.poke()                # an event changed the core: act now, not at the next tick
    await session.stop()          # resign and revoke the lease (a successor is elected at once)

One *session lease* per replica (as etcd's own ``concurrency.Session``): the election key and
the replica's presence record (``P/replicas/<id>``: URL, role, applied position, for the lag
column of ``uqo cluster status``) both hang on it. Keepalives run on a thread of their own
(``KeepaliveThread``): neither a slow etcd nor an event loop busy applying a big batch delays
them, and the core still stops a leader when its lease may have expired, whatever happens. A
lease given up (the core lost it) is revoked before a new one is granted, so the election key
it held disappears at once and a successor is elected without waiting for the TTL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from .election import ElectionCore, Holder
from .etcd_client import (
    EtcdClient,
    EtcdError,
    KeepaliveThread,
    cmp_create_revision,
    op_get,
    op_put,
    prefix_end,
)
from .etcd_store import Keys

_LOG = logging.getLogger(__name__)
TICK_S = 0.05
PRESENCE_S = 1.0


def holder_of(kv) -> Holder | None:
    """The election key's KeyValue -> ``Holder`` (None for a missing key)."""
    if kv is None:
        return None
    try:
        doc = json.loads(kv.value)
    except ValueError:
        doc = {}
    return Holder(str(doc.get("replica_id", "?")), str(doc.get("url", "")),
                  kv.create_revision, kv.lease)


class Session:
    def __init__(self, etcd: EtcdClient, keys: Keys, core: ElectionCore, replica_id: str,
                 on_ready: Callable, presence: Callable[[], dict], clock=time.monotonic):
        self.etcd, self.keys, self.core, self.replica_id = etcd, keys, core, replica_id
        self.on_ready, self.presence, self.clock = on_ready, presence, clock
        self.url = ""
        self.lease_id = 0
        self.lease_ttl = 0
        self.replicas: dict[str, dict] = {}      # presence records as last read
        self.campaigns = self.keepalive_failures = 0
        self.last_ok = 0.0            # when a keepalive last succeeded (sent at; health)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.keeper = KeepaliveThread(etcd.endpoints, etcd.tls, core.ttl_s / 3,
                                      core.ttl_s / 3, clock)
        self._stopping = False

    def start(self, url: str) -> None:
        self.url = url
        self.keeper.start()
        self._tasks = [asyncio.create_task(self._run(), name="uqo-election"),
                       asyncio.create_task(self._presence_loop(), name="uqo-presence")]

    def poke(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._absorb_keepalives()
            self.core.tick(self.clock())
            await self._carry_out()
            try:
                await asyncio.wait_for(self._wake.wait(), TICK_S)
            except TimeoutError:
                pass
            self._wake.clear()

    async def _carry_out(self) -> None:
        while self.core.has_ready() and not self._stopping:
            ready = self.core.ready()
            self.core.advance()
            if ready.deactivate is not None or ready.activate:
                self.on_ready(ready)
            if ready.grant:
                await self._grant()
            if ready.keepalive:
                self.keeper.kick()
            if ready.campaign:
                await self._campaign()

    # ---- lease --------------------------------------------------------------------------
    async def _grant(self) -> None:
        old, self.lease_id, self.keeper.lease_id = self.lease_id, 0, 0
        if old:
            try:
                await self.etcd.lease_revoke(old)
            except EtcdError as exc:
                _LOG.info("giving up lease %x: revoke failed (it expires by itself): %s",
                          old, exc)
        sent = self.clock()
        try:
            self.lease_id, self.lease_ttl = await self.etcd.lease_grant(
                max(1, round(self.core.ttl_s)))
        except EtcdError as exc:
            _LOG.warning("session lease grant failed: %s", exc)
            self.core.lease_failed()
            return
        self.keeper.lease_id = self.lease_id
        self.core.lease_granted(sent, self.lease_ttl)

    def _absorb_keepalives(self) -> None:
        while self.keeper.results:
            lease_id, sent, ttl = self.keeper.results.popleft()
            if lease_id != self.lease_id:
                continue
            if ttl is None:
                self.keepalive_failures += 1
            else:
                self.core.keepalive_ok(sent, ttl)
                self.last_ok = max(self.last_ok, sent)

    # ---- campaign -----------------------------------------------------------------------
    async def _campaign(self) -> None:
        self.campaigns += 1
        value = json.dumps({"replica_id": self.replica_id, "url": self.url}).encode()
        try:
            resp = await self.etcd.txn([cmp_create_revision(self.keys.leader, 0)],
                                       [op_put(self.keys.leader, value, self.lease_id),
                                        op_get(self.keys.log, keys_only=True)],
                                       [op_get(self.keys.leader)])
        except EtcdError as exc:
            _LOG.info("campaign failed: %s", exc)
            self.core.lost(None)
            return
        if resp.succeeded:
            kvs = resp.responses[1].response_range.kvs
            head = kvs[0].mod_revision if kvs else 0
            _LOG.warning("replica %s won the election (token %d, log head %d)",
                         self.replica_id, resp.header.revision, head)
            self.core.won(resp.header.revision, head)
        else:
            kvs = resp.responses[0].response_range.kvs
            self.core.lost(holder_of(kvs[0]) if kvs else None)

    # ---- presence -----------------------------------------------------------------------
    async def _presence_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(PRESENCE_S)
            try:
                if self.core.has_lease:
                    record = {"replica_id": self.replica_id, "url": self.url,
                              **self.presence(), "at": time.time()}
                    await self.etcd.put(self.keys.replica(self.replica_id),
                                        json.dumps(record).encode(), self.lease_id)
                kvs, _ = await self.etcd.get(self.keys.replicas, prefix_end(self.keys.replicas),
                                             serializable=True)
                self.replicas = {r["replica_id"]: r for r in (json.loads(kv.value)
                                                               for kv in kvs)}
            except (EtcdError, ValueError, KeyError) as exc:
                _LOG.debug("presence: %s", exc)

    async def stop(self) -> None:
        """Resign: stop the timers and revoke the lease (deletes the key and the presence)."""
        self.core.resign()
        await self._carry_out_final()
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._tasks:
            await asyncio.get_running_loop().run_in_executor(None, self.keeper.stop)
        if self.lease_id:
            try:
                await self.etcd.lease_revoke(self.lease_id)
            except EtcdError as exc:
                _LOG.info("lease revoke at stop failed (it expires by itself): %s", exc)

    async def _carry_out_final(self) -> None:
        if self.core.has_ready():
            ready = self.core.ready()
            self.core.advance()
            if ready.deactivate is not None:
                self.on_ready(ready)
