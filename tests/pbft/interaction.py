"""The interaction harness behind the golden transcripts in tests/pbft/testdata/*.txt.

Use cases (one command per block; the text after ``----`` is what it printed)::

    init n=4 k=2 l=4
    request client=c1 ts=1 op=x to=0      # a client-signed request proposed at replica 0
    deliver to=1 type=PrePrepare          # deliver matching in-flight messages (drop: lose them)
    stabilize                             # deliver until nothing moves
    tick n=12 nodes=1,2,3                 # logical clock ticks
    crash 0 / restart 0                   # restart rebuilds from persisted records + snapshot
    craft from=0 to=1 kind=pp view=0 seq=1 reqs=c1:1:x   # a replica's own (Byzantine) message
    forge from=3 as=2 to=1 kind=commit view=0 seq=1 digest=pp:1   # signed by 3, claims 2
    raw to=1 hex=00ff                     # bytes off the wire
    replay to=1 index=3                   # deliver an earlier message again
    status                                # one line per replica

Keys are real Ed25519 keys derived from fixed seeds, so signatures (never printed) and hence
the transcripts are deterministic. Digests print as their first 4 hex digits.
"""

from __future__ import annotations

import hashlib

from uqo.control.pbft.config import Config
from uqo.control.pbft.core import PbftCore
from uqo.control.pbft.messages import (
    Checkpoint,
    Commit,
    CommitProof,
    NewView,
    Prepare,
    PrePrepare,
    Request,
    Status,
    ViewChange,
    batch_digest,
    decode_body,
    decode_signed,
    encode_signed,
    sign,
)
from uqo.control.pbft.state import RMsg, RPrepared, RStable, RView

from .simkeys import ed25519_keys

CLIENTS = ["c1", "c2", "c3"]


def h(d: bytes) -> str:
    return d.hex()[:4]


def req_str(signed) -> str:
    r = decode_body(signed.body)
    return f"{r.client}:{r.timestamp}"


def msg_str(msg) -> str:
    """One message, briefly."""
    if isinstance(msg, Request):
        return f"Request {msg.client}:{msg.timestamp} op={msg.op.decode(errors='replace')}"
    if isinstance(msg, PrePrepare):
        reqs = ",".join(req_str(s) for s in msg.batch)
        return f"PrePrepare v={msg.view} n={msg.seq} d={h(msg.digest)} [{reqs}] by {msg.replica}"
    if isinstance(msg, (Prepare, Commit)):
        return f"{type(msg).__name__} v={msg.view} n={msg.seq} d={h(msg.digest)} by {msg.replica}"
    if isinstance(msg, Checkpoint):
        return f"Checkpoint n={msg.seq} d={h(msg.digest)} by {msg.replica}"
    if isinstance(msg, ViewChange):
        prepared = ",".join(f"n={decode_body(p.preprepare.body).seq}"
                            f"/v={decode_body(p.preprepare.body).view}" for p in msg.prepared)
        return f"ViewChange v={msg.view} h={msg.stable_seq} P=[{prepared}] by {msg.replica}"
    if isinstance(msg, NewView):
        voters = ",".join(str(decode_body(s.body).replica) for s in msg.view_changes)
        o = ",".join(f"{decode_body(s.body).seq}:{h(decode_body(s.body).digest)}"
                     for s in msg.preprepares)
        return f"NewView v={msg.view} V=[{voters}] O=[{o}] by {msg.replica}"
    if isinstance(msg, CommitProof):
        pp = decode_body(msg.preprepare.body)
        return f"CommitProof v={pp.view} n={pp.seq} d={h(pp.digest)} ({len(msg.prepares)} " \
               f"prepares, {len(msg.commits)} commits) by {msg.replica}"
    if isinstance(msg, Status):
        mode = "normal" if msg.normal else "changing"
        return f"Status v={msg.view} {mode} h={msg.stable_seq} e={msg.executed} by {msg.replica}"
    return type(msg).__name__


def rec_str(rec) -> str:
    if isinstance(rec, RView):
        return f"view {rec.view} {'normal' if rec.normal else 'changing'}"
    if isinstance(rec, RMsg):
        return msg_str(decode_body(rec.signed.body))
    if isinstance(rec, RPrepared):
        pp = decode_body(rec.proof.preprepare.body)
        return f"prepared n={pp.seq} v={pp.view} d={h(pp.digest)} ({len(rec.proof.prepares)} " \
               f"prepares)"
    if isinstance(rec, RStable):
        return f"stable n={rec.seq} d={h(rec.digest)}"
    return repr(rec)


def wire_str(data: bytes) -> str:
    try:
        return msg_str(decode_body(decode_signed(data).body))
    except ValueError:
        return f"<{len(data)} bytes>"


class Node:
    """A replica with the simplest faithful driver: a list of executed ops as its state."""

    def __init__(self, cluster: Cluster, i: int):
        self.cluster, self.i = cluster, i
        self.records: list = []
        self.snapshot: tuple[int, list, bytes | None] = (0, [], None)
        self.start()

    def start(self) -> None:
        seq, ops, table = self.snapshot
        self.ops = list(ops)
        self.core = PbftCore(self.cluster.config(self.i), self.cluster.keys.replicas[self.i],
                             self.cluster.keys.ring, records=list(self.records), executed=seq,
                             client_table=table)
        self.up = True

    def digest(self) -> bytes:
        return hashlib.sha256(repr(self.ops).encode()).digest()

    def handle(self, out: list[str], persist: bool) -> None:
        core = self.core
        while core.has_ready():
            rd = core.ready()
            self.records = list(rd.persist) if rd.reset else self.records + list(rd.persist)
            if persist and rd.reset:
                out.append(f"{self.i} persist reset ({len(rd.persist)} records)")
            elif persist:
                out += [f"{self.i} persist {rec_str(r)}" for r in rd.persist]
            for s in rd.sends:
                out.append(f"{self.i} send {'*' if s.to is None else s.to}: {wire_str(s.data)}")
                self.cluster.post(self.i, s.to, s.data)
            for e in rd.execute:
                self.ops += [f"{r.client}:{r.timestamp}:{r.op.decode()}" for r in e.requests]
                reqs = ",".join(f"{r.client}:{r.timestamp}" for r in e.requests)
                out.append(f"{self.i} execute n={e.seq} v={e.view} [{reqs}]"
                           + (" checkpoint" if e.client_table is not None else ""))
                if e.client_table is not None:
                    self.snapshot = (e.seq, list(self.ops), e.client_table)
                    core.checkpoint(e.seq, self.digest())
            for client, ts in rd.replies:
                out.append(f"{self.i} reply again {client}:{ts}")
            if rd.fetch is not None:
                out.append(f"{self.i} fetch n={rd.fetch.seq} d={h(rd.fetch.digest)} from "
                           f"{list(rd.fetch.replicas)}")
                self.cluster.transfer(self, rd.fetch, out)
            if rd.dropped:
                out.append(f"{self.i} dropped " + " ".join(
                    f"{k}={v}" for k, v in sorted(rd.dropped.items())))
            core.advance(rd)


class Cluster:
    def __init__(self, n: int = 4, **cfg):
        self.n, self.cfg = n, cfg
        self.keys = ed25519_keys(n, CLIENTS, seed=1)
        self.queue: list[tuple[int, int, bytes]] = []     # (from, to, data)
        self.history: list[tuple[int, bytes]] = []
        self.nodes = [Node(self, i) for i in range(n)]

    def config(self, i: int) -> Config:
        return Config(n=self.n, replica=i, **self.cfg)

    def post(self, src: int, to: int | None, data: bytes) -> None:
        for j in (range(self.n) if to is None else [to]):
            if j != src:
                self.queue.append((src, j, data))

    def transfer(self, node: Node, fetch, out: list[str]) -> None:
        """State transfer from the first listed replica that is up and has the checkpoint."""
        for r in fetch.replicas:
            src = self.nodes[r]
            if r != node.i and src.up and src.snapshot[0] == fetch.seq:
                seq, ops, table = src.snapshot
                ok = node.core.install_snapshot(seq, hashlib.sha256(repr(ops).encode())
                                                .digest(), table)
                out.append(f"{node.i} state from {r} n={seq}: {'installed' if ok else 'refused'}")
                if ok:
                    node.ops, node.snapshot = list(ops), (seq, list(ops), table)
                    return

    def handle_all(self, out: list[str], persist: bool = True) -> None:
        for node in self.nodes:
            if node.up:
                node.handle(out, persist)

    def deliver(self, out: list[str], to=None, src=None, kind=None, drop=False,
                persist=True) -> int:
        keep, moved = [], 0
        batch, self.queue = self.queue, []
        for item in batch:
            f, t, data = item
            if (to is not None and t not in to) or (src is not None and f not in src) or \
                    (kind is not None and not wire_str(data).startswith(kind)):
                keep.append(item)
                continue
            moved += 1
            if drop or not self.nodes[t].up:
                out.append(f"{f}->{t} dropped: {wire_str(data)}")
                continue
            out.append(f"{f}->{t} {wire_str(data)}")
            self.history.append((t, data))
            self.nodes[t].core.step(data)
            self.nodes[t].handle(out, persist)
        self.queue = keep + self.queue
        return moved

    def step_raw(self, to: int, data: bytes, out: list[str]) -> None:
        self.history.append((to, data))
        self.nodes[to].core.step(data)
        self.nodes[to].handle(out, True)

    def request(self, client: str, ts: int, op: str):
        return sign(self.keys.clients[client], Request(client, ts, op.encode()))

    def batch(self, spec: str) -> tuple:
        if not spec:
            return ()
        out = []
        for item in spec.split(","):
            client, ts, op = item.split(":")
            out.append(self.request(client, int(ts), op))
        return tuple(out)

    def digest_of(self, spec: str) -> bytes:
        """``pp:<seq>``: the digest of the pre-prepare logged at seq by the lowest-numbered
        replica holding one (``pp:<seq>@<replica>``: by that replica); else hex digits."""
        if spec.startswith("pp:"):
            seq, _, who = spec[3:].partition("@")
            nodes = [self.nodes[int(who)]] if who else self.nodes
            for node in nodes:
                slot = node.up and node.core.state.slots.get(int(seq))
                if slot and slot.pp is not None:
                    return slot.pp[0].digest
            raise ValueError(f"no replica logged a pre-prepare at seq {seq}")
        return bytes.fromhex(spec.ljust(64, "0"))

    def craft(self, signer_id: int, claim: int, kind: str, a: dict):
        view, seq = int(a.get("view", 0)), int(a.get("seq", 1))
        if kind == "pp":
            batch = self.batch(a.get("reqs", ""))
            if "badclient" in a:        # the requests signed by the crafting replica instead
                batch = tuple(sign(self.keys.replicas[signer_id], decode_body(r.body))
                              for r in batch)
            digest = batch_digest(batch) if "digest" not in a else self.digest_of(a["digest"])
            msg = PrePrepare(view, seq, digest, batch, claim)
        elif kind in ("prepare", "commit"):
            cls = Prepare if kind == "prepare" else Commit
            msg = cls(view, seq, self.digest_of(a.get("digest", "00")), claim)
        elif kind == "checkpoint":
            msg = Checkpoint(seq, self.digest_of(a.get("digest", "00")), claim)
        else:
            raise ValueError(f"unknown kind {kind!r}")
        return encode_signed(sign(self.keys.replicas[signer_id], msg))

    def status_lines(self) -> list[str]:
        lines = []
        for node in self.nodes:
            if not node.up:
                lines.append(f"{node.i}: down")
                continue
            s = node.core.summary()
            mode = "normal" if s["normal"] else "changing"
            lines.append(f"{node.i}: view={s['view']} {mode} primary={s['primary']} "
                         f"h={s['stable_seq']} executed={s['executed']} ops={len(node.ops)} "
                         f"log={sorted(node.core.state.slots)}")
        return lines
