"""``Pkcs11Signer``: a non-extractable signing key on a PKCS#11 token (HSM; SoftHSM2 in tests).

Use cases::

    signer = Pkcs11Signer(module="/usr/lib/softhsm/libsofthsm2.so", token_label="uqo",
                          pin="1234", key_label="uqo-signing", algorithm=ECDSA_P256)
    sig = signer.sign(b"tree head")       # computed on the token; DER for ECDSA
    signer.public_key_pem                 # exported for verification with cryptography
    signer.rotate()                       # key "uqo-signing.2"; ".1" stays for verification

Keys are generated on the token with ``EXTRACTABLE=False`` and ``SENSITIVE=True`` (so
``NEVER_EXTRACTABLE``/``ALWAYS_SENSITIVE`` hold), labelled ``<key_label>.<generation>``; the
highest generation is current. SoftHSM 2.6 lacks ``CKM_ECDSA_SHA256``: we hash with SHA-256 and
sign with ``CKM_ECDSA``, then DER-encode r||s. One logged-in session is used under a lock:
several sessions used from different threads crashed SoftHSM under python-pkcs11.
"""

from __future__ import annotations

import hashlib
import os
import threading

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pkcs11 import Attribute, GCMParams, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import (
    encode_ec_public_key,
    encode_ecdsa_signature,
    encode_named_curve_parameters,
)

from .errors import SignatureInvalid, SignerError
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

_ED25519_PARAMS = bytes.fromhex("06032b6570")  # DER OID 1.3.101.112
_PRIVATE = {Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True}


def _open_session(module: str, token_label: str, pin: str):
    try:
        token = pkcs11.lib(module).get_token(token_label=token_label)
    except pkcs11.NoSuchToken:
        raise SignerError(f"no PKCS#11 token labelled {token_label!r} in {module}") from None
    except pkcs11.MultipleTokensReturned:
        raise SignerError(f"several tokens labelled {token_label!r}; labels must be unique")\
            from None
    except (OSError, RuntimeError, pkcs11.PKCS11Error) as exc:
        raise SignerError(f"cannot load PKCS#11 module {module}: {exc!r}") from None
    try:
        return token, token.open(user_pin=pin, rw=True)
    except pkcs11.UserAlreadyLoggedIn:  # login is per process: a second session shares it
        return token, token.open(rw=True)
    except (pkcs11.PinIncorrect, pkcs11.PinLenRange, pkcs11.PinInvalid, pkcs11.PinLocked):
        raise SignerError(f"token {token_label!r} refused the PIN") from None


def _export(pub, key_type) :
    """The cryptography public key of a token public key."""
    if key_type == KeyType.EC_EDWARDS:
        point = bytes(pub[Attribute.EC_POINT])
        raw = point[2:] if len(point) == 34 and point[:2] == b"\x04\x20" else point
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    return serialization.load_der_public_key(encode_ec_public_key(pub))


class Pkcs11Signer(Signer):
    """Signs on a PKCS#11 token; thread-safe (one session under a lock)."""

    def __init__(self, module: str, token_label: str, pin: str, key_label: str = "uqo-signing",
                 algorithm: str = ECDSA_P256, create: bool = True):
        check_algorithm(algorithm)
        self.module, self.token_label, self.key_label = module, token_label, key_label
        self._lock = threading.Lock()
        self._token, self._session = _open_session(module, token_label, pin)
        self._keys = self._find_keys()  # generation -> (private, PublicKeyInfo)
        if not self._keys:
            if not create:
                self.close()
                raise SignerError(f"no key labelled {key_label}.* on token {token_label!r}")
            self._generate(1, algorithm)

    def _find_keys(self) -> dict:
        found = {}
        privates = list(self._session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
        for priv in privates:  # one search at a time per session: list first, then look up
            prefix, _, gen = (priv.label or "").rpartition(".")
            if prefix == self.key_label and gen.isdigit():
                found[int(gen)] = (priv, self._public_info(priv.label, priv.key_type))
        return found

    def _public_info(self, label: str, key_type) -> PublicKeyInfo:
        pub = self._session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
        key = _export(pub, key_type)
        algorithm = ED25519 if key_type == KeyType.EC_EDWARDS else ECDSA_P256
        return PublicKeyInfo(key_id_of(key), algorithm, public_pem(key))

    def _generate(self, generation: int, algorithm: str) -> PublicKeyInfo:
        label = f"{self.key_label}.{generation}"
        if algorithm == ED25519:
            key_type, params = KeyType.EC_EDWARDS, _ED25519_PARAMS
            mech = Mechanism.EC_EDWARDS_KEY_PAIR_GEN
        else:
            key_type, params = KeyType.EC, encode_named_curve_parameters("secp256r1")
            mech = Mechanism.EC_KEY_PAIR_GEN
        domain = self._session.create_domain_parameters(
            key_type, {Attribute.EC_PARAMS: params}, local=True)
        _, priv = domain.generate_keypair(store=True, label=label, id=label.encode(),
                                          mechanism=mech, private_template=_PRIVATE)
        info = self._public_info(label, key_type)
        self._keys[generation] = (priv, info)
        return info

    def _current(self):
        return self._keys[max(self._keys)]

    @property
    def algorithm(self) -> str:
        return self._current()[1].algorithm

    @property
    def key_id(self) -> str:
        return self._current()[1].key_id

    @property
    def public_key_pem(self) -> str:
        return self._current()[1].public_key_pem

    def sign(self, data: bytes) -> bytes:
        priv, info = self._current()
        with sign_span("pkcs11", info.algorithm, info.key_id), self._lock:
            if info.algorithm == ED25519:
                return priv.sign(data, mechanism=Mechanism.EDDSA)
            raw = priv.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA)
        return encode_ecdsa_signature(raw)

    def public_keys(self) -> list[PublicKeyInfo]:
        return [self._keys[g][1] for g in sorted(self._keys, reverse=True)]

    def rotate(self) -> PublicKeyInfo:
        with self._lock:
            return self._generate(max(self._keys) + 1, self.algorithm)

    def private_key_attributes(self) -> dict:
        """The protection flags of the current private key, read from the token."""
        priv = self._current()[0]
        with self._lock:
            return {name.lower(): bool(priv[getattr(Attribute, name)])
                    for name in ("EXTRACTABLE", "SENSITIVE", "NEVER_EXTRACTABLE",
                                 "ALWAYS_SENSITIVE", "TOKEN", "PRIVATE")}

    def key_wrap(self) -> KeyWrap:
        """AES-256-GCM on the token under ``<key_label>-wrap`` (generated non-extractable on
        first use): the wrapped secret is readable only through this token and PIN."""
        label = f"{self.key_label}-wrap"
        with self._lock:
            try:
                key = self._session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)
            except pkcs11.NoSuchKey:
                key = self._session.generate_key(KeyType.AES, 256, label=label, store=True,
                                                 template=_PRIVATE)
        return TokenWrap(key, self._lock, f"{self.token_label}/{label}")

    def describe(self) -> dict:
        attrs = self.private_key_attributes()
        return {"backend": "pkcs11", "module": self.module, "token_label": self.token_label,
                "token_model": self._token.model, "manufacturer": self._token.manufacturer_id,
                "key_label": f"{self.key_label}.{max(self._keys)}", "key_id": self.key_id,
                "algorithm": self.algorithm, "keys": len(self._keys),
                "private_key_attributes": attrs,
                "non_extractable": not attrs["extractable"] and attrs["sensitive"]}

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None


class TokenWrap(KeyWrap):
    """AES-256-GCM computed on the token; the AES key never leaves it."""

    def __init__(self, key, lock: threading.Lock, where: str):
        self._key, self._lock, self.where = key, lock, where

    def wrap(self, secret: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        with self._lock:
            return nonce + self._key.encrypt(secret, mechanism=Mechanism.AES_GCM,
                                             mechanism_param=GCMParams(nonce, context, 128))

    def unwrap(self, blob: bytes, context: bytes) -> bytes:
        try:
            with self._lock:
                return self._key.decrypt(blob[12:], mechanism=Mechanism.AES_GCM,
                                         mechanism_param=GCMParams(blob[:12], context, 128))
        except pkcs11.PKCS11Error:
            raise SignatureInvalid("the wrapped key does not decrypt on the token (altered, "
                                   "or another token)") from None

    def describe(self) -> str:
        return f"AES-256-GCM on the PKCS#11 token, key {self.where} (non-extractable)"
