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
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from uqo.control.errors import ControlError

from .base import Applier, Log
from .election import LEADER, ElectionCore
from .etcd_apply import _Applying
from .etcd_batch import (
    MAX_BATCH_BYTES,
    Sequencer,
    SnapshotPointer,
)
from .etcd_client import (
    EtcdClient,
)
from .etcd_session import Session, holder_of
from .etcd_store import (
    Keys,
    check_identity,
)
from .etcd_write import _Writing, not_leader  # noqa: F401  (re-exported)

_LOG = logging.getLogger(__name__)



class EtcdLog(_Applying, _Writing, Log):
    """The replicated log on etcd (the module's docstring). The applying and writing sides are
    in ``etcd_apply.py`` and ``etcd_write.py``."""

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
        self.presence_extra: dict = {}     # more for this replica's presence record
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
        return {**self.presence_extra, "role": self.role,
                "applied_revision": self.applied_revision, "applied_index": self.seq.index}

    @property
    def role(self) -> str:
        if self.election.role == LEADER and not self.election.active:
            return "leader-catching-up"
        return self.election.role







    # ---- health, status, close ----------------------------------------------------------
    def _contact(self) -> None:
        self._last_contact = self.clock()

    @property
    def healthy(self) -> bool:
        """etcd answered recently: the watch, appends, reads or the session's keepalives
        (the only traffic of an idle cluster) keep this fresh."""
        last = max(self._last_contact, self.session.last_ok)
        return self.clock() - last < max(3.0, 1.5 * self.election.ttl_s)

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
