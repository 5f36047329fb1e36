"""Who signed a PBFT message: verification keys per replica and per client.

Use cases::

    ring = KeyRing(replicas=[s.public_keys() for s in replica_signers],
                   clients={"replica-1": replica_signers[0].public_keys()})
    ring.replica(2, data, sig)        # True iff replica 2's key (current or retired) signed data
    ring.client("replica-1", data, sig)

The core takes a signer (anything with ``sign(bytes) -> bytes``: the project's
``uqo.security.signing.Signer``, software keystore or PKCS#11 token) and a verifier with the
two methods above; it never trusts a message whose signature does not verify (OSDI '99 §2:
"all replicas know the others' public keys"). Algorithms: Ed25519 (default) and ECDSA P-256
through ``uqo.security.signing``; ML-DSA-65 (FIPS 204) through ``uqo.control.pbft.mldsa``.

Keys are parsed once; verifications that succeeded are remembered in a bounded cache (a
signed prepare is checked again inside every view-change certificate that carries it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from uqo.security.signing import ECDSA_P256, ED25519, PublicKeyInfo, load_public_key

from .mldsa import ML_DSA_65, load_mldsa_public_key

VerifyFn = Callable[[bytes, bytes], None]   # (signature, data); raises InvalidSignature


class Verifier(Protocol):
    def replica(self, replica: int, data: bytes, sig: bytes) -> bool:
        """Whether replica ``replica`` signed ``data``."""

    def client(self, client: str, data: bytes, sig: bytes) -> bool:
        """Whether client ``client`` signed ``data``."""


def verify_fn(info: PublicKeyInfo) -> VerifyFn:
    """A verification function for one public key; the algorithm must match the key."""
    if info.algorithm == ML_DSA_65:
        key = load_mldsa_public_key(info.public_key_pem)
        return key.verify
    key = load_public_key(info.public_key_pem)
    if info.algorithm == ED25519:
        if not hasattr(key, "curve"):
            return key.verify
    elif info.algorithm == ECDSA_P256 and hasattr(key, "curve"):
        return lambda sig, data: key.verify(sig, data, ec.ECDSA(hashes.SHA256()))
    raise ValueError(f"key {info.key_id}: algorithm {info.algorithm!r} does not match the key")


def _keys(infos) -> list[VerifyFn]:
    infos = [infos] if isinstance(infos, PublicKeyInfo) else list(infos)
    if not infos:
        raise ValueError("every principal needs at least one public key")
    return [verify_fn(i) for i in infos]


class KeyRing:
    """Public keys of replicas ``0..n-1`` and of named clients (several keys each: a rotated
    signer's retired keys still verify). Thread-compatible, not thread-safe (the cache)."""

    def __init__(self, replicas: Iterable[PublicKeyInfo | Iterable[PublicKeyInfo]],
                 clients: Mapping[str, PublicKeyInfo | Iterable[PublicKeyInfo]] | None = None,
                 cache_size: int = 1 << 16):
        self._replicas = [_keys(k) for k in replicas]
        self._clients = {str(c): _keys(k) for c, k in (clients or {}).items()}
        self._cache: dict[bytes, None] = {}
        self._cache_size = cache_size

    @property
    def n(self) -> int:
        return len(self._replicas)

    def knows_client(self, client: str) -> bool:
        return client in self._clients

    def replica(self, replica: int, data: bytes, sig: bytes) -> bool:
        if not 0 <= replica < len(self._replicas):
            return False
        return self._check(b"r%d" % replica, self._replicas[replica], data, sig)

    def client(self, client: str, data: bytes, sig: bytes) -> bool:
        keys = self._clients.get(client)
        return keys is not None and self._check(b"c" + client.encode(), keys, data, sig)

    def _check(self, who: bytes, keys: list[VerifyFn], data: bytes, sig: bytes) -> bool:
        tag = hashlib.blake2b(who + b"\x00" + data + sig, digest_size=20).digest()
        if tag in self._cache:
            return True
        for fn in keys:
            try:
                fn(sig, data)
            except (InvalidSignature, ValueError, TypeError):
                continue
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[tag] = None
            return True
        return False
