"""The writing side of ``EtcdLog`` (``etcd.py`` holds the contract): proposals queued
and packed into batches, fenced appends with group commit, retries of unknown outcomes, the
settling of proposals a lost term can no longer commit, and the leader's snapshots.

A mixin of ``EtcdLog`` only: it reads and writes the log's attributes set in
``EtcdLog.__init__`` (queue, pending proposals, in-flight appends, snapshot counters).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from uqo.control.errors import ControlError
from uqo.control.tracing import commit_span

from .etcd_batch import (
    MAX_COMMAND_BYTES,
    Batch,
    SnapshotPointer,
    encode_batch,
    pack,
)
from .etcd_client import (
    EtcdError,
    EtcdUnavailable,
    cmp_create_revision,
    op_put,
)
from .etcd_store import (
    drop_snapshot,
    write_snapshot,
)

_LOG = logging.getLogger(__name__)

def not_leader(replica_id: str, holder) -> ControlError:
    where = (f"the leader is {holder.replica_id} at {holder.url}"
             if holder is not None and holder.url else "no leader is known yet")
    return ControlError("not_leader", f"replica {replica_id} is not the leader; {where}; "
                        "retry there (or through any replica, which forwards)", 503)


class _Writing:
    # ---- proposals ----------------------------------------------------------------------
    async def propose(self, payloads: Sequence[bytes]) -> list[Any]:
        if self._closing:
            raise ControlError.unavailable("the log is shutting down")
        if not self.election.is_leader:
            raise not_leader(self.replica_id, self.election.holder)
        if not payloads:
            return []
        size = sum(len(p) for p in payloads)
        if size > MAX_COMMAND_BYTES:
            raise ControlError("too_large", f"{size} bytes in one command; the etcd log takes "
                               f"at most {MAX_COMMAND_BYTES} (etcd's request limit): submit "
                               "fewer tasks per batch", 413)
        with commit_span("etcd", len(payloads)):
            fut = asyncio.get_running_loop().create_future()
            self._queue.append((payloads, fut, size))
            self._wake_writer.set()
            return await fut

    async def _write_loop(self) -> None:
        while not self._closing or self._queue:
            if not self._queue:
                self._wake_writer.clear()
                await self._wake_writer.wait()
                continue
            await self._inflight.acquire()
            if not self._queue:
                self._inflight.release()
                continue
            if not self.election.is_leader:
                self._inflight.release()
                self._refuse_queued()
                continue
            n = pack([item[2] for item in self._queue], self.max_batch_bytes)
            items = [self._queue.popleft() for _ in range(n)]
            self._next_seq += 1
            term, seq = self.election.token, self._next_seq
            entries = [bytes(p) for payloads, _, _ in items for p in payloads]
            self._pending[(term, seq)] = (self.clock(), [(len(p), f) for p, f, _ in items])
            task = asyncio.create_task(self._append_one(Batch(term, seq, entries)))
            self._appends.add(task)
            task.add_done_callback(self._appends.discard)

    async def _append_one(self, batch: Batch) -> None:
        try:
            await self._append(batch)
        finally:
            self._inflight.release()

    async def _append(self, batch: Batch) -> None:
        value = encode_batch(batch)
        while self.election.is_leader and self.election.token == batch.term:
            try:
                resp = await self.etcd.txn([cmp_create_revision(self.keys.leader, batch.term)],
                                           [op_put(self.keys.log, value)])
            except EtcdUnavailable as exc:
                self.append_retries += 1
                _LOG.info("append (%d, %d) outcome unknown, sending again: %s", batch.term,
                          batch.seq, exc)
                await asyncio.sleep(0.02)
                continue
            except EtcdError as exc:      # refused outright (e.g. too large): not applied
                self._fail_pending((batch.term, batch.seq), ControlError.unavailable(
                    f"etcd refused the append: {exc}"))
                return
            self._contact()
            if resp.succeeded:
                self.batches += 1
                self.entries_written += len(batch.entries)
                self.head_revision = max(self.head_revision, resp.header.revision)
            else:
                self.election.fenced(batch.term)
                self.session.poke()
            return

    def _refuse_queued(self) -> None:
        err = not_leader(self.replica_id, self.election.holder)
        while self._queue:
            _, fut, _ = self._queue.popleft()
            if not fut.done():
                fut.set_exception(err)

    def _fail_pending(self, key, exc: ControlError) -> None:
        _, waiting = self._pending.pop(key, (0.0, []))
        for _, fut in waiting:
            if not fut.done():
                fut.set_exception(exc)

    async def _settle_loop(self) -> None:
        """Proposals of a term this replica no longer leads, unsettled for ``unknown_after_s``
        (etcd unreachable, so the watch cannot tell): their outcome is unknown."""
        while not self._closing:
            await asyncio.sleep(0.25)
            now, token = self.clock(), self.election.token
            for key, (since, _) in list(self._pending.items()):
                if key[0] != token and now - since > self.unknown_after_s:
                    self._fail_pending(key, ControlError(
                        "outcome_unknown", "etcd became unreachable while this write was "
                        "in flight; it may or may not have been applied: retry (submits "
                        "with the same task id are recognised)", 503))

    # ---- snapshots ----------------------------------------------------------------------
    def _maybe_snapshot(self) -> None:
        if not self.election.is_leader or self._applier is None:
            return
        due = (self._since_snap_entries >= self.snapshot_every
               or self._since_snap_bytes >= self.snapshot_bytes)
        if due and (self._snap_task is None or self._snap_task.done()):
            self._since_snap_entries = self._since_snap_bytes = 0
            snap = self._applier.snapshot()           # on the loop: the state is still
            self._snap_task = asyncio.create_task(self._save_snapshot(snap.data,
                                                                      self._position()))

    async def snapshot_now(self) -> SnapshotPointer | None:
        """Snapshot what is applied now (leader only; tests and benchmarks)."""
        if self._snap_task is not None:
            await self._snap_task
        if not self.election.is_leader:
            return None
        snap = self._applier.snapshot()
        await self._save_snapshot(snap.data, self._position())
        return self.pointer

    def _position(self) -> tuple:
        return (self.applied_revision, self.seq.index, self.seq.term, self.seq.seq,
                sorted(self.seq.above))

    async def _save_snapshot(self, data: bytes, position) -> None:
        revision, index, term, seq, above = position
        previous, token = self.pointer, self.election.token
        try:
            ptr = await write_snapshot(self.etcd, self.keys, data, revision=revision,
                                       index=index, term=term, seq=seq, above=above,
                                       replica_id=self.replica_id, token=token)
            if ptr is None:
                return
            self.snapshots_written += 1
            self.pointer = ptr
            if previous is not None:
                # durable now: history before the previous snapshot is no longer needed
                await self.etcd.compact(previous.revision)
                if previous.sha256 != ptr.sha256:
                    await drop_snapshot(self.etcd, self.keys, previous.sha256, token)
        except EtcdError as exc:
            _LOG.warning("snapshot at revision %d not saved: %s", revision, exc)
