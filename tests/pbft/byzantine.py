"""Byzantine replicas for the simulator: an honest core whose outputs are tampered with.

Use cases::

    nodes = make_byzantine(sim, ident=2, behaviour="equivocate")   # one node (two for twins)

Behaviours (each holds only its own identity's key, as a real attacker would):

* ``silent``: sends nothing, answers no client (a crashed or mute primary);
* ``slow``: everything it sends is late by 15-60 ticks (a slow primary);
* ``equivocate``: as primary, pre-prepares a different batch for the same sequence number to
  half of the backups; as backup, prepares and commits random digests to some replicas;
* ``forge``: also sends messages under other replicas' and clients' names (signed with its
  own key), including a NEW-VIEW in the next primary's name;
* ``replay``: also resends old messages and requests it received, to random replicas;
* ``malformed``: also sends garbage: random bytes, truncated and bit-flipped messages, bodies
  that do not decode, well-signed messages with absurd fields or of the wrong kind;
* ``bad_certs``: view changes carry tampered certificates (a prepare dropped or swapped for
  one of another digest, a forged stable checkpoint, a wrong checkpoint digest), its NEW-VIEW
  has a wrong O, its checkpoints have wrong digests and it serves corrupt state transfers;
* ``twins`` (Bano et al. 2020): two honest instances of one identity and key, placed by the
  partition schedule, so they equivocate naturally as primary and as voters;
* ``mix``: each message is handled by one of the tampering behaviours, at random.

It also answers clients with wrong results (which must never be accepted).
"""

from __future__ import annotations

from uqo.control.pbft.messages import (
    Checkpoint,
    Commit,
    MalformedMessage,
    NewView,
    Prepare,
    PreparedProof,
    PrePrepare,
    Reply,
    Request,
    Signed,
    Status,
    ViewChange,
    batch_digest,
    decode_body,
    decode_signed,
    encode_signed,
    sign,
)

from .sim import ReplicaNode


def make_byzantine(sim, ident: int, behaviour: str) -> list:
    if behaviour == "twins":
        return [TwinNode(sim, ident, 0), TwinNode(sim, ident, 1)]
    return [ByzantineNode(sim, ident, behaviour)]


class TwinNode(ReplicaNode):
    checked = False

    def result(self, chain: bytes) -> bytes:
        return chain


class ByzantineNode(ReplicaNode):
    checked = False
    TAMPER = ("equivocate", "forge", "replay", "malformed", "bad_certs")

    def __init__(self, sim, ident: int, behaviour: str):
        self.behaviour = behaviour
        self.seen: list[bytes] = []
        self.rng = sim.rng
        super().__init__(sim, ident)

    # ---- what it sends -----------------------------------------------------------------
    def emit(self, to, data) -> None:
        mode = self.behaviour
        if mode == "mix":
            mode = self.sim.rng.choice(self.TAMPER)
        if mode == "silent":
            return
        if mode == "slow":
            self.sim.route(self, to, data, extra=self.sim.rng.randint(15, 60))
            return
        if not isinstance(data, bytes):
            self.sim.route(self, to, data)
            return
        handler = {"equivocate": self._equivocate, "bad_certs": self._bad_certs}.get(mode)
        if handler is None:
            self.sim.route(self, to, data)
        else:
            handler(to, data)

    def tick(self) -> None:
        super().tick()
        mode = self.behaviour
        if mode == "mix":
            mode = self.sim.rng.choice(self.TAMPER)
        inject = {"forge": self._forge, "replay": self._replay, "malformed": self._garbage}
        if mode in inject and self.sim.rng.random() < 0.3:
            inject[mode]()

    def receive(self, payload) -> None:
        if isinstance(payload, bytes) and len(self.seen) < 5000:
            self.seen.append(payload)
        super().receive(payload)

    def result(self, chain: bytes) -> bytes:
        return b"\xff" * 32 if self.behaviour != "slow" else chain

    def serve_state(self, seq: int, requester) -> None:
        if self.behaviour in ("silent",):
            return
        if self.behaviour in ("bad_certs", "mix"):
            snap = ((7, self.rng.randbytes(32), ()), b"\x90")
            self.sim.net.send(self.sim.now, self.ep, requester, ("state", seq, *snap))
            return
        super().serve_state(seq, requester)

    # ---- helpers -----------------------------------------------------------------------
    def _sign(self, msg) -> bytes:
        return encode_signed(sign(self.signer, msg))

    def _targets(self, to) -> list[int]:
        return [i for i in range(self.sim.p.n) if i != self.ident] if to is None else [to]

    def _decode(self, data: bytes):
        try:
            return decode_body(decode_signed(data).body)
        except MalformedMessage:
            return None

    # ---- equivocation (§4.2's conflicting pre-prepares) ---------------------------------
    def _equivocate(self, to, data: bytes) -> None:
        msg = self._decode(data)
        for i in self._targets(to):
            out = data
            if isinstance(msg, PrePrepare) and self.rng.random() < 0.5:
                batch = self._other_batch(msg.batch)
                out = self._sign(PrePrepare(msg.view, msg.seq, batch_digest(batch), batch,
                                            msg.replica))
            elif isinstance(msg, (Prepare, Commit)) and self.rng.random() < 0.3:
                out = self._sign(type(msg)(msg.view, msg.seq, self.rng.randbytes(32), msg.replica))
            self.sim.route(self, i, out)

    def _other_batch(self, batch: tuple[Signed, ...]) -> tuple[Signed, ...]:
        choice = self.rng.randrange(3)
        if choice == 0 and len(batch) > 1:
            return tuple(reversed(batch))
        if choice == 1 and batch:
            return batch[:-1]
        return ()

    # ---- tampered certificates (§4.3, §4.4) --------------------------------------------
    def _bad_certs(self, to, data: bytes) -> None:
        msg = self._decode(data)
        if isinstance(msg, ViewChange):
            data = self._sign(self._tamper_vc(msg))
        elif isinstance(msg, NewView):
            data = self._sign(self._tamper_nv(msg))
        elif isinstance(msg, Checkpoint):
            data = self._sign(Checkpoint(msg.seq, self.rng.randbytes(32), msg.replica))
        self.sim.route(self, to, data)

    def _tamper_vc(self, vc: ViewChange) -> ViewChange:
        choice = self.rng.randrange(4)
        prepared = list(vc.prepared)
        if choice == 0 and prepared:
            p = prepared[0]
            prepared[0] = PreparedProof(p.preprepare, p.prepares[1:])
        elif choice == 1 and prepared:
            p = prepared[0]
            pp = decode_body(p.preprepare.body)
            fake = sign(self.signer, Prepare(pp.view, pp.seq, self.rng.randbytes(32), self.ident))
            prepared[0] = PreparedProof(p.preprepare, (fake,) + p.prepares[1:])
        elif choice == 2:
            ck = sign(self.signer, Checkpoint(vc.stable_seq + 4, b"\x01" * 32, self.ident))
            return ViewChange(vc.view, vc.stable_seq + 4, b"\x01" * 32, (ck, ck, ck),
                              vc.prepared, vc.replica)
        else:
            return ViewChange(vc.view, vc.stable_seq, self.rng.randbytes(32), vc.checkpoint_proof,
                              vc.prepared, vc.replica)
        return ViewChange(vc.view, vc.stable_seq, vc.stable_digest, vc.checkpoint_proof,
                          tuple(prepared), vc.replica)

    def _tamper_nv(self, nv: NewView) -> NewView:
        choice = self.rng.randrange(3)
        pps = list(nv.preprepares)
        if choice == 0 and pps:
            pp = decode_body(pps[-1].body)
            batch = self._other_batch(pp.batch) if pp.batch else self._some_requests()
            pps[-1] = sign(self.signer, PrePrepare(pp.view, pp.seq, batch_digest(batch), batch,
                                                   pp.replica))
        elif choice == 1 and pps:
            pps.pop()
        else:
            return NewView(nv.view, nv.view_changes[1:], nv.preprepares, nv.replica)
        return NewView(nv.view, nv.view_changes, tuple(pps), nv.replica)

    def _some_requests(self) -> tuple[Signed, ...]:
        found = []
        for data in self.seen[-50:]:
            try:
                s = decode_signed(data)
                if isinstance(decode_body(s.body), Request):
                    found.append(s)
            except MalformedMessage:
                continue
        return tuple(found[-1:])

    # ---- injections --------------------------------------------------------------------
    def _forge(self) -> None:
        rng, n = self.rng, self.sim.p.n
        victim = rng.choice([i for i in range(n) if i != self.ident])
        view = self.core.state.view
        seq = self.core.last_executed + 1
        msgs = [Commit(view, seq, self.rng.randbytes(32), victim),
                Prepare(view, seq, self.rng.randbytes(32), victim),
                Checkpoint(4 * (seq // 4 + 1), self.rng.randbytes(32), victim),
                ViewChange(view + 1, 0, b"\x00" * 32, (), (), victim),
                NewView(view + 1, (), (), (view + 1) % n),
                Request(rng.choice(list(self.sim.clients)), 10**6 + rng.randrange(10**6),
                        b"forged")]
        msg = rng.choice(msgs)
        self.sim.route(self, None, self._sign(msg))

    def _replay(self) -> None:
        if self.seen:
            data = self.rng.choice(self.seen)
            self.sim.route(self, self.rng.randrange(self.sim.p.n), data)

    def _garbage(self) -> None:
        rng = self.rng
        kind = rng.randrange(7)
        if kind == 0 or not self.seen:
            data = self.rng.randbytes(rng.randint(0, 200))
        elif kind == 1:
            data = rng.choice(self.seen)
            data = data[:rng.randrange(len(data))]
        elif kind == 2:
            data = bytearray(rng.choice(self.seen))
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            data = bytes(data)
        elif kind == 3:
            data = encode_signed(Signed(self.rng.randbytes(40), self.rng.randbytes(64)))
        elif kind == 4:
            data = self._sign(Reply(0, "c0", 1, b"x", self.ident))
        elif kind == 5:
            data = self._sign(rng.choice([
                Prepare(-1, -5, b"", self.ident), Commit(2**62, 2**62, b"\x00", self.ident),
                Checkpoint(3, b"", self.ident), Status(-3, False, -1, -9, self.ident),
                PrePrepare(self.core.state.view, 2**40, b"", (), self.ident),
                ViewChange(-1, -4, b"", (), (), self.ident)]))
        else:
            data = self._sign(PrePrepare(self.core.state.view, self.core.last_executed + 1,
                                         self.rng.randbytes(32), (Signed(b"\x01", b""),),
                                         self.ident))
        self.sim.route(self, rng.randrange(self.sim.p.n), data)
