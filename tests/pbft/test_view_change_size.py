"""A view change under load must fit the transport (the n = 7 stall of issue 16).

With the prepared batches inside every signed VIEW-CHANGE, a NEW-VIEW nested 2f+1 of them
plus O: (2f+2) copies of the log window. At n = 7 with the driver's window (256 sequence
numbers) and batches of a few hundred commands it passed the transport's 64 MiB body limit,
was refused every time, and nothing committed after the primary's kill -9. Now a pre-prepare
is signed without its piggybacked batch (OSDI '99 §4.2, §4.4), V nests stripped
view-changes and O carries each batch once.
"""

from __future__ import annotations

import msgspec
import pytest
from uqo.control.pbft.messages import (
    Prepare,
    PreparedProof,
    PrePrepare,
    Request,
    Signed,
    ViewChange,
    batch_digest,
    decode_body,
    sign,
    strip,
)
from uqo.control.pbft.proofs import Opener, view_change_certs
from uqo.control.pbft.quorum import Quorums

from .sim import Params, Sim
from .simkeys import hash_keys

# the bench's shape at a smaller scale: n = 7, a checkpoint every 32 and a window of 128
# sequence numbers, up to 64 requests per batch and 8 batches in flight, ten busy clients
# with 4 kB requests, the primary killed for good while the load runs; the network's bound
# lies between one VIEW-CHANGE and the 2f+2 window copies the old NEW-VIEW carried
LOADED = Params(n=7, clients=10, drop=0.0, max_delay=2, post_delay=2, gst=0, partitions=False,
                crashes=0, checkpoint_interval=32, log_size=128, max_batch=64, max_inflight=8,
                view_change_ticks=40, status_ticks=6, max_backoff=3, op_bytes=4000,
                stop_requests=600, deadline=3000, kill_primary_at=350, max_message=200_000)


@pytest.mark.parametrize("seed", range(16))
def test_view_change_under_load_fits_the_transport(seed):
    r = Sim(seed, LOADED).run()         # safety checked throughout; raises if stuck
    assert r.views >= 1, "the primary's kill must bring a view change"
    assert r.oversize == 0, r.largest
    assert r.largest["ViewChange"] > 30_000, "prepared batches must be in flight at the kill"
    # one copy of the window (O) plus stripped view-changes, not 2f+2 copies
    assert r.largest["NewView"] < 2 * r.largest["ViewChange"], r.largest


def _keys_and_pp():
    keys = hash_keys(4, ["c1"], 0)
    batch = tuple(sign(keys.clients["c1"], Request("c1", ts, b"op%d" % ts)) for ts in (1, 2))
    signed = sign(keys.replicas[0], PrePrepare(0, 1, batch_digest(batch), batch, 0))
    return keys, Opener(Quorums(4), keys.ring, 64), signed


def test_a_stripped_preprepare_serves_only_inside_certificates():
    keys, op, signed = _keys_and_pp()
    bare = strip(signed)
    assert decode_body(bare.body).batch == () and bare.sig == signed.sig
    assert op.preprepare(signed) is not None
    assert op.preprepare(bare) is None, "normal case: the batch must come with it"
    assert op.preprepare(bare, full=False) is not None, "certificate: the digest suffices"
    # the signature binds the digest, and the digest the requests: another batch is refused
    other = (sign(keys.clients["c1"], Request("c1", 9, b"evil")),)
    swapped = Signed(msgspec.msgpack.encode(
        msgspec.structs.replace(decode_body(bare.body), batch=other)), signed.sig)
    assert op.preprepare(swapped) is None


def test_view_change_signature_survives_stripping_but_the_primary_needs_batches():
    keys, op, pp = _keys_and_pp()
    digest = decode_body(pp.body).digest
    prepares = tuple(sign(keys.replicas[i], Prepare(0, 1, digest, i)) for i in (1, 2))
    vc = sign(keys.replicas[3], ViewChange(1, 0, b"\0" * 32, (), (PreparedProof(pp, prepares),),
                                             3))
    bare = strip(vc)
    assert len(bare.body) < len(vc.body)
    assert op.authentic(decode_body(bare.body), bare)
    full_vc, bare_vc = decode_body(vc.body), decode_body(bare.body)
    assert view_change_certs(op, full_vc, 64)[1].batch == decode_body(pp.body).batch
    assert view_change_certs(op, bare_vc, 64) is None, "sent to the new primary: full only"
    assert view_change_certs(op, bare_vc, 64, full=False)[1].digest == digest
