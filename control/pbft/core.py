"""The PBFT replica core: messages in, actions out (Castro & Liskov, OSDI '99 §4).

Use cases::

    core = PbftCore(Config(n=4, replica=1), signer, verifier)    # or records=... to recover
    core.step(wire_bytes)              # a message from the network (any bytes: bad ones drop)
    core.propose(signed_request)       # a client request submitted locally
    core.tick()                        # one logical clock tick (timers, retransmission)
    rd = core.ready()                  # persist, sends, executes, ... (see config.Ready)
    ...                                # persist, send, execute (calling core.checkpoint)
    core.advance(rd)

The core does no I/O: no sockets, files, clocks, threads or randomness (etcd-io/raft's
design). Its parts live beside it, one concern each: ``normal`` (§4.2 pre-prepare / prepare /
commit, execution), ``catchup`` (executing from forwarded commit certificates),
``checkpoints`` (§4.3 checkpoints, watermarks, garbage collection, state
transfer), ``viewchange`` (§4.4 view changes, §4.5.2 liveness rules) and ``status``
(retransmission). Certificates are checked in ``proofs``; durable state changes only through
``state`` records.

Trust: every message's signature is verified against its claimed author before anything
else; a message claiming this replica as author (a replay, or a twin) is dropped. Anything
malformed, wrongly signed or invalid is dropped and counted by reason in ``Ready.dropped``;
no input makes ``step`` raise.
"""

from __future__ import annotations

from collections import Counter

from .catchup import CatchUp
from .checkpoints import Checkpoints
from .config import Config, Execute, Fetch, Ready, Send
from .messages import (
    Checkpoint,
    Commit,
    CommitProof,
    MalformedMessage,
    NewView,
    Prepare,
    PrePrepare,
    Request,
    Signed,
    Status,
    ViewChange,
    decode_body,
    decode_client_table,
    decode_signed,
    encode_signed,
    sign,
)
from .normal import NormalCase
from .proofs import Opener
from .quorum import Quorums
from .state import DurableState, Record, RMsg
from .status import Retransmission
from .viewchange import ViewChanges

_UNSYNCED = (PrePrepare, Prepare, Commit, Checkpoint)
_OWN_UNSYNCED = (PrePrepare, Prepare)


class PbftCore(NormalCase, CatchUp, Checkpoints, ViewChanges, Retransmission):
    """One replica. ``records``: what an earlier incarnation persisted (since its last
    ``Ready.reset``); ``executed`` and ``client_table``: the sequence number the driver's
    restored application state is at and the client table kept with it (``Execute``)."""

    def __init__(self, config: Config, signer, verifier, records: list[Record] = (),
                 executed: int = 0, client_table: bytes | None = None):
        self.cfg, self.q, self.id = config, Quorums(config.n), config.replica
        self.signer = signer
        self.op = Opener(self.q, verifier, config.max_batch)
        self.state = DurableState(config.checkpoint_interval, config.log_size)
        for rec in records:
            self.state.apply(rec)
        self.now = 0
        self.last_executed = executed
        self.needless_votes = 0          # votes after their quorum, skipped (_needless_vote)
        self.client_ts: dict[str, int] = decode_client_table(client_table) if client_table \
            else {}
        self.pending: dict[str, tuple[Request, Signed]] = {}   # known, not executed (§4.4)
        self.proposed: dict[str, int] = {}                     # primary: last ts proposed
        self.vcs: dict[int, tuple[ViewChange, Signed, dict]] = {}   # latest valid VC each
        self.proofs: dict[int, tuple[PrePrepare, Signed]] = {}   # seq -> commit certificate
        self.vc_deadline: int | None = None
        self.vc_attempts = 0 if self.state.normal else 1   # recent view changes (backoff)
        self.calm_since = executed                # executed seq when the backoff last moved
        self.next_status = config.status_ticks
        self._waiting: set[tuple[str, int]] = set()   # slots, checkpoints pending last round
        self._offers: dict[tuple[int, str], tuple[int, bytes]] = {}   # resend pacing
        self.fetch: Fetch | None = None
        self.tables: dict[int, bytes] = {}     # client tables at executed checkpoints
        self.diverged = False                  # own checkpoint differs from a stable one
        self.view_change_reason = ""           # why the last view change started (status)
        self.next_seq = max([self.state.stable_seq, *self.state.slots]) + 1
        self._sends: list[Send] = []
        self._persist: list[Record] = []
        self._sync = False
        self._reset = False
        self._execute: list[Execute] = []
        self._replies: list[tuple[str, int]] = []
        self._fetch_out: Fetch | None = None
        self._dropped: Counter[str] = Counter()
        self._in_ready = False
        # A restarted replica may have lost its own unsynced pre-prepares and prepares of the
        # view it was in, so it sends none in that view again at the sequence numbers it may
        # have voted for: it cannot contradict a vote it forgot. It still counts the others'
        # votes and executes; it votes again from the next view on (its VIEW-CHANGE and
        # NEW-VIEW records are synced), and in that view above ``mute_through``: every vote
        # it sent lay in its window (§4.3: stable checkpoint h < n <= h + L) when sent, and
        # every stable checkpoint it acted on was synced first, so none lay above the synced
        # h it restarts from, plus L (TOCS §6 bounds a recovering replica's votes the same
        # way, by its H_M).
        self.mute_view: int | None = self.state.view if records and self.state.normal \
            else None
        self.mute_through = self.state.stable_seq + config.log_size
        self._handlers = {Request: self._on_request, PrePrepare: self._on_preprepare,
                          Prepare: self._on_prepare, Commit: self._on_commit,
                          Checkpoint: self._on_checkpoint, ViewChange: self._on_view_change,
                          NewView: self._on_new_view, Status: self._on_status,
                          CommitProof: self._on_commit_proof}
        self._recover()

    # ---- inputs ------------------------------------------------------------------------
    def step(self, data: bytes) -> None:
        """Handle one message from the network. Never raises on bad input."""
        try:
            signed = decode_signed(data)
            msg = decode_body(signed.body)
        except MalformedMessage:
            self._drop("malformed")
            return
        handler = self._handlers.get(type(msg))
        if handler is None:
            self._drop("unexpected")
        elif self._needless_vote(msg):
            self.needless_votes += 1
        elif not self.op.authentic(msg, signed):
            self._drop("signature")
        elif getattr(msg, "replica", None) == self.id:
            self._drop("own_identity")
        else:
            handler(msg, signed)

    def _muted(self, view: int, seq: int) -> bool:
        """Whether this replica must not vote at ``seq`` in ``view`` (see ``mute_view``)."""
        return view == self.mute_view and seq <= self.mute_through

    def _needless_vote(self, msg) -> bool:
        """A PREPARE or COMMIT that can change nothing here, left unverified and unrecorded
        (a signature check is most of a vote's cost): a COMMIT for a slot of the same view
        already committed-local and executed (2f+1 commits held: §4.2's certificate, and
        enough for a CommitProof), or a PREPARE for a slot of the same view whose prepared
        certificate is recorded (this replica committed: §4.2 needs only 2f prepares). At
        n = 4, one of each per request and replica arrives after its quorum."""
        cls = type(msg)
        if cls is not Commit and cls is not Prepare:
            return False
        slot = self.state.slots.get(msg.seq)
        if slot is None or slot.pp is None or slot.pp[0].view != msg.view \
                or msg.replica == self.id or msg.replica in (slot.commits if cls is Commit
                                                             else slot.prepares):
            return False
        if cls is Commit:
            return msg.seq <= self.last_executed and self._committed(slot)
        return (msg.replica != self.q.primary(msg.view) and self.id in slot.commits
                and self._prepared_voters(slot) is not None)

    def propose(self, request: Signed, signed_here: bool = False) -> bool:
        """Submit a client-signed request at this replica (§4.1; the driver's own client).
        Returns False, changing nothing, if it is not an authentic request. ``signed_here``:
        the driver signed it just now with a key this replica trusts (its own client), so
        the signature is not checked again here (every other replica checks it)."""
        try:
            msg = decode_body(request.body)
        except MalformedMessage:
            return False
        if not isinstance(msg, Request) or not (signed_here or self.op.authentic(msg, request)):
            return False
        self._on_request(msg, request)
        return True

    def tick(self) -> None:
        """One logical tick: the view-change timer (§4.4) and retransmission."""
        self.now += 1
        if self.vc_deadline is not None and self.now >= self.vc_deadline:
            self.vc_deadline = None
            self.view_change_reason = self._timeout_reason()
            self._start_view_change(self.state.view + 1)
        if self.now >= self.next_status:
            self.next_status = self.now + self.cfg.status_ticks
            self._status_round()

    def next_due(self) -> int:
        """The first tick count (``now`` after a ``tick()``) at which ``tick()`` does more than
        count: the view-change timer or a status round. A driver may sleep until then (or
        until a message or proposal comes) and call ``tick()`` for the ticks in between."""
        due = self.next_status
        if self.vc_deadline is not None:
            due = min(due, self.vc_deadline)
        return max(due, self.now + 1)

    # ---- outputs -----------------------------------------------------------------------
    def has_ready(self) -> bool:
        return bool(self._sends or self._persist or self._reset or self._execute
                    or self._replies or self._fetch_out or self._dropped)

    def ready(self) -> Ready:
        """Take everything to be done. With ``reset``, ``persist`` is the whole durable state
        and replaces what was stored; otherwise it is appended."""
        if self._in_ready:
            raise RuntimeError("ready() called again before advance()")
        self._in_ready = True
        persist = self.state.records() if self._reset else self._persist
        rd = Ready(persist, self._reset, self._sends, self._execute, self._replies,
                   self._fetch_out, dict(self._dropped), self._sync or self._reset)
        self._sends, self._persist, self._execute, self._replies = [], [], [], []
        self._reset, self._fetch_out, self._sync = False, None, False
        self._dropped = Counter()
        return rd

    def advance(self, rd: Ready) -> None:
        """Acknowledge ``rd``: persisted, sent and executed (checkpoints reported)."""
        self._in_ready = False

    # ---- helpers for the parts ---------------------------------------------------------
    def _record(self, rec: Record, msg=None) -> None:
        """Apply and persist ``rec``. Needs no fsync of its own (see ``Ready.sync``): another
        replica's pre-prepare, prepare, commit or checkpoint (received, and receivable
        again), and this replica's own pre-prepare or prepare in the normal case (after a
        restart it never votes again in the view it was in: ``mute_view``). Everything else
        is synced before the sends: own COMMITs with the prepared certificate behind them
        (RPrepared), own checkpoints, views, VIEW-CHANGE and NEW-VIEW, stable checkpoints."""
        self.state.apply(rec, msg)
        self._persist.append(rec)
        if not (isinstance(rec, RMsg) and type(msg) in _UNSYNCED
                and (msg.replica != self.id or type(msg) in _OWN_UNSYNCED)):
            self._sync = True

    def _sign(self, msg) -> Signed:
        return sign(self.signer, msg)

    def _multicast(self, msg) -> Signed:
        """Sign ``msg``, log it (durably) and send it to every other replica."""
        signed = self._sign(msg)
        self._record(RMsg(signed), msg)
        self._send(None, signed)
        return signed

    def _send(self, to: int | None, signed: Signed) -> None:
        self._sends.append(Send(to, encode_signed(signed)))

    def _drop(self, reason: str) -> None:
        self._dropped[reason] += 1

    def _is_primary(self, view: int | None = None) -> bool:
        return self.q.primary(self.state.view if view is None else view) == self.id

    def _recover(self) -> None:
        """After a restart: state transfer if the application is behind the stable
        checkpoint, else finish what the records allow (commits for prepared slots,
        executions of committed ones)."""
        st = self.state
        if not st.normal and st.own_vc is not None:
            vc = decode_body(st.own_vc.body)
            certs = {pp.seq: pp for pp in (decode_body(p.preprepare.body)
                                           for p in vc.prepared)}
            self.vcs[self.id] = (vc, st.own_vc, certs)
        if self.last_executed < st.stable_seq:
            self._begin_fetch(st.stable_seq, st.stable_digest,
                              tuple(sorted({decode_body(s.body).replica
                                            for s in st.stable_proof})))
        if st.normal:
            for seq in sorted(st.slots):
                self._check_slot(seq)
        self._try_execute()

    def _timeout_reason(self) -> str:
        st = self.state
        if not st.normal:
            return f"timer expired in view {st.view}: no NEW-VIEW"
        waiting = ", ".join(f"{c}:{r.timestamp}" for c, (r, _) in list(self.pending.items())[:4])
        slots = " ".join(f"{s}:{int(sl.pp is not None)}/{len(sl.prepares)}/{len(sl.commits)}"
                         for s, sl in sorted(st.slots.items()) if s > self.last_executed)
        return (f"timer expired in view {st.view} waiting for {waiting}; executed "
                f"{self.last_executed}, next seq {self.next_seq}, open slots [{slots}]")

    def summary(self) -> dict:
        """Plain numbers for status pages and tests."""
        st = self.state
        return {"replica": self.id, "view": st.view, "normal": st.normal,
                "primary": self.q.primary(st.view), "stable_seq": st.stable_seq,
                "executed": self.last_executed, "next_seq": self.next_seq,
                "pending": len(self.pending), "fetching": self.fetch is not None,
                "diverged": self.diverged, "view_change_reason": self.view_change_reason}
