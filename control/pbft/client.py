"""The PBFT client (OSDI '99 §4.1): signed requests, retransmission, the f+1 reply quorum.

Use cases::

    client = ClientCore("c1", signer, verifier, n=4)
    signed, sends = client.request(b"op")      # to the primary it believes in
    result = client.step(reply_bytes)          # None until f+1 replicas sent one result
    sends = client.tick()                      # after ``retry_ticks``: multicast to all

    # a replica, after executing the request:
    data = reply_bytes(signer, replica=2, view=0, request=req, result=b"...")

A client has one request outstanding at a time and numbers its requests with increasing
timestamps (replicas execute a client's request only if its timestamp is above the last one
they executed: replay protection). A result is accepted once f+1 distinct replicas sent the
same one, so at least one correct replica vouches for it. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections import Counter

from .config import Send
from .messages import (
    MalformedMessage,
    Reply,
    Request,
    Signed,
    decode_body,
    decode_signed,
    encode_signed,
    sign,
    signing_input,
)
from .quorum import Quorums


def reply_bytes(signer, replica: int, view: int, request: Request, result: bytes) -> bytes:
    """A replica's signed REPLY to ``request`` (§4.1)."""
    return encode_signed(sign(signer, Reply(view, request.client, request.timestamp, result,
                                            replica)))


class ClientCore:
    def __init__(self, client_id: str, signer, verifier, n: int, retry_ticks: int = 20,
                 first_timestamp: int = 1):
        if retry_ticks < 1 or first_timestamp < 1:
            raise ValueError("retry_ticks and first_timestamp must be >= 1")
        self.id, self.signer, self.verifier = client_id, signer, verifier
        self.q = Quorums(n)
        self.retry_ticks = retry_ticks
        self.next_ts = first_timestamp
        self.view = 0
        self.now = 0
        self.outstanding: tuple[int, Signed] | None = None
        self.deadline: int | None = None
        self._replies: dict[int, tuple[bytes, int]] = {}
        self.rejected = Counter()

    def request(self, op: bytes) -> tuple[Signed, list[Send]]:
        if self.outstanding is not None:
            raise RuntimeError(f"client {self.id}: a request is still outstanding")
        ts = self.next_ts
        self.next_ts += 1
        signed = sign(self.signer, Request(self.id, ts, op))
        self.outstanding, self._replies = (ts, signed), {}
        self.deadline = self.now + self.retry_ticks
        return signed, [Send(self.q.primary(self.view), encode_signed(signed))]

    def tick(self) -> list[Send]:
        """§4.1: a client that gets no result in time multicasts its request to all."""
        self.now += 1
        if self.outstanding is None or self.now < self.deadline:
            return []
        self.deadline = self.now + self.retry_ticks
        return [Send(None, encode_signed(self.outstanding[1]))]

    def step(self, data: bytes) -> bytes | None:
        """Take one reply; return the result once f+1 replicas agree on it."""
        try:
            signed = decode_signed(data)
            reply = decode_body(signed.body)
        except MalformedMessage:
            self.rejected["malformed"] += 1
            return None
        if not isinstance(reply, Reply) or not 0 <= reply.replica < self.q.n \
                or not self.verifier.replica(reply.replica, signing_input(signed.body),
                                             signed.sig):
            self.rejected["signature"] += 1
            return None
        if self.outstanding is None or reply.client != self.id \
                or reply.timestamp != self.outstanding[0]:
            return None
        self._replies.setdefault(reply.replica, (reply.result, reply.view))
        return self._accept()

    def _accept(self) -> bytes | None:
        counts = Counter(result for result, _ in self._replies.values())
        for result, count in counts.items():
            if count >= self.q.weak:
                self.view = max(v for r, v in self._replies.values() if r == result)
                self.outstanding = self.deadline = None
                return result
        return None
