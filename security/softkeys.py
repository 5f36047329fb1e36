"""``SoftwareSigner``: signing keys in a keystore file, encrypted at rest.

Use cases::

    signer = SoftwareSigner.open(data_dir / "keystore.json", passphrase=b"...")   # creates it
    signer = SoftwareSigner.open_default(data_dir)    # passphrase from a 0600 key file beside it

The keystore is JSON: per key its id, algorithm, creation time, public key and the private key
as encrypted PKCS#8 (cryptography's ``BestAvailableEncryption``: PBES2, AES-256). Opening
decrypts every key and checks that each private key matches its recorded public key and id, so
a swapped public key is refused. ``open_default`` exists for the embedded single-node default;
its key file on the same disk protects against a copied keystore only, and the compliance report
states which mode is in use.
"""

from __future__ import annotations

import json
import os
import threading
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from uqo.fsutil import atomic_write, ensure_private_dir

from .errors import InvalidArgument, KeyStoreError, SignatureInvalid
from .signing import (
    ECDSA_P256,
    ED25519,
    KeyWrap,
    PublicKeyInfo,
    Signer,
    check_algorithm,
    key_id_of,
    public_pem,
)
from .spans import sign_span

KEYSTORE_FILE, PASSPHRASE_FILE = "keystore.json", "keystore.pass"


def _generate(algorithm: str):
    if algorithm == ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def _encrypt(key, passphrase: bytes) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(passphrase)).decode("ascii")


def _decrypt(entry: dict, passphrase: bytes):
    try:
        key = serialization.load_pem_private_key(entry["private_key"].encode(), passphrase)
    except (ValueError, TypeError):
        raise KeyStoreError(f"cannot decrypt key {entry.get('key_id')!r}: wrong passphrase or "
                            f"damaged keystore") from None
    pub = key.public_key()
    if key_id_of(pub) != entry["key_id"] or public_pem(pub) != entry["public_key_pem"]:
        raise KeyStoreError(f"key {entry['key_id']!r}: recorded public key does not match "
                            f"the private key")
    return key


class SoftwareSigner(Signer):
    """Keys held in process memory, stored encrypted. Thread-safe."""

    def __init__(self, path: str, passphrase: bytes, entries: list[dict], algorithm: str,
                 passphrase_source: str):
        self.path, self._passphrase, self._entries = path, passphrase, entries
        self._algorithm, self.passphrase_source = algorithm, passphrase_source
        self._keys = {e["key_id"]: _decrypt(e, passphrase) for e in entries}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path, passphrase: bytes, algorithm: str = ED25519, create: bool = True,
             passphrase_source: str = "caller") -> SoftwareSigner:
        """Open the keystore at ``path`` (creating it with one ``algorithm`` key if absent and
        ``create``). The algorithm of an existing keystore wins over ``algorithm``."""
        path = os.fspath(path)
        if not isinstance(passphrase, bytes) or len(passphrase) < 8:
            raise InvalidArgument("passphrase", "must be bytes, at least 8 long")
        check_algorithm(algorithm)
        if os.path.exists(path):
            body = cls._read(path)
            return cls(path, passphrase, body["keys"], body["algorithm"], passphrase_source)
        if not create:
            raise KeyStoreError(f"no keystore at {path}")
        ensure_private_dir(os.path.dirname(os.path.abspath(path)))
        signer = cls(path, passphrase, [], algorithm, passphrase_source)
        signer.rotate()
        return signer

    @classmethod
    def open_default(cls, data_dir, algorithm: str = ED25519) -> SoftwareSigner:
        """The embedded default: ``keystore.json`` in ``data_dir``, its passphrase a random key
        in ``keystore.pass`` (0600), created on first use."""
        data_dir = ensure_private_dir(data_dir)
        pass_path = os.path.join(data_dir, PASSPHRASE_FILE)
        if not os.path.exists(pass_path):
            atomic_write(pass_path, os.urandom(32).hex().encode())
        with open(pass_path, "rb") as fh:
            passphrase = fh.read().strip()
        return cls.open(os.path.join(data_dir, KEYSTORE_FILE), passphrase, algorithm,
                        passphrase_source="key file beside the keystore")

    @staticmethod
    def _read(path: str) -> dict:
        try:
            with open(path, encoding="utf-8") as fh:
                body = json.load(fh)
            check_algorithm(body["algorithm"])
            if not body["keys"]:
                raise ValueError("no keys")
            return body
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"cannot read keystore {path}: {exc}") from None

    @property
    def algorithm(self) -> str:
        return self._algorithm

    @property
    def key_id(self) -> str:
        return self._entries[-1]["key_id"]

    @property
    def public_key_pem(self) -> str:
        return self._entries[-1]["public_key_pem"]

    def sign(self, data: bytes) -> bytes:
        key_id = self.key_id
        key = self._keys[key_id]
        with sign_span("software", self._algorithm, key_id):
            if self._algorithm == ECDSA_P256:
                return key.sign(data, ec.ECDSA(hashes.SHA256()))
            return key.sign(data)

    def public_keys(self) -> list[PublicKeyInfo]:
        return [PublicKeyInfo(e["key_id"], self._algorithm, e["public_key_pem"])
                for e in reversed(self._entries)]

    def rotate(self) -> PublicKeyInfo:
        with self._lock:
            key = _generate(self._algorithm)
            entry = {"key_id": key_id_of(key.public_key()), "created": time.time(),
                     "public_key_pem": public_pem(key.public_key()),
                     "private_key": _encrypt(key, self._passphrase)}
            entries = [*self._entries, entry]
            body = {"version": 1, "algorithm": self._algorithm, "keys": entries}
            atomic_write(self.path, json.dumps(body, indent=1).encode() + b"\n")
            self._keys[entry["key_id"]] = key
            self._entries = entries
            return self.current()

    def key_wrap(self) -> KeyWrap:
        return PassphraseWrap(self._passphrase, self.passphrase_source)

    def describe(self) -> dict:
        return {"backend": "software keystore", "path": os.path.basename(self.path),
                "algorithm": self._algorithm, "key_id": self.key_id,
                "keys": len(self._entries), "encrypted_at_rest": _all_encrypted(self.path),
                "passphrase_source": self.passphrase_source, "non_extractable": False}


def _all_encrypted(path: str) -> bool:
    """Whether every private key in the file is stored as encrypted PKCS#8 (read from disk)."""
    body = SoftwareSigner._read(path)
    return all(e["private_key"].startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
               for e in body["keys"])


class PassphraseWrap(KeyWrap):
    """AES-256-GCM under a key derived (HKDF-SHA256) from the keystore passphrase: a secret
    wrapped here is as safe as the keystore's own keys."""

    def __init__(self, passphrase: bytes, source: str):
        self._aead = AESGCM(HKDF(hashes.SHA256(), 32, b"uqo-key-wrap-v1",
                                 b"aes-256-gcm").derive(passphrase))
        self.source = source

    def wrap(self, secret: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, secret, context)

    def unwrap(self, blob: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:12], blob[12:], context)
        except (InvalidTag, ValueError):
            raise SignatureInvalid("the wrapped key does not decrypt (altered, or another "
                                   "passphrase)") from None

    def describe(self) -> str:
        return f"AES-256-GCM, key derived from the keystore passphrase ({self.source})"
