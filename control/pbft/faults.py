"""Fault injection for real PBFT processes: a replica that lies (tests and benchmarks only).

Use cases::

    send_filter = byzantine_filter("equivocate", signer, me=3, n=4)
    PbftLog(..., send_filter=send_filter)      # each outgoing message is rewritten by it

Behaviours (the replica holds only its own key, like a real attacker):

* ``equivocate``: as primary, half of the backups get a pre-prepare for the same sequence
  number with a different batch (the last request dropped); prepares and commits go out with
  a random digest to every other replica;
* ``garbage``: every message is followed by random bytes and by a copy with one byte flipped;
* ``forge``: every message is also sent re-labelled as coming from the next replica (signed
  with this replica's key, so the signature cannot verify);
* ``silent``: sends nothing.

The simulator's richer Byzantine replicas live in tests/pbft/byzantine.py; this module is
what runs inside a real replica process (``runner --byzantine``).
"""

from __future__ import annotations

import os
import random

from .messages import (
    Commit,
    MalformedMessage,
    Prepare,
    PrePrepare,
    batch_digest,
    decode_body,
    decode_signed,
    encode_signed,
    sign,
)

BEHAVIOURS = ("equivocate", "garbage", "forge", "silent")


def byzantine_filter(mode: str, signer, me: int, n: int, seed: int | None = None):
    if mode not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour {mode!r} (expected one of {BEHAVIOURS})")
    rng = random.Random(seed)
    others = [i for i in range(n) if i != me]

    def decoded(data: bytes):
        try:
            return decode_body(decode_signed(data).body)
        except MalformedMessage:
            return None

    def resign(msg) -> bytes:
        return encode_signed(sign(signer, msg))

    def equivocate(to, data):
        msg = decoded(data)
        targets = others if to is None else [to]
        if isinstance(msg, PrePrepare) and to is None:
            batch = msg.batch[:-1]
            alt = resign(PrePrepare(msg.view, msg.seq, batch_digest(batch), batch, msg.replica))
            half = len(targets) // 2
            return [(t, data) for t in targets[:half]] + [(t, alt) for t in targets[half:]]
        if isinstance(msg, (Prepare, Commit)):
            wrong = resign(type(msg)(msg.view, msg.seq, os.urandom(32), msg.replica))
            return [(t, wrong) for t in targets]
        return [(to, data)]

    def garbage(to, data):
        flipped = bytearray(data)
        flipped[rng.randrange(len(flipped))] ^= 0xFF
        return [(to, data), (to, os.urandom(rng.randint(1, 300))), (to, bytes(flipped))]

    def forge(to, data):
        msg = decoded(data)
        out = [(to, data)]
        if msg is not None and hasattr(msg, "replica"):
            fields = {f: getattr(msg, f) for f in msg.__struct_fields__}
            fields["replica"] = (me + 1) % n
            out.append((to, resign(type(msg)(**fields))))
        return out

    return {"equivocate": equivocate, "garbage": garbage, "forge": forge,
            "silent": lambda to, data: []}[mode]
