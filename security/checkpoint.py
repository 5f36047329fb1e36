"""Signed tree heads ("checkpoints") of the audit log, in the C2SP tlog-checkpoint layout.

Use cases::

    cp = sign_checkpoint(signer, "uqo-audit", size=100, root=tree.root(100), timestamp=t)
    cp.verify({k.key_id: k for k in signer.public_keys()})   # SignatureInvalid otherwise
    line = cp.to_json()                                      # one line of checkpoints.jsonl
    Checkpoint.from_json(line)                               # AuditError when malformed

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
from .signing import PublicKeyInfo, Signer, verify_signature

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

    def body(self) -> bytes:
        return (f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"
                f"timestamp {self.timestamp}\n").encode("ascii")

    def verify(self, keys: dict[str, PublicKeyInfo]) -> None:
        """Raise ``SignatureInvalid`` unless signed by one of ``keys`` (by key id)."""
        key = keys.get(self.key_id)
        if key is None:
            raise SignatureInvalid(f"checkpoint {self.size} is signed by unknown key "
                                   f"{self.key_id}")
        verify_signature(key.public_key_pem, self.algorithm, self.body(), self.signature)

    def to_json(self) -> str:
        return json.dumps({"origin": self.origin, "size": self.size,
                           "root": base64.b64encode(self.root).decode(),
                           "timestamp": self.timestamp, "key_id": self.key_id,
                           "algorithm": self.algorithm,
                           "signature": base64.b64encode(self.signature).decode()},
                          sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str | bytes) -> Checkpoint:
        try:
            d = json.loads(line)
            cp = cls(d["origin"], int(d["size"]), base64.b64decode(d["root"], validate=True),
                     int(d["timestamp"]), str(d["key_id"]), str(d["algorithm"]),
                     base64.b64decode(d["signature"], validate=True))
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditError(f"malformed checkpoint: {exc}") from None
        if len(cp.root) != 32 or cp.size < 0:
            raise AuditError(f"malformed checkpoint: size {cp.size}, root of {len(cp.root)} "
                             f"bytes")
        return cp


def sign_checkpoint(signer: Signer, origin: str, size: int, root: bytes,
                    timestamp: int) -> Checkpoint:
    unsigned = Checkpoint(check_origin(origin), size, root, int(timestamp), signer.key_id,
                          signer.algorithm, b"")
    return Checkpoint(**{**unsigned.__dict__, "signature": signer.sign(unsigned.body())})
