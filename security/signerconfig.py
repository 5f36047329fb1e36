"""Open the signer a deployment is configured for: a PKCS#11 token, or the software keystore.

Use cases::

    signer = open_signer("uqo-data")                                   # keystore (key file)
    signer = open_signer("uqo-data", passphrase=b"...")                # keystore, passphrase
    signer = open_signer("uqo-data", hsm_module="/usr/lib/softhsm/libsofthsm2.so",
                         hsm_token="uqo", hsm_pin="1234")              # PKCS#11

Secrets (PIN, passphrase) are passed in by the caller; the command line reads them from
environment variables it names, never from arguments (which other users can see in ``ps``).
"""

from __future__ import annotations

import os

from .errors import InvalidArgument
from .signing import ECDSA_P256, ED25519, Signer
from .softkeys import KEYSTORE_FILE, SoftwareSigner


def open_signer(data_dir, *, hsm_module: str | None = None, hsm_token: str | None = None,
                hsm_pin: str | None = None, key_label: str = "uqo-signing",
                algorithm: str | None = None, passphrase: bytes | None = None) -> Signer:
    if hsm_module is not None:
        if not hsm_token:
            raise InvalidArgument("hsm_token", "a PKCS#11 module needs the token label")
        if not hsm_pin:
            raise InvalidArgument("hsm_pin", "a PKCS#11 token needs its user PIN")
        from .pkcs11keys import Pkcs11Signer

        return Pkcs11Signer(hsm_module, hsm_token, hsm_pin, key_label,
                            algorithm or ECDSA_P256)
    if passphrase is not None:
        return SoftwareSigner.open(os.path.join(os.fspath(data_dir), KEYSTORE_FILE), passphrase,
                                   algorithm or ED25519, passphrase_source="supplied passphrase")
    return SoftwareSigner.open_default(data_dir, algorithm or ED25519)
