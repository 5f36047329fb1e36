"""The core's contracts: configuration checks, no input makes it raise, the Ready/Advance
protocol, state transfer checks, recovery from records, and the client's f+1 reply quorum."""

from __future__ import annotations

import random

import pytest
from uqo.control.pbft import Config, PbftCore
from uqo.control.pbft.client import ClientCore, reply_bytes
from uqo.control.pbft.messages import (
    Commit,
    Prepare,
    Request,
    Signed,
    checkpoint_digest,
    client_table_bytes,
    decode_body,
    decode_signed,
    encode_body,
    encode_signed,
    sign,
)
from uqo.control.pbft.state import DurableState, decode_record, encode_record

from .interaction import Cluster
from .simkeys import hash_keys


@pytest.mark.parametrize("kwargs,field", [
    ({"n": 0, "replica": 0}, "n must"), ({"n": 4, "replica": 4}, "replica must"),
    ({"n": 4, "replica": 0, "log_size": 10, "checkpoint_interval": 4}, "multiple"),
    ({"n": 4, "replica": 0, "max_batch": 0}, "max_batch"),
    ({"n": 4, "replica": 0, "max_backoff": 31}, "max_backoff"),
    ({"n": 4, "replica": True}, "replica must")])
def test_config_refuses_bad_values(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Config(**kwargs)


def _cluster_after_traffic() -> Cluster:
    c = Cluster(4, checkpoint_interval=2, log_size=4, status_ticks=3)
    for ts in (1, 2, 3):
        c.nodes[0].core.propose(c.request("c1", ts, "x"))
        c.handle_all([])
        while c.deliver([]):
            pass
    return c


def test_no_input_makes_a_replica_raise():
    """Random bytes and every single-byte corruption of real traffic: dropped and counted,
    never an exception (and the replica still works afterwards)."""
    c = _cluster_after_traffic()
    rng = random.Random(3)
    core = c.nodes[1].core
    samples = [data for _, data in c.history]
    for _ in range(3000):
        data = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        core.step(bytes(data))
        core.step(rng.randbytes(rng.randint(0, 64)))
    rd = core.ready()
    core.advance(rd)
    assert sum(rd.dropped.values()) >= 3000
    assert rd.dropped.get("malformed", 0) > 0 and rd.dropped.get("signature", 0) > 0
    c.nodes[0].core.propose(c.request("c1", 4, "after"))
    out: list[str] = []
    c.handle_all(out)
    while c.deliver(out):
        pass
    assert all(n.ops[-1] == "c1:4:after" for n in c.nodes)


def test_propose_refuses_what_is_not_an_authentic_request():
    keys = hash_keys(4, ["c1"], 0)
    core = PbftCore(Config(n=4, replica=0), keys.replicas[0], keys.ring)
    good = sign(keys.clients["c1"], Request("c1", 1, b"x"))
    assert not core.propose(Signed(good.body, b"\x00" * 32))            # bad signature
    assert not core.propose(Signed(b"\x01\x02", good.sig))               # not a message
    assert not core.propose(sign(keys.replicas[1], Request("c1", 1, b"x")))   # wrong key
    assert core.propose(good)


def test_ready_must_be_advanced_before_the_next():
    keys = hash_keys(4, ["c1"], 0)
    core = PbftCore(Config(n=4, replica=0), keys.replicas[0], keys.ring)
    rd = core.ready()
    with pytest.raises(RuntimeError, match="advance"):
        core.ready()
    core.advance(rd)
    core.ready()


def test_checkpoint_needs_an_executed_checkpoint():
    keys = hash_keys(4, ["c1"], 0)
    core = PbftCore(Config(n=4, replica=0), keys.replicas[0], keys.ring)
    with pytest.raises(ValueError, match="seq 16"):
        core.checkpoint(16, b"d" * 32)


def test_state_transfer_accepts_only_the_certified_state():
    keys = hash_keys(4, ["c1"], 0)
    core = PbftCore(Config(n=4, replica=3, checkpoint_interval=2, log_size=4), keys.replicas[3],
                    keys.ring)
    table = client_table_bytes({"c1": 2})
    digest = checkpoint_digest(2, b"A" * 32, table)
    from uqo.control.pbft.messages import Checkpoint

    for r in (0, 1, 2):
        core.step(encode_signed(sign(keys.replicas[r], Checkpoint(2, digest, r))))
    rd = core.ready()
    core.advance(rd)
    assert rd.fetch is not None and rd.fetch.seq == 2 and rd.fetch.replicas == (0, 1, 2)
    assert not core.install_snapshot(2, b"B" * 32, table)                 # another state
    assert not core.install_snapshot(2, b"A" * 32, client_table_bytes({"c1": 3}))
    assert not core.install_snapshot(4, b"A" * 32, table)                 # not the one awaited
    assert core.install_snapshot(2, b"A" * 32, table)
    assert core.last_executed == 2 and core.client_ts == {"c1": 2} and core.fetch is None
    assert not core.install_snapshot(2, b"A" * 32, table)                 # nothing awaited


def test_records_round_trip_and_rebuild_the_state():
    c = _cluster_after_traffic()
    for node in c.nodes:
        fold = DurableState(2, 4)
        for rec in node.records:
            fold.apply(decode_record(encode_record(rec)))
        assert fold.canonical() == node.core.state.canonical()
        again = DurableState(2, 4)
        for rec in node.core.state.records():
            again.apply(rec)
        assert again.canonical() == node.core.state.canonical()


# ---- the client (§4.1) -----------------------------------------------------------------
def _client():
    keys = hash_keys(4, ["c1"], 0)
    return keys, ClientCore("c1", keys.clients["c1"], keys.ring, n=4, retry_ticks=5)


def test_client_needs_f_plus_1_matching_replies():
    keys, client = _client()
    _signed, sends = client.request(b"op")
    assert [s.to for s in sends] == [0]
    req = Request("c1", 1, b"op")
    assert client.step(reply_bytes(keys.replicas[3], 3, 0, req, b"wrong")) is None
    assert client.step(reply_bytes(keys.replicas[1], 1, 0, req, b"right")) is None
    assert client.step(reply_bytes(keys.replicas[1], 1, 0, req, b"right")) is None  # same one
    assert client.step(reply_bytes(keys.replicas[2], 2, 0, req, b"right")) == b"right"
    assert client.outstanding is None


def test_client_refuses_forged_and_foreign_replies():
    keys, client = _client()
    client.request(b"op")
    req = Request("c1", 1, b"op")
    forged = reply_bytes(keys.replicas[0], 2, 0, req, b"x")              # 0 signs as 2
    assert client.step(forged) is None and client.rejected["signature"] == 1
    assert client.step(b"\x00garbage") is None and client.rejected["malformed"] == 1
    other = reply_bytes(keys.replicas[1], 1, 0, Request("c1", 7, b"op"), b"x")
    assert client.step(other) is None                                    # another timestamp
    for r in (1, 2):
        assert client.step(reply_bytes(keys.replicas[0], 0, 0, req, b"x")) is None


def test_client_retransmits_to_all_after_a_timeout():
    _, client = _client()
    client.request(b"op")
    sends = [client.tick() for _ in range(5)]
    assert sends[:4] == [[]] * 4 and [s.to for s in sends[4]] == [None]
    with pytest.raises(RuntimeError, match="outstanding"):
        client.request(b"second")


def test_a_request_only_the_dead_primary_saw_still_brings_a_view_change():
    """The bench's n = 7 stall: a backup proposes (its own client), the request goes to the
    primary only, the primary is gone. The backup's timer expires and it changes view alone;
    the others held nothing and never suspected the primary. Changing view, a replica now
    multicasts its pending requests (§4.1's client multicast), so the others arm their timers,
    f + 1 VIEW-CHANGEs gather, the next view starts and the request executes."""
    c = Cluster(4, view_change_ticks=5, status_ticks=2)
    c.nodes[0].up = False                                   # the primary of view 0
    c.nodes[1].core.propose(c.request("c1", 1, "x"))
    c.handle_all([])
    for _ in range(80):
        for node in c.nodes[1:]:
            node.core.tick()
        c.handle_all([])
        while c.deliver([]):
            pass
        if all(n.core.last_executed >= 1 for n in c.nodes[1:]):
            break
    views = [n.core.state.view for n in c.nodes[1:]]
    assert all(n.core.state.normal for n in c.nodes[1:]) and min(views) >= 1, views
    assert [n.core.last_executed for n in c.nodes[1:]] == [1, 1, 1]


def _forged_commit(core, seq: int, voter: int) -> bytes:
    """A COMMIT claiming ``voter`` for the batch ``core`` holds at ``seq``, with a bad
    signature."""
    digest = core.state.slots[seq].pp[0].digest
    return encode_signed(Signed(encode_body(Commit(0, seq, digest, voter)), b"\x00" * 64))


def test_votes_after_their_quorum_are_neither_verified_nor_recorded():
    """At n = 4 one COMMIT per slot arrives after 2f+1: it can change nothing, so it is
    skipped before its signature is checked (a forged one too: not counted as a bad
    signature). A vote still needed is verified: a forged one is dropped and counted."""
    c = Cluster(4)
    c.nodes[0].core.propose(c.request("c1", 1, "x"))
    c.handle_all([])
    while c.deliver([]):
        pass
    core = c.nodes[0].core
    assert core.last_executed == 1
    late = [r for r in (1, 2, 3) if r not in core.state.slots[1].commits]
    assert late and core.needless_votes >= 1
    skipped = core.needless_votes
    core.step(_forged_commit(core, 1, late[0]))
    rd = core.ready()
    assert core.needless_votes == skipped + 1
    assert not rd.persist and "signature" not in rd.dropped
    core.advance(rd)

    c = Cluster(4)
    c.nodes[0].core.propose(c.request("c1", 1, "x"))
    c.handle_all([])
    c.deliver([], kind="PrePrepare")                 # prepared nowhere yet: commits count
    core = c.nodes[1].core
    core.step(_forged_commit(core, 1, 2))
    rd = core.ready()
    assert rd.dropped.get("signature") == 1 and core.needless_votes == 0
    assert 2 not in core.state.slots[1].commits


def _crash(c: Cluster, i: int) -> None:
    node = c.nodes[i]
    node.up, node.core = False, None
    c.queue = [m for m in c.queue if m[1] != i]


def _run(c: Cluster, ticks: int = 0) -> None:
    for _ in range(ticks + 1):
        c.handle_all([])
        while c.deliver([]):
            pass
        for node in c.nodes:
            if node.up:
                node.core.tick()


@pytest.mark.parametrize("muted_for_the_whole_view", [False, True])
def test_a_restarted_replica_votes_again_above_its_window(muted_for_the_whole_view):
    """Replica 3 restarts in view 0 from its records (stable checkpoint 0, window L = 4):
    it may have voted at sequence numbers 1..4 before the crash, never above. The group
    went on to 6 meanwhile, so with replica 2 down too the group {0, 1, 3} keeps committing
    in view 0 (no view change: no tick reaches the timer). Muted for the whole view (the
    rule before), it commits nothing."""
    c = Cluster(4, checkpoint_interval=2, log_size=4, status_ticks=2, view_change_ticks=10_000)
    c.nodes[0].core.propose(c.request("c1", 1, "x1"))
    _run(c)
    _crash(c, 3)                                       # executed 1, stable checkpoint 0
    for ts in range(2, 8):
        c.nodes[0].core.propose(c.request("c1", ts, f"x{ts}"))
        _run(c)
    assert c.nodes[0].core.last_executed == 7
    c.nodes[3].start()
    core3 = c.nodes[3].core
    assert (core3.mute_view, core3.mute_through) == (0, 4)
    if muted_for_the_whole_view:
        core3.mute_through = 10**9
    _run(c, ticks=6)                                   # catches up: state at checkpoint 6, 7
    assert core3.last_executed == 7
    _crash(c, 2)
    for ts in range(8, 11):
        c.nodes[0].core.propose(c.request("c1", ts, f"x{ts}"))
        _run(c, ticks=2)
    executed = [c.nodes[i].core.last_executed for i in (0, 1, 3)]
    views = {c.nodes[i].core.state.view for i in (0, 1, 3)}
    assert views == {0}
    assert executed == ([7, 7, 7] if muted_for_the_whole_view else [10, 10, 10]), executed


def _prepares_from(c: Cluster, i: int) -> set[tuple[int, bytes]]:
    out = set()
    for src, _, data in c.queue:
        msg = decode_body(decode_signed(data).body)
        if src == i and isinstance(msg, Prepare):
            out.add((msg.seq, msg.digest))
    return out


@pytest.mark.parametrize("rule", ["window", "never_muted"])
def test_a_restarted_replica_never_prepares_twice_below_its_window_top(rule, monkeypatch):
    """An equivocating primary sends replica 1 two pre-prepares for seq 3 of view 0: one
    before replica 1 crashed and lost its unsynced PREPARE, one after its restart. Under the
    rule (h + L = 0 + 4 >= 3) it stays silent at 3 after the restart; never muted (the
    unsafe rule) it prepares both digests: two conflicting votes from a correct replica."""
    if rule == "never_muted":
        monkeypatch.setattr(PbftCore, "_muted", lambda self, view, seq: False)
    c = Cluster(4, checkpoint_interval=2, log_size=4, status_ticks=1000)
    c.nodes[0].core.propose(c.request("c1", 1, "x1"))
    _run(c)
    node = c.nodes[1]
    before_pp = list(node.records)
    c.step_raw(1, c.craft(0, 0, "pp", {"seq": "3", "reqs": "c2:1:a"}), [])
    [(seq, first)] = _prepares_from(c, 1)
    assert seq == 3
    _crash(c, 1)
    node.records = before_pp               # its unsynced pre-prepare and PREPARE are lost
    node.start()
    c.queue.clear()
    c.step_raw(1, c.craft(0, 0, "pp", {"seq": "3", "reqs": "c2:1:b"}), [])
    again = _prepares_from(c, 1)
    if rule == "window":
        assert again == set()
    else:
        assert {d for s, d in again if s == 3} - {first}


def _ticks_until_something(core: PbftCore, limit: int = 10_000) -> int:
    """Tick until a tick does more than count (sends or a view change); return ``now``."""
    for _ in range(limit):
        view = core.state.view
        core.tick()
        if core.has_ready() or core.state.view != view:
            return core.now
    raise AssertionError("nothing happened")


@pytest.mark.parametrize("replica", [0, 1])
def test_next_due_is_the_first_tick_that_does_anything(replica):
    # the driver sleeps until next_due() (pbftlog._run): a tick before it must only count
    keys = hash_keys(4, ["c1"], 0)
    core = PbftCore(Config(n=4, replica=replica, status_ticks=7, view_change_ticks=5),
                    keys.replicas[replica], keys.ring)
    core.advance(core.ready())
    for _ in range(3):                                   # status rounds
        due = core.next_due()
        assert due > core.now and _ticks_until_something(core) == due
        core.advance(core.ready())
    # a request arms the backup's view-change timer: due then, before the next status round
    assert core.propose(sign(keys.clients["c1"], Request("c1", 1, b"x")))
    core.advance(core.ready())
    due = core.next_due()
    if replica == 1:
        assert due == core.vc_deadline < core.next_status
    assert _ticks_until_something(core) == due
