"""ML-DSA-65 (FIPS 204) countersignatures of audit checkpoints: post-quantum evidence.

Use cases::

    counter = open_countersigner(data_dir, signer)   # creates pqkey.json on first use
    sig = counter.sign(checkpoint_body)              # 3,309 bytes
    counter.public()                                 # PublicKeyInfo("...", "ml-dsa-65", PEM)
    verify_signature(counter.public().public_key_pem, ML_DSA_65, body, sig)

Each checkpoint is signed by the main signer (ECDSA or Ed25519, on the HSM when there is one)
and countersigned here, so a forged history needs both keys, and remains evident once
classical signatures can be forged. SoftHSM 2.6 (and most HSMs today) cannot hold an ML-DSA
key, so the key is generated with ``cryptography`` (its bundled OpenSSL 3.5 implements
ML-DSA) and stored as its 32-byte seed, wrapped by the main signer's ``key_wrap``: AES-256-GCM
on the token (the seed is readable only through the token and its PIN), or under the keystore
passphrase. The wrapped seed is bound to the public key id, so a swapped ``pqkey.json`` fails
to open.
"""

from __future__ import annotations

import base64
import json
import os
import threading

from cryptography.hazmat.primitives.asymmetric import mldsa

from uqo.fsutil import atomic_write, ensure_private_dir

from .errors import KeyStoreError, SecurityError
from .signing import ML_DSA_65, PublicKeyInfo, Signer, key_id_of, public_pem

PQ_KEY_FILE = "pqkey.json"


class Countersigner:
    """An ML-DSA-65 key held in memory, its seed stored wrapped. Thread-safe."""

    def __init__(self, key: mldsa.MLDSA65PrivateKey, wrap_describe: str):
        self._key, self.wrap_describe = key, wrap_describe
        self._info = PublicKeyInfo(key_id_of(key.public_key()), ML_DSA_65,
                                   public_pem(key.public_key()))
        self._lock = threading.Lock()

    @property
    def key_id(self) -> str:
        return self._info.key_id

    @property
    def algorithm(self) -> str:
        return ML_DSA_65

    def public(self) -> PublicKeyInfo:
        return self._info

    def sign(self, data: bytes) -> bytes:
        with self._lock:
            return self._key.sign(data)

    def describe(self) -> dict:
        return {"algorithm": ML_DSA_65, "key_id": self.key_id, "stored": self.wrap_describe}


def _context(key_id: str) -> bytes:
    return b"uqo-pq-seed-v1\n" + key_id.encode()


def open_countersigner(data_dir, signer: Signer) -> Countersigner:
    """The data directory's countersigner, created (and its seed wrapped) on first use."""
    path = os.path.join(ensure_private_dir(data_dir), PQ_KEY_FILE)
    wrap = signer.key_wrap()
    if not os.path.exists(path):
        key = mldsa.MLDSA65PrivateKey.generate()
        counter = Countersigner(key, wrap.describe())
        blob = wrap.wrap(key.private_bytes_raw(), _context(counter.key_id))
        body = {"version": 1, **counter.public().to_json(),
                "wrapped_seed": base64.b64encode(blob).decode(), "wrap": wrap.describe()}
        atomic_write(path, json.dumps(body, indent=1).encode() + b"\n")
        return counter
    try:
        with open(path, encoding="utf-8") as fh:
            body = json.load(fh)
        blob = base64.b64decode(body["wrapped_seed"], validate=True)
        key_id = str(body["key_id"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyStoreError(f"cannot read {path}: {exc}") from None
    try:
        key = mldsa.MLDSA65PrivateKey.from_seed_bytes(wrap.unwrap(blob, _context(key_id)))
    except (SecurityError, ValueError) as exc:
        raise KeyStoreError(f"{path}: the ML-DSA seed cannot be unwrapped by this signer "
                            f"({exc})") from None
    counter = Countersigner(key, wrap.describe())
    if counter.key_id != key_id:
        raise KeyStoreError(f"{path}: the seed does not give the recorded key {key_id}")
    return counter
