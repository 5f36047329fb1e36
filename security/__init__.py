"""uqo.security: authentication with MFA, multilevel authorisation, signing keys (PKCS#11 or
an encrypted software keystore), a tamper-evident audit log, and TLS 1.3 with mutual TLS.

Use cases::

    from uqo.security import SecurityFramework, SecurityLevel
    fw = SecurityFramework("uqo-data")
    ok, cred = await fw.authenticate_user(user_id=..., credentials={...}, source_ip=...)
    ok, reason = await fw.authorize_access(credential=cred, resource=..., action=...,
                                           context={"classification": SecurityLevel.SECRET})

    from uqo.security.http import auth_middleware        # aiohttp
    from uqo.security.tls import server_context, client_context

Names load on first use, so ``import uqo.security`` stays light. This package imports nothing
of ``uqo.control`` or ``uqo.engine``.
"""

from __future__ import annotations

import importlib

from .errors import (
    AccessDenied,
    AccountLocked,
    AuditError,
    AuthenticationError,
    InsufficientClearance,
    InvalidArgument,
    InvalidCredentials,
    KeyStoreError,
    MfaInvalid,
    MfaReplayed,
    ProofError,
    RateLimited,
    SecurityError,
    SignatureInvalid,
    SignerError,
    SourceNotAllowed,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
)
from .levels import Role, SecurityLevel

_LAZY = {
    "SecurityFramework": "framework", "SecuritySettings": "settings", "AuthPolicy": "settings",
    "Argon2Params": "passwords", "Credential": "tokens", "Enrolment": "enrol",
    "Signer": "signing", "PublicKeyInfo": "signing", "verify_signature": "signing",
    "ECDSA_P256": "signing", "ED25519": "signing", "SoftwareSigner": "softkeys",
    "Pkcs11Signer": "pkcs11keys", "AuditLog": "auditlog", "VerifyReport": "auditverify",
    "verify_log": "auditverify", "Checkpoint": "checkpoint", "MerkleTree": "merkle",
    "Decision": "policy", "decide": "policy",
}
_SUBMODULES = {"http", "tls", "certs", "compliance", "softhsm", "merkle", "policy"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'uqo.security' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = [
    "ECDSA_P256",
    "ED25519",
    "AccessDenied",
    "AccountLocked",
    "Argon2Params",
    "AuditError",
    "AuditLog",
    "AuthPolicy",
    "AuthenticationError",
    "Checkpoint",
    "Credential",
    "Decision",
    "Enrolment",
    "InsufficientClearance",
    "InvalidArgument",
    "InvalidCredentials",
    "KeyStoreError",
    "MerkleTree",
    "MfaInvalid",
    "MfaReplayed",
    "Pkcs11Signer",
    "ProofError",
    "PublicKeyInfo",
    "RateLimited",
    "Role",
    "SecurityError",
    "SecurityFramework",
    "SecurityLevel",
    "SecuritySettings",
    "SignatureInvalid",
    "Signer",
    "SignerError",
    "SoftwareSigner",
    "SourceNotAllowed",
    "TokenExpired",
    "TokenInvalid",
    "TokenRevoked",
    "VerifyReport",
    "decide",
    "verify_log",
    "verify_signature",
]
