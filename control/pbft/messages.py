"""PBFT messages (Castro & Liskov, OSDI '99 §4), their wire form and their digests.

Use cases::

    body = encode_body(Prepare(view=0, seq=1, digest=d, replica=2))
    wire = encode_signed(Signed(body, signer.sign(signing_input(body))))
    signed = decode_signed(wire)          # MalformedMessage on bad bytes
    msg = decode_body(signed.body)        # a Request, PrePrepare, ... (MalformedMessage)

Every message is a ``Signed`` envelope: the MessagePack body (a tagged union, so a body of one
type can never be read as another) and a signature over ``signing_input(body)`` by its author:
the client for a ``Request``, the replica named in ``replica`` for everything else. Messages
nest signed messages where the paper's certificates need them (a ``PreparedProof`` carries the
signed pre-prepare and prepares), so a proof can be forwarded and checked by anyone.

msgspec decodes and type-checks in one compiled pass (hand-written dict checks would be slower
and easier to get wrong); every decoding failure becomes ``MalformedMessage``.
"""

from __future__ import annotations

import hashlib

import msgspec

DOMAIN = b"uqo-pbft-v1\x00"          # signatures over PBFT bodies cannot be replayed elsewhere


class MalformedMessage(ValueError):
    """Bytes that do not decode to a well-typed PBFT message."""


class Signed(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """``body``: an encoded ``Body``; ``sig``: its author's signature over
    ``signing_input(body)``."""

    body: bytes
    sig: bytes


class _Body(msgspec.Struct, frozen=True, array_like=True, gc=False, tag_field="t"):
    pass


class Request(_Body, tag="req"):
    """§4.1: <REQUEST, o, t, c> signed by client ``client``; ``timestamp`` orders one client's
    requests (a replica executes a request only if its timestamp is above the last one it
    executed for that client: replay protection)."""

    client: str
    timestamp: int
    op: bytes


class PrePrepare(_Body, tag="pp"):
    """§4.2: the primary of ``view`` assigns ``seq`` to the batch whose digest is ``digest``.
    The batch (signed requests, TOCS 2002 request batching) is piggybacked: the signature
    covers the pre-prepare with an empty batch (``signed_bytes``), so the digest binds the
    requests and a certificate can carry the pre-prepare without them (``strip``), as §4.2
    and §4.4 prescribe ("pre-prepare messages themselves contain only the digest", P_m holds
    "a valid pre-prepare message (without the corresponding client message)"). An empty
    batch whose digest is ``NULL_DIGEST`` is the null request of §4.4."""

    view: int
    seq: int
    digest: bytes
    batch: tuple[Signed, ...]
    replica: int


class Prepare(_Body, tag="p"):
    """§4.2: backup ``replica`` accepted the pre-prepare (view, seq, digest)."""

    view: int
    seq: int
    digest: bytes
    replica: int


class Commit(_Body, tag="c"):
    """§4.2: ``replica`` is prepared for (view, seq, digest)."""

    view: int
    seq: int
    digest: bytes
    replica: int


class Checkpoint(_Body, tag="ck"):
    """§4.3: ``replica``'s state after executing ``seq`` has digest ``digest``."""

    seq: int
    digest: bytes
    replica: int


class PreparedProof(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """§4.4's P_m: a signed pre-prepare and 2f signed matching prepares from other backups."""

    preprepare: Signed
    prepares: tuple[Signed, ...]


class ViewChange(_Body, tag="vc"):
    """§4.4: <VIEW-CHANGE, v+1, n, C, P, i>: ``replica`` moves to ``view``; its last stable
    checkpoint is (``stable_seq``, ``stable_digest``) proved by ``checkpoint_proof`` (2f+1
    signed checkpoints; empty at the genesis checkpoint 0) and ``prepared`` holds the
    highest-view prepared certificate for each sequence number above ``stable_seq``."""

    view: int
    stable_seq: int
    stable_digest: bytes
    checkpoint_proof: tuple[Signed, ...]
    prepared: tuple[PreparedProof, ...]
    replica: int


class NewView(_Body, tag="nv"):
    """§4.4: <NEW-VIEW, v+1, V, O>: 2f+1 signed view-changes and the pre-prepares computed
    from them (every replica recomputes O and refuses a NEW-VIEW whose O differs)."""

    view: int
    view_changes: tuple[Signed, ...]
    preprepares: tuple[Signed, ...]
    replica: int


class Status(_Body, tag="st"):
    """Retransmission (not in the OSDI paper's protocol; Castro's implementation multicasts
    its state periodically so peers resend what it lacks): ``replica`` is in ``view``
    (``normal`` or changing view), its stable checkpoint is ``stable_seq``, it executed up
    to ``executed`` and, while changing view, holds the VIEW-CHANGEs of the replicas in the
    bitmap ``has_vcs`` (Castro's library does the same, so only missing ones are resent)."""

    view: int
    normal: bool
    stable_seq: int
    executed: int
    replica: int
    has_vcs: int = 0       # changing view: bit r set = holds replica r's VIEW-CHANGE for it


class CommitProof(_Body, tag="cp"):
    """Catch-up (not in the OSDI paper): a commit certificate forwarded by ``replica`` to one
    that lags: the signed pre-prepare, 2f matching prepares from backups and 2f+1 matching
    commits. Every part is checked on its own; the forwarder's signature adds nothing but
    keeps every top-level message signed."""

    preprepare: Signed
    prepares: tuple[Signed, ...]
    commits: tuple[Signed, ...]
    replica: int


class Reply(_Body, tag="rp"):
    """§4.1: <REPLY, v, t, c, i, r>: ``replica`` executed ``client``'s request ``timestamp``
    with result ``result``; a client accepts a result once f+1 replicas sent it."""

    view: int
    client: str
    timestamp: int
    result: bytes
    replica: int


Body = (Request | PrePrepare | Prepare | Commit | Checkpoint | ViewChange | NewView | Status
        | CommitProof | Reply)

_ENC = msgspec.msgpack.Encoder()
_SIGNED = msgspec.msgpack.Decoder(Signed)
_BODY = msgspec.msgpack.Decoder(Body)


def encode_body(msg: Body) -> bytes:
    return _ENC.encode(msg)


def signing_input(body: bytes) -> bytes:
    """The bytes a signature covers: a domain prefix, then the body."""
    return DOMAIN + body


def encode_signed(signed: Signed) -> bytes:
    return _ENC.encode(signed)


def decode_signed(data: bytes) -> Signed:
    try:
        return _SIGNED.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, TypeError) as exc:
        raise MalformedMessage(f"not a signed PBFT envelope: {exc}") from None


def decode_body(body: bytes) -> Body:
    try:
        return _BODY.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, TypeError) as exc:
        raise MalformedMessage(f"not a PBFT message body: {exc}") from None


def sign(signer, msg: Body) -> Signed:
    """Encode ``msg`` and sign it with ``signer`` (anything with ``sign(bytes) -> bytes``)."""
    body = encode_body(msg)
    return Signed(body, signer.sign(signed_bytes(msg, body)))


def signed_bytes(msg: Body, body: bytes) -> bytes:
    """What the author's signature over ``msg`` (encoded as ``body``) covers: the body with
    piggybacked requests left out. A pre-prepare is signed without its batch (§4.2: the
    digest stands for it) and a VIEW-CHANGE with its P_m's pre-prepares stripped (§4.4), so
    a NEW-VIEW can nest the view-changes of V without 2f+1 copies of every prepared batch
    (with full copies it grew to (2f+2) x the log window and past the transport's body
    limit: no NEW-VIEW ever arrived at n = 7 under load)."""
    if type(msg) is PrePrepare and msg.batch:
        body = encode_body(msgspec.structs.replace(msg, batch=()))
    elif type(msg) is ViewChange and msg.prepared:
        body = encode_body(_strip_view_change(msg))
    return signing_input(body)


def _strip_preprepare(signed: Signed) -> Signed:
    """``signed`` without its piggybacked batch (its signature still verifies)."""
    try:
        pp = decode_body(signed.body)
    except MalformedMessage:
        return signed                     # left as is: its checks will refuse it
    if type(pp) is not PrePrepare or not pp.batch:
        return signed
    return Signed(encode_body(msgspec.structs.replace(pp, batch=())), signed.sig)


def _strip_view_change(vc: ViewChange) -> ViewChange:
    return msgspec.structs.replace(vc, prepared=tuple(
        PreparedProof(_strip_preprepare(p.preprepare), p.prepares) for p in vc.prepared))


def strip(signed: Signed) -> Signed:
    """A signed pre-prepare or VIEW-CHANGE without its piggybacked requests, same signature
    (what a NEW-VIEW nests in V); any other message unchanged."""
    try:
        msg = decode_body(signed.body)
    except MalformedMessage:
        return signed
    if type(msg) is PrePrepare:
        return _strip_preprepare(signed)
    if type(msg) is ViewChange and msg.prepared:
        return Signed(encode_body(_strip_view_change(msg)), signed.sig)
    return signed


def _h(tag: bytes, payload) -> bytes:
    return hashlib.sha256(tag + _ENC.encode(payload)).digest()


def batch_digest(batch: tuple[Signed, ...]) -> bytes:
    """§4.2's digest of the request (here: of the batch). Covers the request bodies, not their
    signatures: ECDSA signatures differ between signings of one body."""
    return _h(b"uqo-pbft-batch\x00", [s.body for s in batch])


NULL_DIGEST = batch_digest(())     # §4.4's null request: an empty batch


def client_table_bytes(table: dict[str, int]) -> bytes:
    """Canonical encoding of the last executed timestamp per client (sorted by client)."""
    return _ENC.encode(sorted(table.items()))


def decode_client_table(data: bytes) -> dict[str, int]:
    try:
        pairs = msgspec.msgpack.decode(data, type=list[tuple[str, int]])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedMessage(f"not a client table: {exc}") from None
    return dict(pairs)


def checkpoint_digest(seq: int, app_digest: bytes, client_table: bytes) -> bytes:
    """§4.3's state digest at ``seq``: the application's digest of its state and the replica's
    table of last executed timestamps per client (part of the replicated state: it decides
    which requests execute)."""
    return _h(b"uqo-pbft-checkpoint\x00", [seq, app_digest, client_table])


GENESIS_DIGEST = b"\x00" * 32       # the stable checkpoint at seq 0, before anything executed
