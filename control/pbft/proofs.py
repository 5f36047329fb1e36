"""Checking signed messages and the certificates built from them (OSDI '99 §4.2-§4.4).

Use cases::

    op = Opener(Quorums(4), verifier, max_batch=64)
    op.authentic(msg, signed)                # the author's signature verifies
    op.preprepare(signed)                    # a well-formed pre-prepare, or None
    certs = view_change_certs(op, vc, log_size=64)   # seq -> PrePrepare, or None if invalid
    plan = new_view_plan(vcs)                 # min-s, its proof, and O (§4.4)

Every function here is pure (given the verifier) and returns None for anything invalid: a
Byzantine replica must not be able to make a correct one raise. Certificates are checked
strictly: one bad element makes the whole certificate invalid.
"""

from __future__ import annotations

from dataclasses import dataclass

from .messages import (
    GENESIS_DIGEST,
    NULL_DIGEST,
    Checkpoint,
    Commit,
    MalformedMessage,
    NewView,
    Prepare,
    PreparedProof,
    PrePrepare,
    Request,
    Signed,
    ViewChange,
    batch_digest,
    decode_body,
    signed_bytes,
)
from .quorum import Quorums


class Opener:
    """Decodes and authenticates signed messages for a group of ``quorums.n`` replicas."""

    def __init__(self, quorums: Quorums, verifier, max_batch: int):
        self.q, self.verifier, self.max_batch = quorums, verifier, max_batch

    def authentic(self, msg, signed: Signed) -> bool:
        """§2: the claimed author signed the body (the client for a request)."""
        data = signed_bytes(msg, signed.body)
        if isinstance(msg, Request):
            return self.verifier.client(msg.client, data, signed.sig)
        replica = msg.replica
        return 0 <= replica < self.q.n and self.verifier.replica(replica, data, signed.sig)

    def open(self, signed: Signed, cls):
        """The body of ``signed`` if it decodes to ``cls`` and is authentic, else None."""
        try:
            msg = decode_body(signed.body)
        except MalformedMessage:
            return None
        if type(msg) is not cls or not self.authentic(msg, signed):
            return None
        return msg

    def batch_ok(self, batch: tuple[Signed, ...]) -> bool:
        """Every request in ``batch`` is signed by its client (validity, §4.5.1)."""
        return len(batch) <= self.max_batch and all(
            self.open(s, Request) is not None for s in batch)

    def preprepare_ok(self, pp: PrePrepare, full: bool = True) -> bool:
        """§4.2: sent by the view's primary, the digest is the batch's, the requests are
        signed by their clients. (Authenticity of ``pp`` itself is checked by the caller.)
        ``full=False`` (inside a NEW-VIEW's V) also accepts the pre-prepare stripped of its
        batch: its signature covers the digest (messages.signed_bytes)."""
        if not (pp.view >= 0 and pp.seq >= 1 and pp.replica == self.q.primary(pp.view)):
            return False
        if not full and not pp.batch:
            return True
        return batch_digest(pp.batch) == pp.digest and self.batch_ok(pp.batch)

    def preprepare(self, signed: Signed, full: bool = True) -> PrePrepare | None:
        pp = self.open(signed, PrePrepare)
        return pp if pp is not None and self.preprepare_ok(pp, full) else None


def checkpoint_proof_ok(op: Opener, proof: tuple[Signed, ...], seq: int, digest: bytes) -> bool:
    """§4.3: a stable checkpoint's proof is 2f+1 signed CHECKPOINT(seq, digest) messages from
    distinct replicas. The genesis checkpoint (seq 0) needs none."""
    if seq == 0:
        return digest == GENESIS_DIGEST and not proof
    if seq < 0:
        return False
    voters = set()
    for signed in proof:
        ck = op.open(signed, Checkpoint)
        if ck is None or ck.seq != seq or ck.digest != digest:
            return False
        voters.add(ck.replica)
    return len(voters) >= op.q.quorum


def prepared_proof_ok(op: Opener, proof: PreparedProof, full: bool = True) -> PrePrepare | None:
    """§4.4's P_m: a valid pre-prepare and 2f prepares matching its (view, seq, digest) from
    distinct backups (the primary's pre-prepare stands for its own prepare). ``full``: the
    pre-prepare must carry its batch (see ``Opener.preprepare_ok``)."""
    pp = op.preprepare(proof.preprepare, full)
    if pp is None:
        return None
    voters = set()
    for signed in proof.prepares:
        p = op.open(signed, Prepare)
        if p is None or (p.view, p.seq, p.digest) != (pp.view, pp.seq, pp.digest) \
                or p.replica == pp.replica:
            return None
        voters.add(p.replica)
    return pp if len(voters) >= op.q.quorum - 1 else None


def commit_proof_ok(op: Opener, proof) -> PrePrepare | None:
    """A commit certificate (``CommitProof``): the prepared certificate of §4.4 plus 2f+1
    commits matching it from distinct replicas. Its existence means f+1 correct replicas
    prepared the batch, so §4.5.1 keeps it at this sequence number in every later view."""
    pp = prepared_proof_ok(op, PreparedProof(proof.preprepare, proof.prepares))
    if pp is None:
        return None
    voters = set()
    for signed in proof.commits:
        c = op.open(signed, Commit)
        if c is None or (c.view, c.seq, c.digest) != (pp.view, pp.seq, pp.digest):
            return None
        voters.add(c.replica)
    return pp if len(voters) >= op.q.quorum else None


def view_change_certs(op: Opener, vc: ViewChange, log_size: int,
                      full: bool = True) -> dict[int, PrePrepare] | None:
    """§4.4: checks a VIEW-CHANGE's checkpoint proof C and prepared set P; returns the
    prepared pre-prepares by sequence number, or None if anything is invalid. Each P_m must
    lie in (stable_seq, stable_seq + L], come from a view below ``vc.view`` and be the only
    one for its sequence number. A VIEW-CHANGE sent to the new primary must carry the
    prepared batches (``full``: the primary needs them for O); one nested in a NEW-VIEW's V
    comes stripped (``full=False``: O's pre-prepares carry the batches)."""
    if vc.view < 1 or not checkpoint_proof_ok(op, vc.checkpoint_proof, vc.stable_seq,
                                              vc.stable_digest):
        return None
    certs: dict[int, PrePrepare] = {}
    for proof in vc.prepared:
        pp = prepared_proof_ok(op, proof, full)
        if pp is None or pp.view >= vc.view or pp.seq in certs \
                or not vc.stable_seq < pp.seq <= vc.stable_seq + log_size:
            return None
        certs[pp.seq] = pp
    return certs


@dataclass(frozen=True)
class NewViewPlan:
    """What a NEW-VIEW for ``view`` decides (§4.4): the stable checkpoint min-s with its digest
    and proof, and O as (seq, digest, batch) for every seq in (min-s, max-s]."""

    view: int
    stable_seq: int
    stable_digest: bytes
    stable_proof: tuple[Signed, ...]
    entries: tuple[tuple[int, bytes, tuple[Signed, ...]], ...]

    @property
    def max_seq(self) -> int:
        return self.entries[-1][0] if self.entries else self.stable_seq


def new_view_plan(view: int, vcs: list[tuple[ViewChange, dict[int, PrePrepare]]]) -> NewViewPlan:
    """§4.4: min-s is the latest stable checkpoint in V; for each n in (min-s, max-s], O holds
    the pre-prepare of the highest view that prepared n in some P, or a null request.
    Ties (impossible with at most f faulty replicas) break on the smaller digest so that every
    replica computes the same O."""
    best = max(vcs, key=lambda item: (item[0].stable_seq, -item[0].replica))[0]
    chosen: dict[int, PrePrepare] = {}
    for _, certs in vcs:
        for seq, pp in certs.items():
            cur = chosen.get(seq)
            if seq > best.stable_seq and (cur is None or (pp.view, cur.digest) > (cur.view,
                                                                                  pp.digest)):
                chosen[seq] = pp
    top = max(chosen, default=best.stable_seq)
    entries = tuple((n, chosen[n].digest, chosen[n].batch) if n in chosen else
                    (n, NULL_DIGEST, ()) for n in range(best.stable_seq + 1, top + 1))
    return NewViewPlan(view, best.stable_seq, best.stable_digest, best.checkpoint_proof, entries)


def new_view_ok(op: Opener, nv: NewView, log_size: int) -> NewViewPlan | None:
    """§4.4: a backup accepts NEW-VIEW if V holds 2f+1 valid VIEW-CHANGEs for nv.view from
    distinct replicas and O is exactly what ``new_view_plan`` computes from V. V's
    view-changes come stripped of their batches (the plan's entries then carry digests
    only); O's pre-prepares carry theirs, checked against the digests."""
    vcs, voters = [], set()
    for signed in nv.view_changes:
        vc = op.open(signed, ViewChange)
        if vc is None or vc.view != nv.view or vc.replica in voters:
            return None
        certs = view_change_certs(op, vc, log_size, full=False)
        if certs is None:
            return None
        voters.add(vc.replica)
        vcs.append((vc, certs))
    if len(voters) < op.q.quorum:
        return None
    plan = new_view_plan(nv.view, vcs)
    if len(nv.preprepares) != len(plan.entries):
        return None
    for signed, (seq, digest, _) in zip(nv.preprepares, plan.entries, strict=True):
        pp = op.preprepare(signed)
        if pp is None or (pp.view, pp.seq, pp.digest) != (nv.view, seq, digest):
            return None
    return plan
