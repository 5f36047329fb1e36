"""Signed tree heads ("checkpoints") of the audit log, in the C2SP tlog-checkpoint layout.

Use cases::

    cp = sign_checkpoint(signer, "uqo-audit", size=100, root=tree.root(100), timestamp=t)
    cp.verify({k.key_id: k for k in signer.public_keys()})   # SignatureInvalid otherwise
    line = cp.to_json()                                      # one line of checkpoints.jsonl
    Checkpoint.from_json(line)                               # AuditError when malformed
    cp = sign_checkpoint(signer, ..., countersigner=counter) # also an ML-DSA-65 signature

A countersigned checkpoint carries a second signature over the same body (``pq_key_id``,
``pq_algorithm``, ``pq_signature``). ``verify`` checks it whenever its key is trusted, and
with ``require_pq`` (the verifier trusts an ML-DSA key) refuses a checkpoint without one: a
history re-signed with a stolen classical key alone then fails.

The signed bytes are the checkpoint body::

    <origin>\\n<size>\\n<base64 root>\\ntimestamp <unix seconds>\\n

The origin always starts with ``uqo-audit``, so a checkpoint signature can never be mistaken
for a session-token signature (those sign ``uqo-session-v1\\n...``) made by the same key.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

from .errors import AuditError, InvalidArgument, SignatureInvalid
from .signing import ML_DSA_65, PublicKeyInfo, Signer, verify_signature

_ORIGIN = re.compile(r"^uqo-audit[A-Za-z0-9./_-]{0,100}$")


def check_origin(origin: str) -> str:
    if not isinstance(origin, str) or not _ORIGIN.match(origin):
        raise InvalidArgument("origin", f"must start with 'uqo-audit' (no spaces), got "
                                        f"{origin!r}")
    return origin


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    timestamp: int
    key_id: str
    algorithm: str
    signature: bytes
    pq_key_id: str = ""
    pq_algorithm: str = ""
    pq_signature: bytes = b""

    def body(self) -> bytes:
        return (f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"
                f"timestamp {self.timestamp}\n").encode("ascii")

    def verify(self, keys: dict[str, PublicKeyInfo], require_pq: bool = False) -> None:
        """Raise ``SignatureInvalid`` unless signed by one of ``keys`` (by key id), and
        countersigned by one of them when its countersignature's key is among them (always,
        with ``require_pq``)."""
        key = keys.get(self.key_id)
        if key is None or key.algorithm == ML_DSA_65:
            raise SignatureInvalid(f"checkpoint {self.size} is signed by unknown key "
                                   f"{self.key_id}")
        verify_signature(key.public_key_pem, self.algorithm, self.body(), self.signature)
        pq = keys.get(self.pq_key_id) if self.pq_key_id else None
        if pq is None:
            if require_pq:
                raise SignatureInvalid(f"checkpoint {self.size} has no ML-DSA countersignature "
                                       f"by a trusted key")
            return
        try:
            verify_signature(pq.public_key_pem, self.pq_algorithm, self.body(),
                             self.pq_signature)
        except SignatureInvalid:
            raise SignatureInvalid(f"checkpoint {self.size}: its ML-DSA countersignature does "
                                   f"not verify") from None

    def to_json(self) -> str:
        body = {"origin": self.origin, "size": self.size,
                "root": base64.b64encode(self.root).decode(),
                "timestamp": self.timestamp, "key_id": self.key_id,
                "algorithm": self.algorithm,
                "signature": base64.b64encode(self.signature).decode()}
        if self.pq_key_id:
            body.update(pq_key_id=self.pq_key_id, pq_algorithm=self.pq_algorithm,
                        pq_signature=base64.b64encode(self.pq_signature).decode())
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str | bytes) -> Checkpoint:
        try:
            d = json.loads(line)
            cp = cls(d["origin"], int(d["size"]), base64.b64decode(d["root"], validate=True),
                     int(d["timestamp"]), str(d["key_id"]), str(d["algorithm"]),
                     base64.b64decode(d["signature"], validate=True),
                     str(d.get("pq_key_id", "")), str(d.get("pq_algorithm", "")),
                     base64.b64decode(d.get("pq_signature", ""), validate=True))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise AuditError(f"malformed checkpoint: {exc}") from None
        if len(cp.root) != 32 or cp.size < 0:
            raise AuditError(f"malformed checkpoint: size {cp.size}, root of {len(cp.root)} "
                             f"bytes")
        return cp


def sign_checkpoint(signer: Signer, origin: str, size: int, root: bytes,
                    timestamp: int, countersigner=None) -> Checkpoint:
    unsigned = Checkpoint(check_origin(origin), size, root, int(timestamp), signer.key_id,
                          signer.algorithm, b"")
    body = unsigned.body()
    fields = {**unsigned.__dict__, "signature": signer.sign(body)}
    if countersigner is not None:
        fields.update(pq_key_id=countersigner.key_id, pq_algorithm=countersigner.algorithm,
                      pq_signature=countersigner.sign(body))
    return Checkpoint(**fields)
