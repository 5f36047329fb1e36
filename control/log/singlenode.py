"""The single-node ``Log``: commit = durable on this disk, with group commit and snapshots.

Use cases::

    log = SingleNodeLog(WalStorage(data_dir), snapshot_every=100_000)
    await log.open(applier)                 # restore snapshot, replay the tail
    results = await log.propose([payload])  # durable (fsync'd) and applied when it returns
    await log.close()                       # drain, sync, release

Group commit: proposals queue while the previous batch is being written; one writer task takes
everything queued (up to ``max_batch`` entries), appends it with one ``fdatasync`` in an I/O
thread, then applies the entries in order on the event loop and resolves the proposals. Under
load, many commands share one fsync; idle, a proposal waits for a single fsync.

Snapshots: every ``snapshot_every`` applied entries or ``snapshot_bytes`` of appended payload
(whichever comes first: a batch entry may carry 10,000 tasks) the applier's snapshot is taken
(on the loop: the state must not change while it is encoded), written in a second thread, and
the WAL is compacted up to it, so recovery reads one snapshot plus a bounded tail.

A failed write is fatal for this log (after a failed fsync the kernel may have dropped the dirty
pages, so nothing about the file can be trusted): the pending proposals get the error, later ones
are refused as unavailable, and ``status()["healthy"]`` turns false.

Tracing: each ``propose`` is a ``log.commit`` span (``uqo.control.tracing.commit_span``), each
batch written a ``log.append`` span (entries, fsync seconds) linked to the commits it carried:
one fsync shared by many proposals shows as one span with many links.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from opentelemetry import trace
from uqo.control.errors import ControlError
from uqo.control.tracing import MAX_LINKS, TRACER, commit_span, mark_failed

from .base import Applier, Entry, HardState, Log, LogStorage

_LOG = logging.getLogger(__name__)
_REPLAY_CHUNK = 10_000


class SingleNodeLog(Log):
    def __init__(self, storage: LogStorage, snapshot_every: int = 100_000,
                 max_batch: int = 50_000, node_id: str = "node-1",
                 snapshot_bytes: int = 16 << 20):
        for name, value in (("snapshot_every", snapshot_every), ("max_batch", max_batch),
                            ("snapshot_bytes", snapshot_bytes)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        self.storage, self.snapshot_every, self.max_batch = storage, snapshot_every, max_batch
        self.snapshot_bytes = snapshot_bytes
        self._bytes_since_snapshot = 0
        self.node_id = node_id
        # (payloads, future resolved with their results, the proposer's span context)
        self._queue: deque[tuple[Sequence[bytes], asyncio.Future, trace.SpanContext]] = deque()
        self._wake = asyncio.Event()
        self._writer: asyncio.Task | None = None
        self._snap_task: asyncio.Task | None = None
        self._applier: Applier | None = None
        self._failed: BaseException | None = None
        self._closing = False
        self.term = self.last_index = self.applied_index = self.snapshot_index = 0
        self.batches = self.entries_written = 0
        self.replayed = 0
        self.recovery_s = 0.0
        self.last_fsync_s = 0.0
        self._io = ThreadPoolExecutor(1, thread_name_prefix="uqo-wal")
        self._snap_io = ThreadPoolExecutor(1, thread_name_prefix="uqo-snap")

    @property
    def is_leader(self) -> bool:
        return True

    # ---- recovery -----------------------------------------------------------------------
    async def open(self, applier: Applier) -> None:
        loop, t0 = asyncio.get_running_loop(), time.perf_counter()
        self._applier = applier
        hard, meta = await loop.run_in_executor(self._io, self.storage.initial_state)
        snap = await loop.run_in_executor(self._io, self.storage.load_snapshot)
        if snap is not None:
            applier.restore(snap)
        self.applied_index = self.snapshot_index = meta.index
        self.last_index = await loop.run_in_executor(self._io, self.storage.last_index)
        await self._replay(loop)
        # a single node elects itself on every start: a new term, as Raft would
        self.term = hard.term + 1
        state = HardState(self.term, self.node_id, self.last_index)
        await loop.run_in_executor(self._io, self.storage.set_hard_state, state)
        self.recovery_s = time.perf_counter() - t0
        self._writer = asyncio.create_task(self._write_loop(), name="uqo-log-writer")

    async def _replay(self, loop) -> None:
        lo = self.applied_index + 1
        while lo <= self.last_index:
            hi = min(lo + _REPLAY_CHUNK, self.last_index + 1)
            chunk = await loop.run_in_executor(self._io, self.storage.entries, lo, hi)
            for entry in chunk:
                self._apply_one(entry)
            self.replayed += len(chunk)
            lo = hi

    # ---- proposals ----------------------------------------------------------------------
    async def propose(self, payloads: Sequence[bytes]) -> list[Any]:
        if self._failed is not None:
            raise ControlError.unavailable(f"the log failed and refuses writes: {self._failed}")
        if self._closing or self._writer is None:
            raise ControlError.unavailable("the log is not open (starting or shutting down)")
        if not payloads:
            return []
        with commit_span("single-node", len(payloads)) as span:
            fut = asyncio.get_running_loop().create_future()
            self._queue.append((payloads, fut, span.get_span_context()))
            self._wake.set()
            return await fut

    async def _write_loop(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._commit(self._take_batch())

    def _take_batch(self) -> list[tuple[Sequence[bytes], asyncio.Future, trace.SpanContext]]:
        batch, n = [], 0
        while self._queue and (not batch or n + len(self._queue[0][0]) <= self.max_batch):
            item = self._queue.popleft()
            batch.append(item)
            n += len(item[0])
        return batch

    async def _commit(self, batch) -> None:
        entries, index = [], self.last_index
        for payloads, _, _ in batch:
            for data in payloads:
                index += 1
                entries.append(Entry(self.term, index, bytes(data)))
        t0 = time.perf_counter()
        links = [trace.Link(ctx) for _, _, ctx in batch if ctx.is_valid]
        with TRACER.start_as_current_span("log.append", links=links[:MAX_LINKS], attributes={
                "uqo.log.entries": len(entries), "uqo.log.first_index": entries[0].index,
                "uqo.log.proposals": len(batch)}) as span:
            try:
                await asyncio.get_running_loop().run_in_executor(self._io, self.storage.append,
                                                                 entries)
            except Exception as exc:  # noqa: BLE001 - disk full, EIO: the log is no longer trusted
                mark_failed(exc)
                self._fail(exc, batch)
                return
            self.last_fsync_s = time.perf_counter() - t0
            span.set_attribute("uqo.log.fsync_s", self.last_fsync_s)
        self.last_index = index
        self._bytes_since_snapshot += sum(len(e.data) for e in entries)
        self.batches += 1
        self.entries_written += len(entries)
        self._resolve(batch, iter(entries))
        self._maybe_snapshot()

    def _resolve(self, batch, entries) -> None:
        for payloads, fut, _ in batch:
            results = [self._apply_one(next(entries)) for _ in payloads]
            if not fut.done():
                fut.set_result(results)

    def _apply_one(self, entry: Entry) -> Any:
        try:
            result = self._applier.apply(entry)
        except ControlError as exc:
            result = exc
        self.applied_index = entry.index
        return result

    def _fail(self, exc: BaseException, batch) -> None:
        _LOG.critical("log append failed; refusing further writes: %r", exc)
        self._failed = exc
        for _, fut, _ in list(batch) + list(self._queue):
            if not fut.done():
                fut.set_exception(ControlError.unavailable(f"log write failed: {exc}"))
        self._queue.clear()

    # ---- snapshots ----------------------------------------------------------------------
    def _maybe_snapshot(self) -> None:
        due = (self.applied_index - self.snapshot_index >= self.snapshot_every
               or self._bytes_since_snapshot >= self.snapshot_bytes)
        if due and (self._snap_task is None or self._snap_task.done()):
            self._bytes_since_snapshot = 0
            snap = self._applier.snapshot()
            self._snap_task = asyncio.create_task(self._save_snapshot(snap))

    async def snapshot_now(self) -> None:
        """Take and save a snapshot of everything applied so far (tests, shutdown)."""
        if self._snap_task is not None:
            await self._snap_task
        if self.applied_index > self.snapshot_index:
            await self._save_snapshot(self._applier.snapshot())

    async def _save_snapshot(self, snap) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._snap_io, self.storage.save_snapshot, snap)
            await loop.run_in_executor(self._io, self.storage.compact, snap.meta.index)
        except Exception:  # noqa: BLE001 - the WAL still holds everything: slower recovery only
            _LOG.exception("snapshot at index %d failed", snap.meta.index)
            return
        self.snapshot_index = snap.meta.index

    # ---- shutdown and status ------------------------------------------------------------
    async def close(self, snapshot: bool = True) -> None:
        """Drain proposals, then (``snapshot``, and if anything is new) save a snapshot so the
        next start loads it instead of replaying the tail; release files."""
        self._closing = True
        self._wake.set()
        if self._writer is not None:
            await self._writer
        if self._snap_task is not None:
            await self._snap_task
        if snapshot and self._failed is None and self._applier is not None:
            await self.snapshot_now()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._io, self.storage.close)
        self._io.shutdown(wait=True)
        self._snap_io.shutdown(wait=True)

    def status(self) -> dict:
        return {
            "mode": "single-node", "node_id": self.node_id, "is_leader": True,
            "term": self.term, "commit_index": self.last_index,
            "applied_index": self.applied_index, "snapshot_index": self.snapshot_index,
            "batches": self.batches, "entries_written": self.entries_written,
            "mean_batch": self.entries_written / self.batches if self.batches else 0.0,
            "last_fsync_s": self.last_fsync_s, "replayed_on_start": self.replayed,
            "recovery_s": self.recovery_s, "healthy": self._failed is None,
        }
