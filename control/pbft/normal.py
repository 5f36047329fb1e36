"""Normal-case operation (OSDI '99 §4.1-§4.2) and request batching (TOCS 2002).

A part of ``PbftCore`` (a mixin over its state; see core.py). The primary assigns sequence
numbers to batches of client requests (PRE-PREPARE); a backup that accepts a pre-prepare
multicasts PREPARE; a replica that is *prepared* (the pre-prepare and 2f matching prepares)
multicasts COMMIT; one that is *committed-local* (prepared and 2f+1 matching commits) executes
the batch once every lower sequence number has executed.
"""

from __future__ import annotations

from .config import Execute
from .messages import (
    Commit,
    Prepare,
    PreparedProof,
    PrePrepare,
    Request,
    Signed,
    batch_digest,
    client_table_bytes,
    decode_body,
)
from .quorum import matching
from .state import RMsg, RPrepared, Slot


class NormalCase:
    # ---- requests (§4.1) ---------------------------------------------------------------
    def _on_request(self, req: Request, signed: Signed) -> None:
        """A client's request: execute at most once (timestamps above the client's last
        executed one), remember it as pending (it arms the §4.4 timer) and get it to the
        primary."""
        last = self.client_ts.get(req.client, 0)
        if req.timestamp <= last:
            if req.timestamp == last:
                self._replies.append((req.client, req.timestamp))   # resend the reply
            else:
                self._drop("replayed_request")
            return
        if not self._note_request(req, signed):
            return
        if not self.state.normal:
            return
        if self._is_primary():
            self._propose_batches()
        else:
            self._send(self.q.primary(self.state.view), signed)

    def _note_request(self, req: Request, signed: Signed) -> bool:
        """Keep ``req`` as its client's pending request if it is newer than the one held."""
        cur = self.pending.get(req.client)
        if cur is not None and cur[0].timestamp >= req.timestamp:
            return False
        self.pending.pop(req.client, None)
        self.pending[req.client] = (req, signed)
        if self.vc_deadline is None and self.state.normal:
            self.vc_deadline = self.now + self._timeout()
        return True

    def _propose_batches(self) -> None:
        """Primary: assign the next sequence numbers to batches of pending requests while
        fewer than ``max_inflight`` are unexecuted and the high watermark allows (§4.3)."""
        st, cfg = self.state, self.cfg
        while st.normal and self._is_primary():
            done = max(self.last_executed, st.stable_seq)
            seq = max(self.next_seq, st.stable_seq + 1)
            if seq - 1 - done >= cfg.max_inflight or seq > st.stable_seq + cfg.log_size \
                    or self._muted(st.view, seq):
                return
            batch = tuple(s for c, (r, s) in self.pending.items()
                          if self.proposed.get(c, 0) < r.timestamp)[:cfg.max_batch]
            if not batch:
                return
            for s in batch:
                r = self._request(s)
                self.proposed[r.client] = r.timestamp
            self._multicast(PrePrepare(st.view, seq, batch_digest(batch), batch, self.id))
            self.next_seq = seq + 1
            self._check_slot(seq)

    # ---- the three phases (§4.2) -------------------------------------------------------
    def _in_window(self, view: int, seq: int) -> bool:
        st = self.state
        if not st.normal or view != st.view:
            return False
        return st.stable_seq < seq <= st.stable_seq + self.cfg.log_size

    def _on_preprepare(self, pp: PrePrepare, signed: Signed) -> None:
        if not self._in_window(pp.view, pp.seq):
            self._drop("stale")
        elif not self.op.preprepare_ok(pp):
            self._drop("invalid")
        else:
            slot = self.state.slots.get(pp.seq)
            if slot is not None and slot.pp is not None:
                if slot.pp[0].digest != pp.digest:
                    self._drop("equivocation")
                return
            self._accept_preprepare(pp, signed)

    def _accept_preprepare(self, pp: PrePrepare, signed: Signed) -> None:
        """Log the pre-prepare; a backup multicasts its PREPARE (§4.2)."""
        self._record(RMsg(signed), pp)
        for s in pp.batch:
            r = self._request(s)
            if r.timestamp > self.client_ts.get(r.client, 0):
                self._note_request(r, s)
        if not self._is_primary(pp.view) and not self._muted(pp.view, pp.seq):
            self._multicast(Prepare(pp.view, pp.seq, pp.digest, self.id))
        self._check_slot(pp.seq)

    def _on_prepare(self, p: Prepare, signed: Signed) -> None:
        if not self._in_window(p.view, p.seq):
            self._drop("stale")
        elif p.replica == self.q.primary(p.view):
            self._drop("invalid")                   # the primary does not prepare
        else:
            slot = self.state.slots.get(p.seq)
            if slot is None or p.replica not in slot.prepares:
                self._record(RMsg(signed), p)
                self._check_slot(p.seq)

    def _on_commit(self, c: Commit, signed: Signed) -> None:
        if not self._in_window(c.view, c.seq):
            self._drop("stale")
        else:
            slot = self.state.slots.get(c.seq)
            if slot is None or c.replica not in slot.commits:
                self._record(RMsg(signed), c)
                self._check_slot(c.seq)

    def _prepared_voters(self, slot: Slot) -> list[int] | None:
        """§4.2 prepared(m, v, n, i): the pre-prepare and 2f matching prepares from distinct
        backups; returns those backups, or None."""
        if slot.pp is None:
            return None
        pp = slot.pp[0]
        votes = {r: p.digest for r, (p, _) in slot.prepares.items()}
        voters = matching(votes, pp.digest, exclude=pp.replica)
        return voters if len(voters) >= self.q.quorum - 1 else None

    def _committed(self, slot: Slot) -> bool:
        """§4.2 committed-local(m, v, n, i): prepared and 2f+1 matching commits."""
        if self._prepared_voters(slot) is None:
            return False
        votes = {r: c.digest for r, (c, _) in slot.commits.items()}
        return len(matching(votes, slot.pp[0].digest)) >= self.q.quorum

    def _check_slot(self, seq: int) -> None:
        """Commit once prepared (recording the prepared certificate for view changes), then
        execute what became committed."""
        slot = self.state.slots.get(seq)
        if slot is None or slot.pp is None:
            return
        if self.id not in slot.commits and not self._muted(slot.pp[0].view, seq):
            voters = self._prepared_voters(slot)
            if voters is None:
                return
            pp, pp_signed = slot.pp
            proof = PreparedProof(pp_signed, tuple(slot.prepares[r][1]
                                                   for r in voters[:self.q.quorum - 1]))
            self._record(RPrepared(proof))
            self._multicast(Commit(pp.view, pp.seq, pp.digest, self.id))
        if seq == self.last_executed + 1:
            self._try_execute()

    # ---- execution (§4.2, §4.1 at-most-once) -------------------------------------------
    def _try_execute(self) -> None:
        """Execute committed sequence numbers in order: committed-local in the current view,
        or proved by a commit certificate (catchup.py)."""
        progressed = False
        while self.fetch is None:
            seq = self.last_executed + 1
            slot = self.state.slots.get(seq)
            pp = slot.pp[0] if slot is not None and self._committed(slot) else None
            if pp is None:
                pp = self._certified(seq)
            if pp is None:
                break
            self._execute_pp(pp)
            progressed = True
        if progressed:
            self._after_progress()

    def _execute_pp(self, pp: PrePrepare) -> None:
        run = []
        for s in pp.batch:
            r = self._request(s)
            if r.timestamp > self.client_ts.get(r.client, 0):
                run.append(r)
                self.client_ts[r.client] = r.timestamp
                cur = self.pending.get(r.client)
                if cur is not None and cur[0].timestamp <= r.timestamp:
                    del self.pending[r.client]
        table = None
        if pp.seq % self.cfg.checkpoint_interval == 0:
            table = self.tables[pp.seq] = client_table_bytes(self.client_ts)
        self._execute.append(Execute(pp.seq, pp.view, tuple(run), table))
        self.last_executed = pp.seq

    def _after_progress(self, executed: bool = True) -> None:
        """§4.4: a backup restarts its timer after executing while it still waits for other
        requests, and stops it when it waits for none. The doubling of the timer decays
        slowly rather than resetting at the first execution, so that a group whose latency
        spikes above T does not change view again at every spike."""
        if executed and self.vc_attempts and \
                self.last_executed - self.calm_since >= self.cfg.checkpoint_interval:
            self.vc_attempts -= 1            # the backoff decays, one step per K executed
            self.calm_since = self.last_executed
        self.vc_deadline = (self.now + self._timeout()
                            if self.pending and self.state.normal else None)
        if self._is_primary():
            self._propose_batches()

    @staticmethod
    def _request(signed: Signed) -> Request:
        return decode_body(signed.body)
