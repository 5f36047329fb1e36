"""Batches in etcd values: each applied once, in order, with indexes every replica agrees on."""

from uqo.control.log.etcd_batch import (
    Batch,
    Sequencer,
    SnapshotPointer,
    decode_batch,
    decode_pointer,
    encode_batch,
    encode_pointer,
    pack,
)


def test_round_trips():
    b = Batch(term=7, seq=3, entries=[b"a", b"\x00\xff"])
    assert decode_batch(encode_batch(b)) == b
    p = SnapshotPointer(revision=9, index=4, term=7, seq=3, sha256="ab", size=10, chunks=1)
    assert decode_pointer(encode_pointer(p)) == p


def test_indexes_are_consecutive_across_batches():
    seq = Sequencer()
    assert seq.admit(Batch(5, 1, [b"a", b"b"])) == 1
    assert seq.admit(Batch(5, 2, [b"c"])) == 3
    assert seq.admit(Batch(9, 1, [b"d"])) == 4          # a new term starts its seq at 1
    assert seq.index == 4


def test_a_retried_batch_is_applied_once():
    seq = Sequencer()
    assert seq.admit(Batch(5, 1, [b"a"])) == 1
    assert seq.admit(Batch(5, 2, [b"b"])) == 2
    assert seq.admit(Batch(5, 2, [b"b"])) is None       # the retry landed too
    assert seq.admit(Batch(5, 1, [b"a"])) is None       # a late copy of an older one
    assert seq.index == 2


def test_an_older_term_is_skipped():
    seq = Sequencer()
    seq.admit(Batch(9, 1, [b"a"]))
    assert seq.admit(Batch(5, 7, [b"stale"])) is None


def test_replicas_applying_the_same_values_agree():
    values = [Batch(3, 1, [b"a"]), Batch(3, 2, [b"b", b"c"]), Batch(3, 2, [b"b", b"c"]),
              Batch(8, 1, [b"d"])]
    a, b = Sequencer(), Sequencer()
    out_a = [a.admit(v) for v in values]
    out_b = [b.admit(decode_batch(encode_batch(v))) for v in values]
    assert out_a == out_b == [1, 2, None, 4]


def test_restored_position_continues():
    seq = Sequencer(index=100, term=8, seq=4)
    assert seq.admit(Batch(8, 4, [b"x"])) is None
    assert seq.admit(Batch(8, 5, [b"x"])) == 101


def test_pack_takes_at_least_one_and_stops_at_the_limit():
    assert pack([5, 5, 5], max_bytes=10) == 2
    assert pack([50, 1], max_bytes=10) == 1              # one oversized proposal still goes
    assert pack([], max_bytes=10) == 0


def test_pipelined_batches_land_in_any_order_and_each_applies_once():
    seq = Sequencer()
    assert seq.admit(Batch(5, 2, [b"b"])) == 1          # etcd ordered seq 2 before seq 1
    assert seq.admit(Batch(5, 1, [b"a"])) == 2
    assert seq.seq == 2 and seq.above == set()
    assert seq.admit(Batch(5, 4, [b"d"])) == 3
    assert seq.admit(Batch(5, 4, [b"d"])) is None       # a retried copy
    assert seq.above == {4}
    restored = Sequencer(seq.index, seq.term, seq.seq, seq.above)   # from a snapshot pointer
    assert restored.admit(Batch(5, 4, [b"d"])) is None
    assert restored.admit(Batch(5, 3, [b"c"])) == 4 and restored.seq == 4
