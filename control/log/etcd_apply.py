"""The applying side of ``EtcdLog`` (``etcd.py`` holds the contract): one watch on
``P/ctl/`` from the last applied revision, log batches applied in revision order, leader changes,
reloads after a compaction, and the waits of linearizable reads.

A mixin of ``EtcdLog`` only: it reads and writes the log's attributes set in
``EtcdLog.__init__`` (revisions, waiters, the applier, the sequencer).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from typing import Any

from uqo.control.errors import ControlError

from .base import Entry, Snapshot, SnapshotMeta
from .etcd_batch import (
    Sequencer,
    decode_batch,
    decode_pointer,
)
from .etcd_client import (
    EVENT_DELETE,
    EtcdCompacted,
    EtcdError,
)
from .etcd_session import holder_of
from .etcd_store import (
    read_snapshot,
)

_LOG = logging.getLogger(__name__)


class _Applying:
    async def _load_snapshot(self) -> None:
        kvs, _ = await self.etcd.get(self.keys.snapshot)
        if not kvs:
            return
        ptr = decode_pointer(kvs[0].value)
        data = await read_snapshot(self.etcd, self.keys, ptr)
        self._applier.restore(Snapshot(SnapshotMeta(ptr.index, ptr.term), data))
        self.seq = Sequencer(ptr.index, ptr.term, ptr.seq, ptr.above)
        self.applied_revision = self.log_revision = ptr.revision
        self.pointer = ptr

    # ---- the watch: everything is applied here ------------------------------------------
    async def _watch_loop(self) -> None:
        backoff = 0.05
        while not self._closing:
            try:
                async for resp in self.etcd.watch(self.keys.ctl, self.keys.ctl_end,
                                                  self.applied_revision + 1):
                    self._contact()
                    self._on_watch(resp)
                    backoff = 0.05
            except EtcdCompacted as exc:
                _LOG.warning("replica %s: %s; reloading the latest snapshot", self.replica_id,
                             exc)
                await self._reload_after_compaction()
            except EtcdError as exc:
                self.watch_restarts += 1
                _LOG.info("watch restarts from %d: %s", self.applied_revision + 1, exc)
                await asyncio.sleep(backoff)
                backoff = min(1.0, backoff * 2)
            except Exception:  # noqa: BLE001 - a dead watch would freeze this replica
                _LOG.exception("watch failed; restarting")
                await asyncio.sleep(0.5)

    async def _reload_after_compaction(self) -> None:
        self.snapshot_reloads += 1
        try:
            await self._load_snapshot()
        except (EtcdError, RuntimeError) as exc:
            _LOG.warning("snapshot reload failed: %s", exc)
            await asyncio.sleep(0.5)
        self._after_events()

    def _on_watch(self, resp) -> None:
        for ev in resp.events:
            kv, rev = ev.kv, ev.kv.mod_revision
            if rev <= self.applied_revision:
                continue
            if kv.key == self.keys.log and ev.type != EVENT_DELETE:
                self._apply_batch(kv.value, rev)
            elif kv.key == self.keys.leader:
                self._leader_changed(None if ev.type == EVENT_DELETE else kv, rev)
            elif kv.key == self.keys.snapshot and ev.type != EVENT_DELETE:
                self.pointer = decode_pointer(kv.value)
            self.applied_revision = rev
        if not resp.events and not resp.created and resp.header.revision:
            # a progress notification: every event up to here was delivered
            self.applied_revision = max(self.applied_revision, resp.header.revision)
        self._after_events()

    def _after_events(self) -> None:
        self.head_revision = max(self.head_revision, self.log_revision)
        if self.applied_revision >= self.head_revision:
            self._caught_up_at = self.clock()
        self.election.applied(self.applied_revision)
        self.session.poke()
        while self._rev_waiters and self._rev_waiters[0][0] <= self.applied_revision:
            _, _, fut = heapq.heappop(self._rev_waiters)
            if not fut.done():
                fut.set_result(None)
        self._maybe_snapshot()

    def _apply_batch(self, value: bytes, rev: int) -> None:
        batch = decode_batch(value)
        first = self.seq.admit(batch)
        if first is None:
            self.skipped += 1
            return
        results = [self._apply_one(Entry(batch.term, first + i, data))
                   for i, data in enumerate(batch.entries)]
        self.log_revision = rev
        self._since_snap_entries += len(results)
        self._since_snap_bytes += len(value)
        pending = self._pending.pop((batch.term, batch.seq), None)
        if pending is not None:
            it = iter(results)
            for n, fut in pending[1]:
                part = [next(it) for _ in range(n)]
                if not fut.done():
                    fut.set_result(part)

    def _apply_one(self, entry: Entry) -> Any:
        try:
            return self._applier.apply(entry)
        except ControlError as exc:
            return exc

    def _leader_changed(self, kv, rev: int) -> None:
        holder = holder_of(kv)
        if rev > self._leader_read_rev:
            self.election.observed(holder)
        # nothing of any other term can commit after this revision: settle its proposals
        token = holder.token if holder is not None else -1
        for key in [k for k in self._pending if k[0] != token]:
            _, waiting = self._pending.pop(key)
            for _, fut in waiting:
                if not fut.done():
                    fut.set_exception(ControlError(
                        "not_leader", f"leadership changed before this write committed; it "
                        f"was not applied (replica {self.replica_id}); retry", 503))

    # ---- reads --------------------------------------------------------------------------
    async def read_barrier(self, timeout_s: float | None = None) -> int:
        """Wait until this replica has applied every batch committed before the call (etcd's
        linearizable Range gives the log's head). Returns that revision; raises 503 if etcd
        cannot be reached or the replica does not catch up in time."""
        timeout_s = timeout_s or self.read_timeout_s
        try:
            kvs, _ = await self.etcd.get(self.keys.log, keys_only=True, timeout_s=timeout_s)
        except EtcdError as exc:
            raise ControlError("unavailable", f"linearizable read impossible: etcd "
                               f"unreachable ({exc}); retry, or read with ?stale=true", 503
                               ) from None
        self._contact()
        head = kvs[0].mod_revision if kvs else 0
        self.head_revision = max(self.head_revision, head)
        await self.wait_applied(head, timeout_s)
        return head

    async def wait_applied(self, revision: int, timeout_s: float | None) -> None:
        if revision <= self.applied_revision:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiter_id += 1
        heapq.heappush(self._rev_waiters, (revision, self._waiter_id, fut))
        try:
            await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            raise ControlError("unavailable", f"replica {self.replica_id} has applied "
                               f"revision {self.applied_revision}, not yet {revision}; retry, "
                               "or read with ?stale=true", 503) from None
