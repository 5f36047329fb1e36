"""The cluster key-encryption key: TOTP secrets sealed before they enter the replicated log.

Use cases::

    write_cluster_secret("pki/cluster-secret.key")     # once (uqo certs init does it); copy
                                                       # the file to every replica, mode 0600
    key = ClusterKey.load("pki/cluster-secret.key")    # uqo serve --cluster-secret FILE
    blob = key.seal(totp_secret, "analyst-001")        # in a PutAccount command
    key.open(blob, "analyst-001")                      # the secret, on any replica

AES-256-GCM (``cryptography``), a fresh 96-bit nonce per seal, the user id bound in as
associated data (a sealed secret moved to another account does not open). The file holds the
32-byte key in base64 and is the only copy: etcd and its snapshots see only sealed blobs.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import SecurityError

CONTEXT = b"uqo-totp-v1\n"
NONCE = 12


class ClusterKey:
    def __init__(self, key: bytes):
        if len(key) != 32:
            raise SecurityError("a cluster secret is 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ClusterKey:
        """Read a cluster secret file; ``SecurityError`` naming the file when it cannot."""
        try:
            with open(path, "rb") as fh:
                key = base64.b64decode(fh.read().strip(), validate=True)
            return cls(key)
        except (OSError, ValueError, binascii.Error, SecurityError) as exc:
            raise SecurityError(f"cannot read the cluster secret {os.fspath(path)}: {exc} "
                                "(create one with 'uqo certs init')") from None

    def seal(self, secret: bytes, user_id: str) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, secret, CONTEXT + user_id.encode())

    def open(self, blob: bytes, user_id: str) -> bytes:
        try:
            return self._aead.decrypt(blob[:NONCE], blob[NONCE:], CONTEXT + user_id.encode())
        except (InvalidTag, ValueError):
            raise SecurityError(f"the sealed TOTP secret of {user_id!r} does not open with "
                                "this cluster secret (another cluster's file?)") from None


def write_cluster_secret(path: str | os.PathLike) -> str:
    """Create a new cluster secret file (mode 0600); refuses to replace one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(AESGCM.generate_key(bit_length=256)) + b"\n")
    return os.fspath(path)
