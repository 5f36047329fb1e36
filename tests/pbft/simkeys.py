"""Keys for the simulator: real Ed25519, or a keyed-hash stand-in (named as such).

Use cases::

    keys = ed25519_keys(n=4, clients=["c0"], seed=7)     # deterministic real keys
    keys = hash_keys(n=4, clients=["c0"], seed=7)        # fast stand-in for long seed runs
    keys.replicas[2].sign(data); keys.ring.replica(2, data, sig)

The stand-in "signs" with BLAKE2b keyed by a per-principal secret and the verifier holds every
secret: a MAC, not a signature. It is sound inside the simulator only because the simulated
Byzantine replicas are our code and sign with their own secret alone (never reading
another's), which is exactly what unforgeability guarantees of real signatures. It exists
because Ed25519 verification (~150 us here) would make 10,000 seeds take hours; a fixed set
of seeds runs with real Ed25519 keys as well.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ed25519
from uqo.control.pbft.auth import KeyRing
from uqo.security.signing import ED25519, PublicKeyInfo, key_id_of, public_pem


class HashSigner:
    """Simulator stand-in for a signing key (see the module docstring)."""

    def __init__(self, secret: bytes):
        self.secret = secret

    def sign(self, data: bytes) -> bytes:
        return hashlib.blake2b(data, key=self.secret, digest_size=32).digest()


class HashRing:
    """Simulator stand-in for ``KeyRing`` over ``HashSigner`` secrets."""

    def __init__(self, replicas: list[HashSigner], clients: dict[str, HashSigner]):
        self._replicas, self._clients = replicas, clients

    def _ok(self, signer: HashSigner | None, data: bytes, sig: bytes) -> bool:
        return signer is not None and hmac.compare_digest(signer.sign(data), sig)

    def replica(self, replica: int, data: bytes, sig: bytes) -> bool:
        ok = 0 <= replica < len(self._replicas)
        return ok and self._ok(self._replicas[replica], data, sig)

    def client(self, client: str, data: bytes, sig: bytes) -> bool:
        return self._ok(self._clients.get(client), data, sig)


class Ed25519Key:
    """A real Ed25519 key derived from a seed (deterministic signatures)."""

    def __init__(self, seed: bytes):
        self.key = ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)

    def info(self) -> PublicKeyInfo:
        pub = self.key.public_key()
        return PublicKeyInfo(key_id_of(pub), ED25519, public_pem(pub))


@dataclass
class Keys:
    replicas: list
    clients: dict
    ring: object


def hash_keys(n: int, clients: list[str], seed: int) -> Keys:
    reps = [HashSigner(b"%d/r/%d" % (seed, i)) for i in range(n)]
    cls = {c: HashSigner(b"%d/c/%s" % (seed, c.encode())) for c in clients}
    return Keys(reps, cls, HashRing(reps, cls))


def ed25519_keys(n: int, clients: list[str], seed: int) -> Keys:
    reps = [Ed25519Key(b"%d/r/%d" % (seed, i)) for i in range(n)]
    cls = {c: Ed25519Key(b"%d/c/%s" % (seed, c.encode())) for c in clients}
    ring = KeyRing([k.info() for k in reps], {c: k.info() for c, k in cls.items()})
    return Keys(reps, cls, ring)
