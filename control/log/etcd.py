"""``EtcdLog``: the replicated log on an etcd cluster, behind the same ``Log`` interface.

Use cases::

    log = EtcdLog(EtcdClient(endpoints), "r1", data_dir, prefix="/uqo", lease_ttl_s=2)
    log.on_role = lambda active, reason: ...      # start / stop the leader's work
    await log.open(applier)            # identity check, snapshot, catch up to etcd's head
    log.start_election("http://127.0.0.1:8081")   # campaign; the URL is what clients get
    results = await log.propose([payload])        # leader only: committed and applied
    await log.read_barrier()           # linearizable read: applied up to the head at call time
    await log.close()                  # resign (a successor is elected at once), release

Writes. Only the elected leader proposes. Queued proposals are packed into one *batch* (one
etcd value, under the 1.5 MiB request limit) and appended with a transaction that compares the
election key's create revision with the leader's token (``election.py``): a deposed or paused
leader's append fails in etcd itself. Up to ``max_inflight`` appends are in flight at once
(group commit: while they are, the next batch gathers); a scheduling decision never waits
behind a client's write. An append whose outcome is unknown (a timeout, an etcd member killed
mid-call) is sent again with the same ``(term, seq)``; replicas apply a batch once.

Applying. Every replica, the leader included, applies by one watch on ``P/ctl/`` from its last
applied revision: log batches in revision order, the election key's changes, snapshot pointers.
A proposal resolves when the watch applies its batch, with the state machine's results, so the
leader applies exactly what followers apply, in the same order. When the election key leaves a
term, nothing of that term can commit afterwards: its proposals still unapplied then are
refused as not committed. A replica cut off from etcd cannot know; after ``unknown_after_s`` its
proposals fail as ``outcome_unknown`` (503: retry; submits are idempotent by task id).

Reads. ``read_barrier`` asks etcd (a linearizable Range, etcd's ReadIndex) for the log's latest
revision and waits until this replica has applied it, so a read sees every write acknowledged
before it began, on any replica.

Snapshots. The leader snapshots the applied state every ``snapshot_every`` entries or
``snapshot_bytes`` of log and stores it in etcd (``etcd_store.py``: content-addressed chunks, a
fenced pointer). Then, and only then, etcd is compacted, to the *previous* snapshot's revision
(so a follower one snapshot behind still catches up by watch). A replica whose revision was
compacted away reloads the latest snapshot. etcd's auto-compaction must be off.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from uqo.control.errors import ControlError
from uqo.control.tracing import commit_span

from .base import Applier, Entry, Log, Snapshot, SnapshotMeta
from .election import LEADER, ElectionCore
from .etcd_batch import (
    MAX_BATCH_BYTES,
    MAX_COMMAND_BYTES,
    Batch,
    Sequencer,
    SnapshotPointer,
    decode_batch,
    decode_pointer,
    encode_batch,
    pack,
)
from .etcd_client import (
    EVENT_DELETE,
    EtcdClient,
    EtcdCompacted,
    EtcdError,
    EtcdUnavailable,
    cmp_create_revision,
    op_put,
)
from .etcd_session import Session, holder_of
from .etcd_store import (
    Keys,
    check_identity,
    drop_snapshot,
    read_snapshot,
    write_snapshot,
)

_LOG = logging.getLogger(__name__)


def not_leader(replica_id: str, holder) -> ControlError:
    where = (f"the leader is {holder.replica_id} at {holder.url}"
             if holder is not None and holder.url else "no leader is known yet")
    return ControlError("not_leader", f"replica {replica_id} is not the leader; {where}; "
                        "retry there (or through any replica, which forwards)", 503)


class EtcdLog(Log):
    def __init__(self, etcd: EtcdClient, replica_id: str, data_dir: str, *,
                 prefix: str = "/uqo", lease_ttl_s: int = 2, snapshot_every: int = 100_000,
                 snapshot_bytes: int = 16 << 20, max_batch_bytes: int = MAX_BATCH_BYTES,
                 read_timeout_s: float = 5.0, unknown_after_s: float | None = None,
                 max_inflight: int = 4, clock=time.monotonic):
        self.etcd, self.replica_id, self.data_dir = etcd, replica_id, data_dir
        self.keys = Keys(prefix)
        self.snapshot_every, self.snapshot_bytes = snapshot_every, snapshot_bytes
        self.max_batch_bytes, self.read_timeout_s = max_batch_bytes, read_timeout_s
        self.unknown_after_s = unknown_after_s or 3.0 * lease_ttl_s
        self.clock = clock
        self.election = ElectionCore(replica_id, lease_ttl_s)
        self.session = Session(etcd, self.keys, self.election, replica_id,
                               self._election_ready, self._presence, clock)
        self.on_role: Callable[[bool, str], None] | None = None
        self.cluster_id = ""
        self.seq = Sequencer()
        self.applied_revision = 0          # every P/ctl/ event up to here is applied
        self.log_revision = 0              # revision of the last log batch applied
        self.head_revision = 0             # the log's head as last learnt from etcd
        self._caught_up_at = clock()       # when applied last reached the known head
        self.pointer: SnapshotPointer | None = None
        self._applier: Applier | None = None
        self._leader_read_rev = 0
        self._queue: deque[tuple[Sequence[bytes], asyncio.Future, int]] = deque()
        self._pending: dict[tuple[int, int], tuple[float, list]] = {}
        self._next_seq = 0
        self._rev_waiters: list[tuple[int, int, asyncio.Future]] = []
        self._waiter_id = 0
        self._wake_writer = asyncio.Event()
        self._inflight = asyncio.Semaphore(max_inflight)
        self._appends: set[asyncio.Task] = set()
        self._tasks: list[asyncio.Task] = []
        self._snap_task: asyncio.Task | None = None
        self._since_snap_entries = self._since_snap_bytes = 0
        self._closing = False
        self._last_contact = 0.0
        self.batches = self.entries_written = self.append_retries = self.skipped = 0
        self.watch_restarts = self.snapshot_reloads = self.snapshots_written = 0
        self.replayed = 0
        self.recovery_s = 0.0

    @property
    def is_leader(self) -> bool:
        return self.election.is_leader

    @property
    def leader(self):
        """The leader as last observed (``Holder``) or None."""
        return self.election.holder

    # ---- open: identity, snapshot, catch up ---------------------------------------------
    async def open(self, applier: Applier) -> None:
        t0 = time.perf_counter()
        self._applier = applier
        self.cluster_id = await check_identity(self.etcd, self.keys, self.data_dir)
        await self._load_snapshot()
        kvs, rev = await self.etcd.get(self.keys.leader)
        self._leader_read_rev = rev
        holder = holder_of(kvs[0]) if kvs else None
        self.election.holder = holder
        head_kvs, _ = await self.etcd.get(self.keys.log, keys_only=True)
        self.head_revision = head_kvs[0].mod_revision if head_kvs else 0
        self._contact()
        start_rev = self.applied_revision
        self._tasks.append(asyncio.create_task(self._watch_loop(), name="uqo-etcd-watch"))
        await self.wait_applied(self.head_revision, timeout_s=None)
        self.replayed = self.seq.index - (self.pointer.index if self.pointer else 0)
        self._tasks.append(asyncio.create_task(self._write_loop(), name="uqo-etcd-writer"))
        self._tasks.append(asyncio.create_task(self._settle_loop(), name="uqo-etcd-settle"))
        self.election.start(holder, self.clock())
        self.recovery_s = time.perf_counter() - t0
        _LOG.info("etcd log open: cluster %s, snapshot at %d, caught up %d -> %d",
                  self.cluster_id, self.pointer.revision if self.pointer else 0, start_rev,
                  self.applied_revision)

    def start_election(self, url: str) -> None:
        """Campaign from now on; ``url`` is where clients reach this replica."""
        self.session.start(url)

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

    # ---- elections ----------------------------------------------------------------------
    def _election_ready(self, ready) -> None:
        if ready.deactivate is not None:
            _LOG.warning("replica %s stops leading: %s", self.replica_id, ready.deactivate)
            self._refuse_queued()
            if self.on_role is not None:
                self.on_role(False, ready.deactivate)
        if ready.activate:
            self._next_seq = 0
            self._since_snap_entries = self._since_snap_bytes = 0
            _LOG.warning("replica %s leads (token %d) from revision %d", self.replica_id,
                         self.election.token, self.applied_revision)
            if self.on_role is not None:
                self.on_role(True, "elected")

    def _presence(self) -> dict:
        return {"role": self.role, "applied_revision": self.applied_revision,
                "applied_index": self.seq.index}

    @property
    def role(self) -> str:
        if self.election.role == LEADER and not self.election.active:
            return "leader-catching-up"
        return self.election.role

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

    # ---- health, status, close ----------------------------------------------------------
    def _contact(self) -> None:
        self._last_contact = self.clock()

    @property
    def healthy(self) -> bool:
        """etcd answered recently (keepalives and the watch keep this fresh)."""
        return self.clock() - self._last_contact < max(3.0, 1.5 * self.election.ttl_s)

    def lag_seconds(self) -> float:
        """0 while this replica has applied the log's head as far as it knows it; otherwise
        the seconds since it last had (the age of the oldest unapplied write it knows of, at
        most)."""
        if self.applied_revision >= self.head_revision:
            return 0.0
        return max(0.0, self.clock() - self._caught_up_at)

    def status(self) -> dict:
        holder = self.election.holder
        replicas = {}
        for rid, rec in self.session.replicas.items():
            replicas[rid] = {
                "role": rec.get("role"), "url": rec.get("url"),
                "applied_revision": rec.get("applied_revision"),
                "lag_revisions": max(0, self.applied_revision - int(rec.get(
                    "applied_revision", 0))),
                "lag_entries": max(0, self.seq.index - int(rec.get("applied_index", 0))),
                "age_s": round(max(0.0, time.time() - float(rec.get("at", 0))), 3)}
        remaining = (max(0.0, self.election.lease_deadline - self.clock())
                     if self.election.has_lease else 0.0)
        return {
            "mode": "etcd", "cluster_id": self.cluster_id, "replica_id": self.replica_id,
            "role": self.role, "is_leader": self.is_leader,
            "leader_id": holder.replica_id if holder else None,
            "leader_url": holder.url if holder else None,
            "term": holder.token if holder else 0,
            "lease": {"id": self.session.lease_id, "ttl_s": self.session.lease_ttl,
                      "remaining_s": round(remaining, 3)},
            "endpoints": self.etcd.endpoints, "etcd_failovers": self.etcd.failovers,
            "applied_revision": self.applied_revision, "applied_index": self.seq.index,
            "commit_index": self.seq.index, "head_revision": self.head_revision,
            "snapshot_index": self.pointer.index if self.pointer else 0,
            "snapshot_revision": self.pointer.revision if self.pointer else 0,
            "snapshots_written": self.snapshots_written,
            "snapshot_reloads": self.snapshot_reloads, "replicas": replicas,
            "batches": self.batches, "entries_written": self.entries_written,
            "mean_batch": self.entries_written / self.batches if self.batches else 0.0,
            "append_retries": self.append_retries, "duplicates_skipped": self.skipped,
            "watch_restarts": self.watch_restarts, "terms_won": self.election.terms,
            "leader_changes": self.election.leader_changes,
            "lag_s": self.lag_seconds(),
            "last_step_down": self.election.last_reason or None,
            "replayed_on_start": self.replayed, "recovery_s": self.recovery_s,
            "healthy": self.healthy,
        }

    async def close(self) -> None:
        """Resign (the lease is revoked, so another replica is elected at once), finish the
        append in flight, stop the watch and release the channels."""
        self._closing = True
        await self.session.stop()
        self._refuse_queued()
        self._wake_writer.set()
        if self._appends:
            await asyncio.gather(*self._appends, return_exceptions=True)
        if self._snap_task is not None:
            await asyncio.gather(self._snap_task, return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for key in list(self._pending):
            self._fail_pending(key, ControlError.unavailable("the replica is shutting down"))
        await self.etcd.close()
