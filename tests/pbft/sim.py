"""A deterministic simulator of a PBFT cluster: lossy network, crashes, Byzantine replicas.

Use cases::

    result = run(seed)                      # parameters drawn from the seed; raises Violation
    result = run(seed, Params(n=7, byzantine="twins"))

One seed fixes everything: the network (drops, delays and hence reordering, partitions) before
the global stabilisation time ``gst``, crashes and restarts of correct replicas (from what they
persisted), which replica is Byzantine and how (``tests/pbft/byzantine.py``), and the clients'
think times. After ``gst`` the network delivers within ``post_delay`` ticks, partitions heal
and crashed replicas are back. Safety is checked on every execution (``checker.Checker``);
liveness at the end: every client request completed (f+1 matching replies) and all correct
replicas converged to one state, before ``deadline``.

A correct replica's node is a faithful driver: it persists a Ready's records before sending
its messages, applies executions in order, snapshots its application at checkpoints, serves
and fetches state transfers, and on restart rebuilds the core from its records and latest
snapshot only.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from dataclasses import dataclass, field, replace

from uqo.control.pbft.client import ClientCore, reply_bytes
from uqo.control.pbft.config import Config
from uqo.control.pbft.core import PbftCore
from uqo.control.pbft.messages import (
    MalformedMessage,
    Request,
    decode_body,
    decode_client_table,
    decode_signed,
)
from uqo.control.pbft.quorum import Quorums
from uqo.control.pbft.state import DurableState, decode_record, encode_record

from .checker import GENESIS_CHAIN, Checker, Violation, chain_step
from .simkeys import ed25519_keys, hash_keys

BEHAVIOURS = ("silent", "slow", "equivocate", "forge", "replay", "malformed", "bad_certs",
              "twins", "mix")


@dataclass(frozen=True)
class Params:
    n: int = 4
    clients: int = 2
    drop: float = 0.05
    max_delay: int = 4
    post_delay: int = 2
    gst: int = 300
    stop_requests: int = 450
    deadline: int = 6000
    partitions: bool = False
    crashes: int = 0
    byzantine: str | None = None
    byz_replica: int = 0
    keys: str = "hash"
    check_recovery: bool = False
    checkpoint_interval: int = 4
    log_size: int = 8
    max_batch: int = 3
    max_inflight: int = 2
    view_change_ticks: int = 40
    status_ticks: int = 6
    max_backoff: int = 3
    op_bytes: int = 0                 # pad each client op to this size (large batches)
    max_message: int | None = None    # the transport's bound: larger messages are lost
    kill_primary_at: int | None = None   # kill -9 the primary of the view then, for good

    def config(self, replica: int) -> Config:
        return Config(n=self.n, replica=replica, checkpoint_interval=self.checkpoint_interval,
                      log_size=self.log_size, max_batch=self.max_batch,
                      max_inflight=self.max_inflight, view_change_ticks=self.view_change_ticks,
                      status_ticks=self.status_ticks, max_backoff=self.max_backoff)


def params_for(seed: int, **fixed) -> Params:
    """The scenario of ``seed``: a mix of everything, some seeds quiet, some harsh."""
    rng = random.Random(seed * 7919 + 17)
    n = rng.choice((4, 4, 4, 7))
    p = Params(n=n, clients=rng.randint(1, 3), drop=rng.choice((0.0, 0.02, 0.1, 0.3)),
               max_delay=rng.randint(1, 8), post_delay=rng.randint(1, 3),
               partitions=rng.random() < 0.4, crashes=rng.choice((0, 0, 1, 2, 4)),
               byzantine=rng.choice((None,) + BEHAVIOURS), byz_replica=rng.randrange(n),
               check_recovery=rng.random() < 0.2)
    return replace(p, **fixed)


class App:
    """The replicated application: a hash chain over executed requests, and each client's
    last result (part of the state, as in PBFT: a replica resends it to a client that
    retransmits a request it already executed, even after a restart)."""

    def __init__(self, count: int = 0, chain: bytes = GENESIS_CHAIN, last=()):
        self.count, self.chain = count, chain
        self.last: dict[str, tuple[int, bytes]] = {c: (t, r) for c, t, r in last}

    def apply(self, client: str, ts: int, body: bytes) -> bytes:
        self.count += 1
        self.chain = chain_step(self.chain, body)
        self.last[client] = (ts, self.chain)
        return self.chain

    def snapshot(self) -> tuple:
        return (self.count, self.chain,
                tuple(sorted((c, t, r) for c, (t, r) in self.last.items())))

    def digest(self) -> bytes:
        return hashlib.sha256(repr(self.snapshot()).encode()).digest()


class Net:
    """Seeded delivery: drops and delays before ``gst``, partitions by group."""

    def __init__(self, rng: random.Random, p: Params):
        self.rng, self.p = rng, p
        self.heap: list = []
        self.counter = 0
        self.groups: dict | None = None       # endpoint -> group while partitioned
        self.sent = self.delivered = self.oversize = 0
        self.largest: dict[str, int] = {}     # message kind -> largest size sent

    def send(self, now: int, src, dst, payload, extra: int = 0) -> None:
        self.sent += 1
        if isinstance(payload, bytes):
            kind = _kind(payload)
            self.largest[kind] = max(self.largest.get(kind, 0), len(payload))
            if self.p.max_message is not None and len(payload) > self.p.max_message:
                self.oversize += 1            # as a transport refusing the body (HTTP 413)
                return
        if self.groups is not None and self.groups.get(src, 0) != self.groups.get(dst, 0):
            return
        if now < self.p.gst and self.rng.random() < self.p.drop:
            return
        top = self.p.max_delay if now < self.p.gst else self.p.post_delay
        self.counter += 1
        heapq.heappush(self.heap, (now + self.rng.randint(1, top) + extra, self.counter, dst,
                                   payload))

    def due(self, now: int):
        while self.heap and self.heap[0][0] <= now:
            _, _, dst, payload = heapq.heappop(self.heap)
            self.delivered += 1
            yield dst, payload


def _kind(payload: bytes) -> str:
    try:
        return type(decode_body(decode_signed(payload).body)).__name__
    except MalformedMessage:
        return "malformed"


@dataclass
class Disk:
    records: list = field(default_factory=list)
    synced: int = 0           # records[:synced] are fsync'd; the rest may be lost in a crash
    snapshots: dict = field(default_factory=dict)    # seq -> (count, chain, client table)


class ReplicaNode:
    """A correct replica and its driver."""

    checked = True

    def __init__(self, sim: Sim, ident: int, instance: int = 0):
        self.sim, self.ident, self.ep = sim, ident, ("r", ident, instance)
        self.name = f"{ident}" + ("'" if instance else "")
        self.signer = sim.keys.replicas[ident]
        self.disk = Disk()
        self.dropped: dict[str, int] = {}
        self.restarts = 0
        self.start()

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        snaps = self.disk.snapshots
        seq = max(snaps, default=0)
        app, table = snaps[seq] if seq else ((), None)
        self.app = App(*app)
        self.client_last = decode_client_table(table) if table else {}
        self.expect_seq = seq + 1
        self.core = PbftCore(self.sim.p.config(self.ident), self.signer, self.sim.keys.ring,
                             records=list(self.disk.records), executed=seq,
                             client_table=table)
        self.up = True
        self.shadow = None
        self.pump()

    def crash(self) -> None:
        """Lose the process, and of the records written without fsync (``Ready.sync``
        False) all but a seeded prefix (a torn tail: the storage reads up to the first bad
        frame)."""
        disk = self.disk
        keep = self.sim.crash_rng.randint(min(disk.synced, len(disk.records)), len(disk.records))
        del disk.records[keep:]
        self.up, self.core, self.app = False, None, None

    def restart(self) -> None:
        self.restarts += 1
        self.start()

    # ---- inputs ------------------------------------------------------------------------
    def receive(self, payload) -> None:
        if isinstance(payload, bytes):
            self.core.step(payload)
        elif payload[0] == "fetch":
            self.serve_state(payload[1], payload[2])
        elif payload[0] == "state":
            self.take_state(*payload[1:])
        self.pump()

    def tick(self) -> None:
        self.core.tick()
        self.pump()

    # ---- the driver loop ---------------------------------------------------------------
    def pump(self) -> None:
        core = self.core
        while core.has_ready():
            rd = core.ready()
            if rd.reset:
                self.disk.records = list(rd.persist)
            else:
                self.disk.records.extend(rd.persist)
            if rd.sync or rd.reset:
                self.disk.synced = len(self.disk.records)
            if self.checked and self.sim.p.check_recovery and (rd.persist or rd.reset):
                self.check_recovered(rd)
            for s in rd.sends:
                self.emit(s.to, s.data)
            for e in rd.execute:
                self.execute(e)
            for client, ts in rd.replies:
                cached = self.app.last.get(client)
                if cached is not None and cached[0] == ts:
                    self.reply(core.state.view, client, ts, cached[1])
            if rd.fetch is not None:
                self.fetch(rd.fetch)
            for reason, count in rd.dropped.items():
                self.dropped[reason] = self.dropped.get(reason, 0) + count
            core.advance(rd)

    def emit(self, to: int | None, data: bytes) -> None:
        self.sim.route(self, to, data)

    def execute(self, e) -> None:
        if self.checked:
            self.sim.checker.on_seq(self, e.seq, [r.op for r in e.requests])
        for req in e.requests:
            result = self.app.apply(req.client, req.timestamp, req.op)
            if self.checked:
                self.sim.checker.on_request(self, self.app.count, req.client, req.timestamp,
                                            req.op, result)
            self.reply(e.view, req.client, req.timestamp, result)
        if e.client_table is not None:
            self.disk.snapshots[e.seq] = (self.app.snapshot(), e.client_table)
            self.core.checkpoint(e.seq, self.app.digest())
            self.prune_snapshots()

    def reply(self, view: int, client: str, ts: int, result: bytes) -> None:
        req = Request(client, ts, b"")
        data = reply_bytes(self.signer, self.ident, view, req, self.result(result))
        self.sim.to_client(self, client, data)

    def result(self, chain: bytes) -> bytes:
        return chain

    def prune_snapshots(self) -> None:
        stable = self.core.state.stable_seq
        for seq in [s for s in self.disk.snapshots if s < stable]:
            del self.disk.snapshots[seq]

    # ---- state transfer ----------------------------------------------------------------
    def fetch(self, f) -> None:
        sources = [r for r in f.replicas if r != self.ident] or \
            [r for r in range(self.sim.p.n) if r != self.ident]
        src = self.sim.rng.choice(sources)
        self.sim.route(self, src, ("fetch", f.seq, self.ep))

    def serve_state(self, seq: int, requester) -> None:
        snap = self.disk.snapshots.get(seq)
        if snap is not None:
            self.sim.net.send(self.sim.now, self.ep, requester, ("state", seq, *snap))

    def take_state(self, seq: int, app: tuple, table: bytes) -> None:
        if self.core.fetch is None or self.core.fetch.seq != seq:
            return
        try:
            candidate = App(*app)
        except (TypeError, ValueError):
            candidate = None
        if candidate is None or not self.core.install_snapshot(seq, candidate.digest(), table):
            self.dropped["bad_state"] = self.dropped.get("bad_state", 0) + 1
            return
        if self.checked:
            self.sim.checker.on_install(self, seq, candidate.count, candidate.chain)
        self.app = candidate
        self.client_last = decode_client_table(table)
        self.expect_seq = seq + 1
        self.disk.snapshots[seq] = (candidate.snapshot(), table)
        self.prune_snapshots()

    def check_recovered(self, rd) -> None:
        """The records on disk, folded from scratch (a restart), equal the live state."""
        p = self.sim.p
        if rd.reset or self.shadow is None:
            self.shadow = DurableState(p.checkpoint_interval, p.log_size)
            todo = self.disk.records
        else:
            todo = rd.persist
        for rec in todo:
            self.shadow.apply(decode_record(encode_record(rec)))
        if self.shadow.canonical() != self.core.state.canonical():
            raise Violation(f"recovery: replica {self.name}'s persisted records do not "
                            f"rebuild its live state")


class ClientNode:
    def __init__(self, sim: Sim, name: str):
        self.sim, self.name, self.ep = sim, name, ("c", name)
        self.core = ClientCore(name, sim.keys.clients[name], sim.keys.ring, sim.p.n,
                               retry_ticks=3 * sim.p.view_change_ticks // 2)
        self.next_issue = sim.rng.randint(0, 20)
        self.completed = 0

    def busy(self) -> bool:
        return self.core.outstanding is not None

    def tick(self, now: int) -> None:
        for s in self.core.tick():
            self.sim.route(self, s.to, s.data)
        if not self.busy() and now >= self.next_issue and now < self.sim.p.stop_requests:
            op = b"%s:%d" % (self.name.encode(), self.core.next_ts)
            op = op.ljust(self.sim.p.op_bytes, b".")
            _signed, sends = self.core.request(op)
            self.sim.checker.issued(op)
            for s in sends:
                self.sim.route(self, s.to, s.data)

    def receive(self, data: bytes) -> None:
        ts = self.core.outstanding[0] if self.core.outstanding else None
        result = self.core.step(data)
        if result is not None:
            self.sim.checker.on_accept(self.name, ts, result)
            self.completed += 1
            self.next_issue = self.sim.now + self.sim.rng.randint(0, 10)


@dataclass
class Result:
    seed: int
    params: Params
    ticks: int
    executed: int
    completed: int
    views: int
    dropped: dict
    messages: int
    oversize: int = 0                 # messages over ``max_message``, lost
    largest: dict = field(default_factory=dict)   # message kind -> largest size sent


class Sim:
    def __init__(self, seed: int, p: Params):
        from .byzantine import make_byzantine

        self.seed, self.p = seed, p
        self.rng = random.Random(seed)
        self.now = 0
        self.q = Quorums(p.n)
        clients = [f"c{i}" for i in range(p.clients)]
        make = ed25519_keys if p.keys == "ed25519" else hash_keys
        self.keys = make(p.n, clients, seed)
        self.checker = Checker()
        self.crash_rng = random.Random(seed + 3)
        self.net = Net(random.Random(seed + 1), p)
        self.nodes: dict = {}
        self.killed: set = set()
        for i in range(p.n):
            if p.byzantine is not None and i == p.byz_replica:
                for node in make_byzantine(self, i, p.byzantine):
                    self.nodes[node.ep] = node
            else:
                node = ReplicaNode(self, i)
                self.nodes[node.ep] = node
        self.clients = {c: ClientNode(self, c) for c in clients}
        for c in self.clients.values():
            self.nodes[c.ep] = c
        self.events = self._schedule()

    # ---- routing -----------------------------------------------------------------------
    def endpoints(self, ident: int) -> list:
        return [ep for ep in self.nodes if ep[0] == "r" and ep[1] == ident]

    def route(self, src, to, payload, extra: int = 0) -> None:
        """From a node to replica ``to`` (all replicas but the sender's identity if None)."""
        own = getattr(src, "ident", None)
        targets = range(self.p.n) if to is None else (to,)
        for ident in targets:
            if ident == own:
                continue
            for ep in self.endpoints(ident):
                self.net.send(self.now, src.ep, ep, payload, extra)

    def to_client(self, src, client: str, data: bytes) -> None:
        self.net.send(self.now, src.ep, ("c", client), data)

    # ---- faults ------------------------------------------------------------------------
    def _schedule(self) -> dict[int, list]:
        rng, p = random.Random(self.seed + 2), self.p
        events: dict[int, list] = {}
        correct = [ep for ep, n in self.nodes.items() if getattr(n, "checked", False)]
        for _ in range(p.crashes):
            at = rng.randint(1, p.gst - 20)
            ep = rng.choice(correct)
            back = min(at + rng.randint(5, 150), p.gst)
            events.setdefault(at, []).append(("crash", ep))
            events.setdefault(back, []).append(("restart", ep))
        if p.partitions or p.byzantine == "twins":
            at = rng.randint(0, 40)
            while at < p.gst:
                events.setdefault(at, []).append(("partition", rng.getrandbits(32)))
                at += rng.randint(20, 90)
        events.setdefault(p.gst, []).append(("heal", None))
        if p.kill_primary_at is not None:
            events.setdefault(p.kill_primary_at, []).append(("kill_primary", None))
        return events

    def _apply(self, event) -> None:
        kind, arg = event
        if kind == "crash" and self.nodes[arg].up:
            self.nodes[arg].crash()
        elif kind == "restart" and not self.nodes[arg].up:
            self.nodes[arg].restart()
        elif kind == "partition":
            prng = random.Random(arg)
            self.net.groups = {ep: prng.randrange(2) for ep in self.nodes}
        elif kind == "kill_primary":
            views = [n.core.state.view for n in self.correct() if n.up]
            victim = self.q.primary(max(set(views), key=views.count))
            for ep in self.endpoints(victim):
                node = self.nodes[ep]
                node.crash()
                node.checked = False          # gone for good: not restarted, not checked
                self.killed.add(ep)
        elif kind == "heal":
            self.net.groups = None
            for node in self.replica_nodes():
                if not node.up and node.ep not in self.killed:
                    node.restart()

    # ---- the loop ----------------------------------------------------------------------
    def replica_nodes(self) -> list:
        return [n for ep, n in self.nodes.items() if ep[0] == "r"]

    def correct(self) -> list:
        return [n for n in self.replica_nodes() if n.checked]

    def settled(self) -> bool:
        if self.now < max(self.p.gst, self.p.stop_requests):
            return False
        if any(c.busy() for c in self.clients.values()):
            return False
        states = {(n.core.last_executed, n.app.count) for n in self.correct()}
        return len(states) == 1

    def run(self) -> Result:
        p = self.p
        while self.now < p.deadline:
            for event in self.events.get(self.now, ()):
                self._apply(event)
            for dst, payload in list(self.net.due(self.now)):
                node = self.nodes.get(dst)
                if node is not None and getattr(node, "up", True):
                    node.receive(payload)
            for node in self.replica_nodes():
                if node.up:
                    node.tick()
            for c in self.clients.values():
                c.tick(self.now)
            if self.now % 10 == 0 and self.settled():
                break
            self.now += 1
        else:
            raise Violation(f"liveness: seed {self.seed} not settled by tick {p.deadline} "
                            f"({self.describe()})")
        return self.result()

    def describe(self) -> str:
        reps = [n.core.summary() for n in self.correct() if n.up]
        busy = [c.name for c in self.clients.values() if c.busy()]
        return f"params={self.p}, busy clients={busy}, replicas={reps}"

    def result(self) -> Result:
        for node in self.correct():
            if node.core.diverged:
                raise Violation(f"checkpoint: replica {node.name}'s state digest differs from "
                                f"a stable checkpoint")
        dropped: dict[str, int] = {}
        for node in self.correct():
            for k, v in node.dropped.items():
                dropped[k] = dropped.get(k, 0) + v
        views = max(n.core.state.view for n in self.correct())
        return Result(self.seed, self.p, self.now, self.checker.executions,
                      sum(c.completed for c in self.clients.values()), views, dropped,
                      self.net.sent, self.net.oversize, dict(self.net.largest))


def run(seed: int, params: Params | None = None) -> Result:
    return Sim(seed, params or params_for(seed)).run()
