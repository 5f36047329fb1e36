"""Executing committed batches and moving snapshots: a part of ``PbftLog`` (pbftlog.py).

Each executed request's payloads are applied in order as consecutive entries (a payload the
applier cannot decode yields the same ``ControlError`` at every replica); at a checkpoint the
applier's snapshot is taken, its digest handed to the core, and it is kept to serve peers that
fetch it (§4.3 state transfer); a fetched state is installed only if the core accepts its
digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import msgspec

from ..errors import ControlError
from ..log import Entry, Snapshot, SnapshotMeta
from .config import Execute
from .messages import MalformedMessage

_LOG = logging.getLogger(__name__)
_PAYLOADS = msgspec.msgpack.Decoder(list[bytes])
_APP = msgspec.msgpack.Decoder(tuple[int, int, bytes])


def encode_app(snap: Snapshot) -> bytes:
    return msgspec.msgpack.encode([snap.meta.index, snap.meta.term, snap.data])


def decode_app(data: bytes) -> Snapshot:
    index, term, body = _APP.decode(data)
    return Snapshot(SnapshotMeta(index, term), body)


def _log_failure(fut) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        _LOG.error("saving a PBFT snapshot failed: %r", fut.exception())


class ExecutionMixin:
    """Needs the driver's ``core``, ``_applier``, ``storage``, ``transport``, ``_io``,
    ``_outstanding``, ``_queue``, ``_wake`` and counters (``PbftLog.__init__``)."""

    # ---- execution ---------------------------------------------------------------------
    def _execute(self, e: Execute) -> None:
        for req in e.requests:
            try:
                payloads = _PAYLOADS.decode(req.op)
            except (msgspec.DecodeError, msgspec.ValidationError):
                payloads = []                 # a Byzantine client's junk: no entries anywhere
            results = [self._apply(Entry(e.seq, self.applied_index + 1, data))
                       for data in payloads]
            self.executed_requests += 1
            if req.client == self.opts.me and self._outstanding is not None \
                    and self._outstanding[0] == req.timestamp:
                self._resolve(results)
        if e.client_table is not None:
            snap = self._applier.snapshot()
            app = encode_app(snap)
            self.core.checkpoint(e.seq, hashlib.sha256(app).digest())
            self._keep_snapshot(e.seq, app, e.client_table)

    def _apply(self, entry: Entry) -> Any:
        self.applied_index = entry.index
        try:
            return self._applier.apply(entry)
        except ControlError as exc:
            return exc
        except (msgspec.DecodeError, msgspec.ValidationError, MalformedMessage) as exc:
            return ControlError("invalid_command", f"entry {entry.index} is not a command: "
                                f"{exc}", 400)

    def _resolve(self, results: list) -> None:
        _, taken = self._outstanding
        self._outstanding = None
        pos = 0
        for count, fut in taken:
            if not fut.done():
                fut.set_result(results[pos:pos + count])
            pos += count
        self._wake.set()

    def _fail_pending(self, exc: Exception) -> None:
        futures = [f for _, f in self._queue]
        if self._outstanding is not None:
            futures += [f for _, f in self._outstanding[1]]
        self._queue.clear()
        self._outstanding = None
        for fut in futures:
            if not fut.done():
                fut.set_exception(exc)

    # ---- snapshots and state transfer --------------------------------------------------
    def _keep_snapshot(self, seq: int, app: bytes, table: bytes) -> None:
        """Serve it from memory at once; store it in the background (no ordering is needed:
        a replica whose snapshot did not reach the disk fetches it again after a crash)."""
        self._snap = (seq, app, table)
        fut = asyncio.get_running_loop().run_in_executor(self._io, self.storage.save_snapshot,
                                                         seq, app, table)
        fut.add_done_callback(_log_failure)

    def _serve_state(self, seq: int) -> tuple[bytes, bytes] | None:
        if self._snap is not None and self._snap[0] == seq:
            return self._snap[1], self._snap[2]
        return self.storage.read_snapshot(seq)

    async def _fetch(self, fetch) -> None:
        for replica in fetch.replicas:
            if replica == self.index:
                continue
            got = await self.transport.fetch_state(self.names[replica], fetch.seq)
            if got is not None:
                self._states.append((fetch.seq, *got))
                self._wake.set()
                return

    def _install(self, seq: int, app: bytes, table: bytes) -> None:
        if not self.core.install_snapshot(seq, hashlib.sha256(app).digest(), table):
            self.dropped["bad_state"] = self.dropped.get("bad_state", 0) + 1
            return
        snap = decode_app(app)
        self._applier.restore(snap)
        self.applied_index = snap.meta.index
        self.state_installs += 1
        self._keep_snapshot(seq, app, table)
        mine = self._outstanding
        if mine is not None and self.core.client_ts.get(self.opts.me, 0) >= mine[0]:
            lost = ControlError("result_unavailable", "committed while this replica was "
                                "catching up by state transfer: the command is in the state, "
                                "its result was computed elsewhere", 503)
            self._resolve([lost] * sum(count for count, _ in mine[1]))
