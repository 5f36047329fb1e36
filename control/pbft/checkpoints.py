"""Checkpoints, watermarks, garbage collection and state transfer (OSDI '99 §4.3).

A part of ``PbftCore`` (see core.py). Every K sequence numbers a replica multicasts
CHECKPOINT(n, d) with the digest of its state after executing n; 2f+1 matching checkpoints
make it *stable*: the low watermark h moves to n and every log entry at or below n is
discarded (``RStable``), so the log holds at most L = ``log_size`` sequence numbers. A replica
that learns of a stable checkpoint above what it executed fetches the state instead (the
driver moves the bytes; the core checks them against the certified digest).
"""

from __future__ import annotations

from .config import Fetch
from .messages import Checkpoint, Signed, checkpoint_digest, decode_body, decode_client_table
from .quorum import largest_agreement
from .state import RMsg, RStable


class Checkpoints:
    def checkpoint(self, seq: int, app_digest: bytes) -> None:
        """The driver applied ``Execute(seq)`` (a checkpoint) and its state digest is
        ``app_digest``: multicast CHECKPOINT (§4.3)."""
        table = self.tables.pop(seq, None)
        if table is None:
            raise ValueError(f"no executed checkpoint awaits a digest at seq {seq}")
        digest = checkpoint_digest(seq, app_digest, table)
        st = self.state
        if seq <= st.stable_seq:
            if seq == st.stable_seq and digest != st.stable_digest:
                self.diverged = True
            return
        self._multicast(Checkpoint(seq, digest, self.id))
        self._check_stable(seq)

    def _on_checkpoint(self, ck: Checkpoint, signed: Signed) -> None:
        st = self.state
        if ck.seq <= st.stable_seq:
            self._drop("stale")
        elif ck.seq % self.cfg.checkpoint_interval:
            self._drop("invalid")
        elif ck.replica not in st.checkpoints.get(ck.seq, {}):
            self._record(RMsg(signed), ck)
            self._check_stable(ck.seq)

    def _check_stable(self, seq: int) -> None:
        by = self.state.checkpoints.get(seq, {})
        digest, voters = largest_agreement({r: ck.digest for r, (ck, _) in by.items()})
        if len(voters) >= self.q.quorum:
            proof = tuple(by[r][1] for r in voters[:self.q.quorum])
            self._make_stable(seq, digest, proof)

    def _make_stable(self, seq: int, digest: bytes, proof: tuple[Signed, ...]) -> None:
        """Advance the low watermark to a checkpoint proved stable (§4.3) and discard the
        log below it; the durable state is then rewritten whole (``Ready.reset``)."""
        st = self.state
        own = st.checkpoints.get(seq, {}).get(self.id)
        self._record(RStable(seq, digest, proof))
        self._reset = True
        self._forget_proofs()
        for s in [s for s in self.tables if s <= seq]:
            if s == seq and self.last_executed >= seq:
                continue        # the driver still owes this digest; compared on arrival
            del self.tables[s]
        if own is not None and own[0].digest != digest:
            self.diverged = True
        if self.last_executed < seq:
            self._begin_fetch(seq, digest, tuple(sorted(
                {self._author(s) for s in proof})))
        self.next_seq = max(self.next_seq, seq + 1)
        if self._is_primary():
            self._propose_batches()

    @staticmethod
    def _author(signed: Signed) -> int:
        return decode_body(signed.body).replica

    # ---- state transfer ----------------------------------------------------------------
    def _begin_fetch(self, seq: int, digest: bytes, replicas: tuple[int, ...]) -> None:
        if self.fetch is None or self.fetch.seq < seq:
            self.fetch = self._fetch_out = Fetch(seq, digest, replicas)

    def install_snapshot(self, seq: int, app_digest: bytes, client_table: bytes) -> bool:
        """The driver fetched a state for the awaited checkpoint: accept it (True) if its
        digest, with ``client_table``, is the certified one. The driver restores its
        application from the snapshot only after True."""
        f = self.fetch
        if f is None or seq != f.seq or checkpoint_digest(seq, app_digest, client_table) \
                != f.digest:
            return False
        try:
            table = decode_client_table(client_table)
        except ValueError:
            return False
        self.fetch = None
        self.last_executed, self.client_ts = seq, table
        for client in [c for c, (r, _) in self.pending.items()
                       if r.timestamp <= table.get(c, 0)]:
            del self.pending[client]
        self._try_execute()
        self._after_progress(executed=False)
        return True
