"""A replica's durable protocol state, changed only by records (event sourcing).

Use cases::

    state = DurableState(checkpoint_interval=16, log_size=64)
    state.apply(RView(view=1, normal=False))      # the core records, then applies
    records = state.records()                     # the whole state as records (compaction)
    replay = DurableState(16, 64); [replay.apply(r) for r in records]
    replay.canonical() == state.canonical()

The core changes its durable state only by making a ``Record``, applying it here and handing
it out in ``Ready.persist``; the driver stores the records before sending anything that
depends on them. Recovery is the same fold over the stored records, so a restarted replica is
exactly where it was (it never sends a prepare or commit conflicting with one it sent before
the crash: a correct replica that forgot its votes would be a Byzantine one). Durable:

* the view and whether it is changing (§4.4: after sending VIEW-CHANGE a replica accepts no
  normal-case message of the old view);
* the current view's log: pre-prepares, prepares and commits by sequence number (§4.2);
* for each sequence number the prepared certificate of the highest view (§4.4's P);
* checkpoint messages above the stable checkpoint, and the stable checkpoint with its proof
  (§4.3); messages at or below it are garbage-collected;
* the replica's own VIEW-CHANGE and the NEW-VIEW that started the current view (resent to
  replicas that lag).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from .messages import (
    GENESIS_DIGEST,
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PreparedProof,
    PrePrepare,
    Signed,
    ViewChange,
    decode_body,
)


class RView(msgspec.Struct, frozen=True, array_like=True, tag="view"):
    view: int
    normal: bool


class RMsg(msgspec.Struct, frozen=True, array_like=True, tag="msg"):
    signed: Signed


class RPrepared(msgspec.Struct, frozen=True, array_like=True, tag="prepared"):
    proof: PreparedProof


class RStable(msgspec.Struct, frozen=True, array_like=True, tag="stable"):
    seq: int
    digest: bytes
    proof: tuple[Signed, ...]


Record = RView | RMsg | RPrepared | RStable
_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(Record)


def encode_record(rec: Record) -> bytes:
    return _ENC.encode(rec)


def decode_record(data: bytes) -> Record:
    return _DEC.decode(data)


@dataclass
class Slot:
    """One sequence number of the current view: the first pre-prepare accepted and the first
    prepare and commit of each replica (a second, different vote of a replica is ignored)."""

    pp: tuple[PrePrepare, Signed] | None = None
    prepares: dict[int, tuple[Prepare, Signed]] = field(default_factory=dict)
    commits: dict[int, tuple[Commit, Signed]] = field(default_factory=dict)


class DurableState:
    def __init__(self, checkpoint_interval: int, log_size: int):
        self.view, self.normal = 0, True
        self.stable_seq, self.stable_digest = 0, GENESIS_DIGEST
        self.stable_proof: tuple[Signed, ...] = ()
        self.slots: dict[int, Slot] = {}
        self.prepared: dict[int, tuple[PrePrepare, PreparedProof]] = {}
        self.checkpoints: dict[int, dict[int, tuple[Checkpoint, Signed]]] = {}
        self.own_vc: Signed | None = None
        self.new_view: Signed | None = None
        # a replica's checkpoint messages kept above the stable one: enough for the window,
        # so a Byzantine replica cannot grow this table
        self.checkpoints_per_replica = log_size // checkpoint_interval + 2
        self._apply = {RView: self._view, RMsg: self._msg, RPrepared: self._prepared,
                       RStable: self._stable}
        self._msgs = {PrePrepare: self._pp, Prepare: self._prepare, Commit: self._commit,
                      Checkpoint: self._checkpoint, ViewChange: self._own_vc,
                      NewView: self._new_view}

    def apply(self, rec: Record, msg=None) -> None:
        """Apply ``rec``; ``msg``: the decoded body of an ``RMsg`` when the caller has it."""
        if msg is not None:
            self._msgs[type(msg)](msg, rec.signed)
        else:
            self._apply[type(rec)](rec)

    # ---- records -----------------------------------------------------------------------
    def _view(self, rec: RView) -> None:
        if rec.view != self.view:
            self.slots.clear()
            self.own_vc = self.new_view = None
        self.view, self.normal = rec.view, rec.normal

    def _msg(self, rec: RMsg) -> None:
        msg = decode_body(rec.signed.body)
        self._msgs[type(msg)](msg, rec.signed)

    def _prepared(self, rec: RPrepared) -> None:
        pp = decode_body(rec.proof.preprepare.body)
        cur = self.prepared.get(pp.seq)
        if pp.seq > self.stable_seq and (cur is None or cur[0].view < pp.view):
            self.prepared[pp.seq] = (pp, rec.proof)

    def _stable(self, rec: RStable) -> None:
        if rec.seq <= self.stable_seq:
            return
        self.stable_seq, self.stable_digest, self.stable_proof = rec.seq, rec.digest, rec.proof
        for table in (self.slots, self.prepared, self.checkpoints):
            for seq in [s for s in table if s <= rec.seq]:
                del table[seq]

    # ---- messages ----------------------------------------------------------------------
    def _slot(self, seq: int) -> Slot:
        slot = self.slots.get(seq)
        if slot is None:
            slot = self.slots[seq] = Slot()
        return slot

    def _pp(self, msg: PrePrepare, signed: Signed) -> None:
        slot = self._slot(msg.seq)
        if slot.pp is None:
            slot.pp = (msg, signed)

    def _prepare(self, msg: Prepare, signed: Signed) -> None:
        self._slot(msg.seq).prepares.setdefault(msg.replica, (msg, signed))

    def _commit(self, msg: Commit, signed: Signed) -> None:
        self._slot(msg.seq).commits.setdefault(msg.replica, (msg, signed))

    def _checkpoint(self, msg: Checkpoint, signed: Signed) -> None:
        self.checkpoints.setdefault(msg.seq, {}).setdefault(msg.replica, (msg, signed))
        held = sorted(s for s, by in self.checkpoints.items() if msg.replica in by)
        for seq in held[:-self.checkpoints_per_replica]:
            del self.checkpoints[seq][msg.replica]
            if not self.checkpoints[seq]:
                del self.checkpoints[seq]

    def _own_vc(self, msg: ViewChange, signed: Signed) -> None:
        self.own_vc = signed

    def _new_view(self, msg: NewView, signed: Signed) -> None:
        self.new_view = signed

    # ---- compaction and comparison -----------------------------------------------------
    def records(self) -> list[Record]:
        """The whole state as records: folding them into a fresh state reproduces it."""
        out: list[Record] = [RView(self.view, self.normal)]
        if self.stable_seq:
            out.append(RStable(self.stable_seq, self.stable_digest, self.stable_proof))
        out += [RPrepared(self.prepared[s][1]) for s in sorted(self.prepared)]
        for seq in sorted(self.checkpoints):
            out += [RMsg(self.checkpoints[seq][r][1]) for r in sorted(self.checkpoints[seq])]
        out += [RMsg(s) for s in (self.own_vc, self.new_view) if s is not None]
        for seq in sorted(self.slots):
            slot = self.slots[seq]
            if slot.pp is not None:
                out.append(RMsg(slot.pp[1]))
            out += [RMsg(slot.prepares[r][1]) for r in sorted(slot.prepares)]
            out += [RMsg(slot.commits[r][1]) for r in sorted(slot.commits)]
        return out

    def canonical(self) -> tuple:
        """A comparable value of everything durable (tests compare live and recovered)."""
        def signed(pairs: dict) -> tuple:
            return tuple((k, v[1].body) for k, v in sorted(pairs.items()))

        slots = tuple((s, slot.pp[1].body if slot.pp else None, signed(slot.prepares),
                       signed(slot.commits)) for s, slot in sorted(self.slots.items()))
        return (self.view, self.normal, self.stable_seq, self.stable_digest,
                tuple(s.body for s in self.stable_proof), slots,
                tuple((s, p[1].preprepare.body) for s, p in sorted(self.prepared.items())),
                tuple((s, signed(by)) for s, by in sorted(self.checkpoints.items())),
                self.own_vc.body if self.own_vc else None,
                self.new_view.body if self.new_view else None)
