"""Executing from commit certificates of earlier views (catch-up while out of step).

A part of ``PbftCore`` (see core.py). A replica that moved on to view change w (its timer
expired) while the others stayed in view v and went idle is stuck: §4.4 forbids it to accept
view v's normal-case messages, and nobody has a reason to change view. It can still execute
what view v committed: a *commit certificate* (the pre-prepare, 2f matching prepares and 2f+1
matching commits, all signed) proves that f+1 correct replicas prepared the batch, which is
exactly the condition under which §4.5.1 shows every later view keeps it at that sequence
number. So executing from it is safe in any view; it only never votes in an old view.

Messages of earlier views (or of the current view while changing view) for sequence numbers
not yet executed are kept here, volatile and bounded (2L slots, lowest views evicted first);
peers send them in answer to this replica's STATUS.
"""

from __future__ import annotations

from .messages import Commit, Prepare, PrePrepare, Signed
from .state import Slot


class CatchUp:
    def _is_old(self, view: int) -> bool:
        st = self.state
        return view < st.view or (view == st.view and not st.normal)

    def _on_old(self, msg, signed: Signed) -> None:
        """Keep an earlier view's pre-prepare, prepare or commit for catch-up."""
        st, cfg = self.state, self.cfg
        if not self.last_executed < msg.seq <= st.stable_seq + cfg.log_size:
            self._drop("stale")
            return
        if isinstance(msg, PrePrepare) and not self.op.preprepare_ok(msg):
            self._drop("invalid")
            return
        if isinstance(msg, Prepare) and msg.replica == self.q.primary(msg.view):
            self._drop("invalid")
            return
        slot = self._old_slot(msg.view, msg.seq)
        if isinstance(msg, PrePrepare):
            if slot.pp is None:
                slot.pp = (msg, signed)
        elif isinstance(msg, Commit):
            slot.commits.setdefault(msg.replica, (msg, signed))
        else:
            slot.prepares.setdefault(msg.replica, (msg, signed))
        if msg.seq == self.last_executed + 1:
            self._try_execute()

    def _old_slot(self, view: int, seq: int) -> Slot:
        key = (view, seq)
        slot = self.old.get(key)
        if slot is None:
            if len(self.old) >= 2 * self.cfg.log_size:
                del self.old[min(self.old)]
            slot = self.old[key] = Slot()
        return slot

    def _old_certificate(self, seq: int) -> Slot | None:
        """A committed slot of an earlier view at ``seq`` (the highest such view)."""
        for key in sorted((k for k in self.old if k[1] == seq), reverse=True):
            if self._committed(self.old[key]):
                return self.old[key]
        return None

    def _forget_old(self) -> None:
        for key in [k for k in self.old if k[1] <= self.last_executed]:
            del self.old[key]
