"""Catching up from commit certificates, in any view (not part of the OSDI '99 text).

A part of ``PbftCore`` (see core.py). Two situations leave a correct replica unable to finish
a sequence number that the others executed, with nothing in the protocol to unblock it:

* it moved on to a view change (its timer expired) while the others stayed in view v and went
  idle: §4.4 forbids it to accept view v's messages, and nobody has a reason to change view;
* a Byzantine primary sent it a different pre-prepare for the sequence number than the one
  the others committed: it will never accept the committed one in this view.

A *commit certificate* (the pre-prepare, 2f matching prepares and 2f+1 matching commits, all
signed) proves that f+1 correct replicas prepared the batch, which is exactly the condition
under which §4.5.1 shows every later view keeps it at that sequence number. Executing from it
is therefore safe in any view and whatever the replica voted; the replica never votes on it.
Peers send certificates (``CommitProof``) in answer to a lagging replica's STATUS; they are
kept, volatile and one per sequence number, above the stable checkpoint.
"""

from __future__ import annotations

from .messages import CommitProof, PrePrepare, Signed
from .proofs import commit_proof_ok


class CatchUp:
    def _on_commit_proof(self, cp: CommitProof, signed: Signed) -> None:
        st = self.state
        pp = commit_proof_ok(self.op, cp)
        if pp is None:
            self._drop("invalid")
        elif not st.stable_seq < pp.seq <= st.stable_seq + self.cfg.log_size \
                or pp.seq <= self.last_executed:
            self._drop("stale")
        elif pp.seq not in self.proofs:
            self.proofs[pp.seq] = (pp, signed)
            if pp.seq == self.last_executed + 1:
                self._try_execute()

    def _certified(self, seq: int) -> PrePrepare | None:
        held = self.proofs.get(seq)
        return held[0] if held is not None else None

    def _commit_proof(self, seq: int) -> Signed | None:
        """A certificate for ``seq`` to forward: built from the log if committed there,
        else one received earlier."""
        slot = self.state.slots.get(seq)
        if slot is not None and self._committed(slot):
            pp, pp_signed = slot.pp
            preps = self._prepared_voters(slot)[:self.q.quorum - 1]
            commits = [r for r, (c, _) in sorted(slot.commits.items())
                       if c.digest == pp.digest][:self.q.quorum]
            return self._sign(CommitProof(pp_signed,
                                          tuple(slot.prepares[r][1] for r in preps),
                                          tuple(slot.commits[r][1] for r in commits),
                                          self.id))
        held = self.proofs.get(seq)
        return held[1] if held is not None else None

    def _forget_proofs(self) -> None:
        for seq in [s for s in self.proofs if s <= self.state.stable_seq]:
            del self.proofs[seq]

