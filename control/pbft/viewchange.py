"""View changes (OSDI '99 §4.4) and the liveness rules of §4.5.2.

A part of ``PbftCore`` (see core.py). A backup whose timer expires while it waits for a
request moves to view v+1: it stops accepting normal-case messages and multicasts
VIEW-CHANGE with its stable checkpoint (C) and its prepared certificates above it (P). The
primary of v+1 collects 2f+1 valid ones and multicasts NEW-VIEW with O: for every sequence
number between the latest stable checkpoint in V and the highest prepared one, the
pre-prepare of the highest view that prepared it there, or a null request. Backups recompute
O, accept, and prepare O's pre-prepares in the new view.

§4.5.2: a replica that gets f+1 valid VIEW-CHANGEs for views above its own joins the smallest
of them; the timer waiting for NEW-VIEW starts once 2f+1 VIEW-CHANGEs for that view (or a
later one) arrived and doubles with each consecutive view change; the doubling decays by one
step per checkpoint interval executed without a view change.
"""

from __future__ import annotations

from .messages import NewView, Prepare, PrePrepare, Signed, ViewChange, decode_body, strip
from .proofs import NewViewPlan, new_view_ok, new_view_plan, view_change_certs
from .state import RMsg, RView


class ViewChanges:
    def _timeout(self) -> int:
        """T, doubled per recent view change (capped at ``max_backoff`` doublings)."""
        doublings = min(max(self.vc_attempts - 1, 0), self.cfg.max_backoff)
        return self.cfg.view_change_ticks << doublings

    def _start_view_change(self, view: int) -> None:
        st = self.state
        if view <= st.view:
            return
        self.vc_attempts += 1
        self.calm_since = self.last_executed
        certs = {seq: pp for seq, (pp, _) in st.prepared.items() if seq > st.stable_seq}
        vc = ViewChange(view, st.stable_seq, st.stable_digest, st.stable_proof,
                        tuple(st.prepared[s][1] for s in sorted(certs)), self.id)
        signed = self._sign(vc)
        self._record(RView(view, False))
        self._record(RMsg(signed))
        self.vc_deadline = None
        self.proposed.clear()
        self.vcs[self.id] = (vc, signed, certs)
        self._send(None, signed)
        self._view_change_progress()

    def _on_view_change(self, vc: ViewChange, signed: Signed) -> None:
        st = self.state
        if vc.view < st.view or (vc.view == st.view and st.normal):
            self._help_lagging(vc.replica)       # it has not seen how the view ended
            self._drop("stale")
            return
        cur = self.vcs.get(vc.replica)
        if cur is not None and cur[0].view >= vc.view:
            return
        certs = view_change_certs(self.op, vc, self.cfg.log_size)
        if certs is None:
            self._drop("invalid")
            return
        self.vcs[vc.replica] = (vc, signed, certs)
        self._view_change_progress()

    def _help_lagging(self, replica: int) -> None:
        st = self.state
        if st.normal and st.new_view is not None:
            self._offer(replica, st.new_view, "nv")
        elif not st.normal and st.own_vc is not None:
            self._offer(replica, st.own_vc, "vc")

    def _view_change_progress(self) -> None:
        st = self.state
        above = sorted(vc.view for r, (vc, _, _) in self.vcs.items()
                       if r != self.id and vc.view > st.view)
        if len(above) >= self.q.weak:
            self.view_change_reason = f"{len(above)} replicas moved to views above {st.view}"
            self._start_view_change(above[0])      # §4.5.2: join the smallest
            return
        if st.normal:
            return
        # the timer starts once 2f+1 replicas are in this view change or beyond it (a replica
        # that moved past this view will never help form it; only its latest VIEW-CHANGE is
        # kept, so counting exact matches could wait forever)
        moved = [r for r, (vc, _, _) in self.vcs.items() if vc.view >= st.view]
        if len(moved) < self.q.quorum:
            return
        if self.vc_deadline is None:
            self.vc_deadline = self.now + self._timeout()
        voters = sorted(r for r, (vc, _, _) in self.vcs.items() if vc.view == st.view)
        if self._is_primary() and self.id in voters and len(voters) >= self.q.quorum:
            self._send_new_view(st.view, voters)

    def _send_new_view(self, view: int, voters: list[int]) -> None:
        chosen = sorted([self.id] + [r for r in voters if r != self.id][:self.q.quorum - 1])
        plan = new_view_plan(view, [(self.vcs[r][0], self.vcs[r][2]) for r in chosen])
        pps = tuple(self._sign(PrePrepare(view, seq, digest, batch, self.id))
                    for seq, digest, batch in plan.entries)
        # V nests the view-changes stripped of their batches: O carries each batch once
        # (messages.signed_bytes), so the NEW-VIEW is about one log window, not 2f+2 of them
        nv = self._sign(NewView(view, tuple(strip(self.vcs[r][1]) for r in chosen), pps,
                                self.id))
        self._send(None, nv)
        self._install_new_view(nv, plan, pps)

    def _on_new_view(self, nv: NewView, signed: Signed) -> None:
        st = self.state
        if nv.replica != self.q.primary(nv.view):
            self._drop("invalid")
        elif nv.view < st.view or (nv.view == st.view and st.normal):
            self._drop("stale")
        else:
            plan = new_view_ok(self.op, nv, self.cfg.log_size)
            if plan is None:
                self._drop("invalid")
            else:
                self._install_new_view(signed, plan, nv.preprepares)

    def _install_new_view(self, signed: Signed, plan: NewViewPlan,
                          pps: tuple[Signed, ...]) -> None:
        """Enter ``plan.view``: log O's pre-prepares (a backup prepares them), adopt min-s as
        stable if it is newer, and resume normal operation."""
        st = self.state
        view = plan.view
        self._record(RView(view, True))
        self._record(RMsg(signed))
        self.vc_deadline = None
        self.proposed.clear()
        self.vcs = {r: v for r, v in self.vcs.items() if v[0].view > view}
        floor = max(st.stable_seq, plan.stable_seq)
        backup = not self._is_primary(view)
        for s in pps:
            pp = decode_body(s.body)
            if pp.seq > floor:
                self._log_new_view_entry(pp, s, backup)
        self.next_seq = max(plan.max_seq, floor) + 1
        if plan.stable_seq > st.stable_seq:
            self._make_stable(plan.stable_seq, plan.stable_digest, plan.stable_proof)
        for seq, _, _ in plan.entries:
            self._check_slot(seq)
        self._after_progress(executed=False)
        if backup:
            self._forward_pending()

    def _log_new_view_entry(self, pp: PrePrepare, signed: Signed, backup: bool) -> None:
        self._record(RMsg(signed), pp)
        for s in pp.batch:
            r = decode_body(s.body)
            if r.timestamp > self.client_ts.get(r.client, 0):
                self._note_request(r, s)
            if r.timestamp > self.proposed.get(r.client, 0):
                self.proposed[r.client] = r.timestamp     # O carries it: not again
        if backup:
            self._multicast(Prepare(pp.view, pp.seq, pp.digest, self.id))
