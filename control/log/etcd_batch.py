"""What one etcd value of the log holds, and the pure rules for applying those values in order.

Use cases::

    value = encode_batch(Batch(term=token, seq=7, entries=[cmd1, cmd2]))   # one etcd Put
    seq = Sequencer(); first = seq.admit(decode_batch(value))   # index of cmd1, or None
    ptr = SnapshotPointer(revision=..., index=..., ...); decode_pointer(encode_pointer(ptr))

A *batch* is many commands in one etcd value (one etcd revision), written by the leader whose
election token is ``term``; ``seq`` numbers the leader's batches from 1. Every replica applies
the batches in revision order and numbers their entries consecutively, so indexes agree
everywhere without the leader assigning them. The leader keeps a few appends in flight, so
etcd may order them differently from their ``seq``: that is fine (they were concurrent), and
every replica sees the same revision order. A batch whose outcome was unknown (the etcd call
timed out) is sent again with the same ``seq``; if both copies land, ``Sequencer.admit``
applies the first and skips the other (its ``seq`` is already applied in this term), so a
retried append is applied once. A batch from an older term than the last applied one is skipped
too (fencing makes that impossible; the rule keeps replicas equal even so).

Limits (etcd's): a request is at most 1.5 MiB, so a batch is packed up to ``MAX_BATCH_BYTES``
of commands, and a single command above ``MAX_COMMAND_BYTES`` is refused before it is logged.
"""

from __future__ import annotations

import msgspec

MAX_BATCH_BYTES = 1 << 20            # packed commands per value (etcd's request limit: 1.5 MiB)
MAX_COMMAND_BYTES = (1 << 20) + (256 << 10)   # one command alone, with room for the envelope


class Batch(msgspec.Struct, array_like=True, frozen=True):
    term: int
    seq: int
    entries: list[bytes]


class SnapshotPointer(msgspec.Struct, frozen=True, kw_only=True):
    """Where the latest snapshot is and what it covers: every batch up to ``revision``
    (entries up to ``index``; in term ``term`` every seq up to ``seq`` and those in ``above``
    were applied). ``sha256`` names the content; it is stored in ``chunks`` etcd values under
    ``<prefix>/snap/<sha256>/``."""

    revision: int
    index: int
    term: int
    seq: int
    sha256: str
    size: int
    chunks: int
    replica_id: str = ""
    above: list[int] = []


_BATCH_DECODER = msgspec.msgpack.Decoder(Batch)
_POINTER_DECODER = msgspec.json.Decoder(SnapshotPointer)


def encode_batch(batch: Batch) -> bytes:
    return msgspec.msgpack.encode(batch)


def decode_batch(data: bytes) -> Batch:
    return _BATCH_DECODER.decode(data)


def encode_pointer(ptr: SnapshotPointer) -> bytes:
    return msgspec.json.encode(ptr)


def decode_pointer(data: bytes) -> SnapshotPointer:
    return _POINTER_DECODER.decode(data)


class Sequencer:
    """The applied position: last entry index; the term of the last batch applied; in that
    term, every seq up to ``seq`` applied and the seqs in ``above`` too (applied out of order,
    at most as many as the leader keeps in flight). Restored from a snapshot pointer."""

    def __init__(self, index: int = 0, term: int = 0, seq: int = 0, above=()):
        self.index, self.term, self.seq = index, term, seq
        self.above: set[int] = set(above)

    def admit(self, batch: Batch) -> int | None:
        """The index of the batch's first entry if it is to be applied (and the position
        moves past it), or None for a duplicate or stale batch (skip it)."""
        if batch.term < self.term:
            return None
        if batch.term > self.term:
            self.term, self.seq, self.above = batch.term, 0, set()
        if batch.seq <= self.seq or batch.seq in self.above:
            return None
        self.above.add(batch.seq)
        while self.seq + 1 in self.above:
            self.seq += 1
            self.above.remove(self.seq)
        first = self.index + 1
        self.index += len(batch.entries)
        return first


def pack(queue_sizes: list[int], max_bytes: int = MAX_BATCH_BYTES) -> int:
    """How many queued proposals (each ``queue_sizes[i]`` bytes) go in the next batch: at
    least one, then as many as fit in ``max_bytes``."""
    total, n = 0, 0
    for size in queue_sizes:
        if n and total + size > max_bytes:
            break
        total += size
        n += 1
    return n
