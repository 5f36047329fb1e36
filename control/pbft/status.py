"""Retransmission: how lost messages are made good (not part of the OSDI '99 protocol text).

A part of ``PbftCore`` (see core.py). The paper assumes messages are eventually delivered;
over a lossy network the implementation retransmits (Castro's BFT library multicasts its
status periodically and peers resend what it misses). Every ``status_ticks`` ticks a replica:

* multicasts STATUS(view, normal, stable, executed);
* resends its own messages that may still matter, if they already waited a whole period:
  its pre-prepares, prepares and commits for sequence numbers it has not executed, its
  checkpoints above the stable one; and its VIEW-CHANGE while changing view, and (backups)
  its pending requests to the primary; while changing view, the pending requests to every
  replica (the multicast of an unanswered client, §4.1), so the others arm their timers.

On a peer's STATUS it sends what that peer lacks: the NEW-VIEW of the current view (or its
own VIEW-CHANGE) to a replica in an older view, the stable checkpoint's proof to one below
it, and the logged messages (any author: they are signed) of up to ``catch_up_slots``
sequence numbers the peer has not executed. Everything resent is signed by its author, so a
forwarding replica can neither forge nor alter it.
"""

from __future__ import annotations

from .messages import Status


class Retransmission:
    def _status_round(self) -> None:
        st = self.state
        held = 0 if st.normal else sum(
            1 << r for r, (vc, _, _) in self.vcs.items() if vc.view >= st.view)
        status = self._sign(Status(st.view, st.normal, st.stable_seq, self.last_executed,
                                   self.id, held))
        self._send(None, status)
        if not st.normal:
            # its own VIEW-CHANGE goes to the peers whose STATUS shows they lack it
            # (``_on_status``), not to everyone every round: a VIEW-CHANGE carries the
            # window's prepared batches, and multicasting megabytes every period swamped the
            # links and CPUs it needed (the n = 7 stall under load)
            # §4.1/§4.4: a client whose request is not answered multicasts it to all replicas,
            # so that every backup arms its timer and the view change gathers f+1 replicas.
            # A replica's own client (the driver's proposals) never times out by itself, and a
            # request forwarded only to a dead primary would otherwise leave this replica
            # changing view alone while the others, holding nothing, never suspect anything.
            for _, signed in self.pending.values():
                self._send(None, signed)
        else:
            self._resend_own_votes()
            self._forward_pending()
        for seq in sorted(st.checkpoints):
            own = st.checkpoints[seq].get(self.id)
            if own is not None and ("ck", seq) in self._waiting:
                self._send(None, own[1])
        self._waiting = {("slot", s) for s in st.slots if s > self.last_executed} \
            | {("ck", s) for s in st.checkpoints}
        if self.fetch is not None:
            self._fetch_out = self.fetch                # the driver retries the transfer

    def _resend_own_votes(self) -> None:
        """Only what has waited a whole status period: in a healthy group nothing is resent."""
        for seq, slot in sorted(self.state.slots.items()):
            if seq <= self.last_executed or ("slot", seq) not in self._waiting:
                continue
            if slot.pp is not None and slot.pp[0].replica == self.id:
                self._send(None, slot.pp[1])
            for votes in (slot.prepares, slot.commits):
                if self.id in votes:
                    self._send(None, votes[self.id][1])

    def _forward_pending(self) -> None:
        """Backups: resend pending requests that the current view has not pre-prepared to
        the primary (a lost forward would otherwise cost a view change)."""
        st = self.state
        if not st.normal or self._is_primary() or not self.pending:
            return
        ordered = {(r.client, r.timestamp) for slot in st.slots.values() if slot.pp
                   for r in map(self._request, slot.pp[0].batch)}
        primary = self.q.primary(st.view)
        for req, signed in self.pending.values():
            if (req.client, req.timestamp) not in ordered:
                self._send(primary, signed)

    def _on_status(self, msg: Status, signed) -> None:
        st = self.state
        peer = msg.replica
        if msg.view < st.view or (msg.view == st.view and st.normal and not msg.normal):
            self._help_lagging(peer)
        elif not st.normal and msg.view == st.view and st.own_vc is not None \
                and not msg.has_vcs >> self.id & 1:
            self._offer(peer, st.own_vc, "vc")
        if msg.stable_seq < st.stable_seq:
            for s in st.stable_proof:
                if self._author(s) != peer:
                    self._send(peer, s)
        if msg.executed < self.last_executed:
            self._send_slots(peer, msg.executed)

    def _send_slots(self, peer: int, executed: int) -> None:
        """Commit certificates for what ``peer`` has not executed (usable in any view), or
        the logged messages where this replica has no complete certificate."""
        st = self.state
        lo = max(executed, st.stable_seq) + 1
        hi = min(self.last_executed, lo + self.cfg.catch_up_slots - 1)
        if lo > hi or not self._may_offer(peer, "slots", lo.to_bytes(8, "big")):
            return
        for seq in range(lo, hi + 1):
            proof = self._commit_proof(seq)
            if proof is not None:
                self._send(peer, proof)
                continue
            slot = st.slots.get(seq)
            if slot is None:
                continue
            if slot.pp is not None and slot.pp[0].replica != peer:
                self._send(peer, slot.pp[1])
            for votes in (slot.prepares, slot.commits):
                for author, signed in sorted(votes.items()):
                    if author != peer:
                        self._send(peer, signed[1])

    # ---- pacing what is resent ---------------------------------------------------------
    def _offer_interval(self) -> int:
        return max(self.cfg.status_ticks, self.cfg.view_change_ticks // 2)

    def _may_offer(self, peer: int, kind: str, ident: bytes) -> bool:
        """Whether to (re)send ``ident`` of ``kind`` to ``peer`` now: at once if it is not
        what was last offered, else once per half timer period. Large messages (a
        VIEW-CHANGE, a NEW-VIEW and catch-up certificates carry batches) resent every
        status period to a peer still busy with the last copy only pile up on the way."""
        last = self._offers.get((peer, kind))
        if last is not None and last[1] == ident and self.now - last[0] < self._offer_interval():
            return False
        self._offers[(peer, kind)] = (self.now, ident)
        return True

    def _offer(self, peer: int, signed, kind: str) -> None:
        if self._may_offer(peer, kind, signed.sig):
            self._send(peer, signed)
