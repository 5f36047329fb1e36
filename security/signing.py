"""The ``Signer`` interface and verification from a public key alone.

Use cases::

    sig = signer.sign(b"message")                   # bytes; ECDSA as DER, Ed25519 raw 64 bytes
    verify_signature(signer.public_key_pem, signer.algorithm, b"message", sig)   # or raise
    keys = {k.key_id: k for k in signer.public_keys()}   # current and retired keys
    signer.rotate()                                  # new current key; old ones still verify

Two signing algorithms: ``ecdsa-p256-sha256`` (the message is hashed with SHA-256, then signed)
and ``ed25519``; verification also takes ``ml-dsa-65`` (FIPS 204, the post-quantum
countersignature of audit checkpoints, ``uqo.security.pqsign``). A ``key_id`` is the first 16 bytes (hex) of SHA-256 over the key's
SubjectPublicKeyInfo DER, so anyone holding the public key can recompute it.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa

from .errors import InvalidArgument, SignatureInvalid, SignerError

ECDSA_P256 = "ecdsa-p256-sha256"
ED25519 = "ed25519"
ML_DSA_65 = "ml-dsa-65"
ALGORITHMS = (ECDSA_P256, ED25519)          # what a Signer signs with
VERIFIABLE = (*ALGORITHMS, ML_DSA_65)       # what verify_signature checks


def check_algorithm(algorithm) -> str:
    if algorithm not in ALGORITHMS:
        raise InvalidArgument("algorithm", f"unknown signature algorithm {algorithm!r} "
                                           f"(expected one of {', '.join(ALGORITHMS)})")
    return algorithm


@dataclass(frozen=True)
class PublicKeyInfo:
    """A verification key: its id, algorithm and PEM (SubjectPublicKeyInfo)."""

    key_id: str
    algorithm: str
    public_key_pem: str

    def to_json(self) -> dict:
        return {"key_id": self.key_id, "algorithm": self.algorithm,
                "public_key_pem": self.public_key_pem}

    @classmethod
    def from_pem(cls, pem: str | bytes) -> PublicKeyInfo:
        """Key id and algorithm derived from the key itself (a pinned key cannot lie)."""
        key = load_public_key(pem)
        return cls(key_id_of(key), algorithm_of(key), public_pem(key))


class KeyWrap(ABC):
    """Authenticated encryption of a small secret, bound to ``context`` (AES-256-GCM)."""

    @abstractmethod
    def wrap(self, secret: bytes, context: bytes) -> bytes: ...

    @abstractmethod
    def unwrap(self, blob: bytes, context: bytes) -> bytes:
        """The secret, or ``SignatureInvalid`` when the blob or context was altered."""

    @abstractmethod
    def describe(self) -> str: ...


class Signer(ABC):
    """A signing key that may live outside the process (HSM). Implementations are safe to call
    from several threads."""

    @property
    @abstractmethod
    def algorithm(self) -> str: ...

    @property
    @abstractmethod
    def key_id(self) -> str: ...

    @property
    @abstractmethod
    def public_key_pem(self) -> str: ...

    @abstractmethod
    def sign(self, data: bytes) -> bytes: ...

    @abstractmethod
    def public_keys(self) -> list[PublicKeyInfo]:
        """Every key this signer has used, current first; verifiers trust these."""

    @abstractmethod
    def rotate(self) -> PublicKeyInfo:
        """Make a new current key; retired keys stay available for verification."""

    @abstractmethod
    def describe(self) -> dict:
        """Facts about where the key lives and how it is protected (compliance evidence)."""

    def key_wrap(self) -> KeyWrap:
        """Encrypts other secrets (the ML-DSA countersigning key) under this signer's
        protection: an AES key on the token, or the keystore passphrase. A signer with no such
        protection (an ML-DSA message signer) refuses with ``SignerError``."""
        raise SignerError(f"{type(self).__name__} has no key protection to wrap other keys "
                          "under; use the software keystore's or the PKCS#11 token's signer")

    def close(self) -> None:
        """Release backend resources (a PKCS#11 session); idempotent."""

    def current(self) -> PublicKeyInfo:
        return PublicKeyInfo(self.key_id, self.algorithm, self.public_key_pem)


def load_public_key(pem: str | bytes):
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise InvalidArgument("public_key_pem", "not a PEM public key") from None
    if isinstance(key, ed25519.Ed25519PublicKey | mldsa.MLDSA65PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise InvalidArgument("public_key_pem", f"unsupported key type {type(key).__name__}")


def algorithm_of(key) -> str:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ED25519
    if isinstance(key, mldsa.MLDSA65PublicKey):
        return ML_DSA_65
    return ECDSA_P256


def public_pem(key) -> str:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def key_id_of(key) -> str:
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:32]


def verify_signature(public_key_pem: str | bytes, algorithm: str, data: bytes,
                     signature: bytes) -> None:
    """Raise ``SignatureInvalid`` unless ``signature`` over ``data`` verifies under the key."""
    key = load_public_key(public_key_pem)
    expected = algorithm_of(key)
    if algorithm not in VERIFIABLE:
        raise InvalidArgument("algorithm", f"unknown signature algorithm {algorithm!r}")
    if algorithm != expected:
        raise SignatureInvalid(f"algorithm {algorithm} does not match the {expected} key")
    try:
        if expected == ECDSA_P256:
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            key.verify(signature, data)
    except InvalidSignature:
        raise SignatureInvalid("signature does not verify") from None
