"""ML-DSA-65 (FIPS 204) signing keys behind the project's ``Signer`` interface.

Use cases::

    signer = MlDsa65Signer.open("data/pbft-mldsa.pem", passphrase=b"...")   # creates it
    sig = signer.sign(b"message")               # 3309 bytes, randomised (hedged) signing
    KeyRing(replicas=[signer.public_keys(), ...])   # verifies with load_mldsa_public_key

``uqo.security.signing`` knows ECDSA P-256 and Ed25519 only; this module adds the
post-quantum option for PBFT replicas without changing that shared module (cryptography >= 45
carries ML-DSA through its bundled OpenSSL; checked: 50.x here). The private key is stored as
encrypted PKCS#8 (cryptography's ``BestAvailableEncryption``), like the software keystore.
No PKCS#11 token we test with (SoftHSM 2.6) offers ML-DSA, so this signer is software only.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa
from uqo.security.errors import SignerError
from uqo.security.signing import PublicKeyInfo, Signer, key_id_of, public_pem

from uqo.fsutil import atomic_write

ML_DSA_65 = "ml-dsa-65"


def load_mldsa_public_key(pem: str | bytes) -> mldsa.MLDSA65PublicKey:
    data = pem.encode() if isinstance(pem, str) else pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, mldsa.MLDSA65PublicKey):
        raise TypeError(f"not an ML-DSA-65 public key: {type(key).__name__}")
    return key


class MlDsa65Signer(Signer):
    """One ML-DSA-65 key held in memory (optionally stored encrypted in a file)."""

    def __init__(self, key: mldsa.MLDSA65PrivateKey, path: str | None = None):
        self._key = key
        self._pub = key.public_key()
        self.path = path

    @classmethod
    def generate(cls) -> MlDsa65Signer:
        return cls(mldsa.MLDSA65PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> MlDsa65Signer:
        """A deterministic key from a 32-byte seed (tests)."""
        return cls(mldsa.MLDSA65PrivateKey.from_seed_bytes(seed))

    @classmethod
    def open(cls, path, passphrase: bytes) -> MlDsa65Signer:
        """Load the key stored at ``path``, or create and store one."""
        path = os.fspath(path)
        if os.path.exists(path):
            with open(path, "rb") as fh:
                key = serialization.load_pem_private_key(fh.read(), passphrase)
            if not isinstance(key, mldsa.MLDSA65PrivateKey):
                raise ValueError(f"{path}: not an ML-DSA-65 private key")
            return cls(key, path)
        key = mldsa.MLDSA65PrivateKey.generate()
        atomic_write(path, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase)))
        return cls(key, path)

    @property
    def algorithm(self) -> str:
        return ML_DSA_65

    @property
    def key_id(self) -> str:
        return key_id_of(self._pub)

    @property
    def public_key_pem(self) -> str:
        return public_pem(self._pub)

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def public_keys(self) -> list[PublicKeyInfo]:
        return [self.current()]

    def rotate(self) -> PublicKeyInfo:
        raise SignerError("an ML-DSA-65 replica key is replaced by reconfiguring the replica "
                          "set (every peer's key ring), not rotated in place")

    def describe(self) -> dict:
        return {"backend": "software (ML-DSA-65)", "algorithm": ML_DSA_65,
                "key_id": self.key_id, "non_extractable": False,
                "encrypted_at_rest": self.path is not None}
