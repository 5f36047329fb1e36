"""The exceptions of ``uqo.security``: every refused check raises one of these, never ``assert``.

Use cases::

    try:
        cred = fw.verify_token(token)
    except TokenExpired:           # a subclass of AuthenticationError -> HTTP 401
        ...
    except SecurityError as exc:   # the root of everything below
        print(exc.code, exc)

``code`` is the machine-readable reason (stable; used in audit records and HTTP error bodies);
the message names the offending value.
"""

from __future__ import annotations


class SecurityError(Exception):
    """Root of every security refusal and failure."""

    code = "security_error"


class InvalidArgument(SecurityError, ValueError):
    """Bad input to a security call; ``field`` names the argument. Nothing was changed."""

    code = "invalid_argument"

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class AuthenticationError(SecurityError):
    """The caller could not be authenticated (HTTP 401)."""

    code = "unauthenticated"


class InvalidCredentials(AuthenticationError):
    """Unknown user, wrong password, or a disabled account (deliberately not told apart)."""

    code = "invalid_credentials"


class MfaInvalid(InvalidCredentials):
    """The TOTP code is missing, malformed or wrong (outside: ``invalid_credentials``)."""

    code = "mfa_invalid"


class MfaReplayed(InvalidCredentials):
    """The TOTP code (or an older one) was already used: a replay (outside:
    ``invalid_credentials``)."""

    code = "mfa_replayed"


class AccountLocked(AuthenticationError):
    """Too many failed attempts against this account; locked until ``until`` (epoch s)."""

    code = "account_locked"

    def __init__(self, message: str, until: float):
        super().__init__(message)
        self.until = until


class RateLimited(AuthenticationError):
    """Too many attempts from this source address."""

    code = "rate_limited"


class SourceNotAllowed(AuthenticationError):
    """The source address is outside the account's (or the site's) allow-list."""

    code = "source_not_allowed"


class InsufficientClearance(AuthenticationError):
    """The login asked for a clearance (``clearance_required``) the user does not hold."""

    code = "insufficient_clearance"


class TokenInvalid(AuthenticationError):
    """A session token that is malformed, unsigned, or signed by an unknown key."""

    code = "token_invalid"


class TokenExpired(TokenInvalid):
    code = "token_expired"


class TokenRevoked(TokenInvalid):
    code = "token_revoked"


class AccessDenied(SecurityError):
    """An authorisation decision said no (HTTP 403); ``reason`` is the decision's reason."""

    code = "forbidden"

    def __init__(self, reason: str, rule: str = "policy"):
        super().__init__(reason)
        self.reason, self.rule = reason, rule


class SignatureInvalid(SecurityError):
    """A signature does not verify under the given public key."""

    code = "signature_invalid"


class KeyStoreError(SecurityError):
    """The software keystore cannot be opened, decrypted or written."""

    code = "keystore_error"


class SignerError(SecurityError):
    """The signing backend (PKCS#11 module, token, key) is unavailable or misbehaved."""

    code = "signer_error"


class AuditError(SecurityError):
    """The audit log cannot be written, or an operation needs an intact log and it is not."""

    code = "audit_error"


class ProofError(SecurityError):
    """A Merkle inclusion or consistency proof is malformed or does not verify."""

    code = "proof_invalid"


UNIFORM = ("invalid_credentials", "invalid user or password")


def outward(exc: SecurityError) -> tuple[str, str]:
    """``(code, message)`` to show an unauthenticated caller. A wrong password, a wrong,
    malformed or replayed code, and a source outside the account's allow-list all read the
    same (``UNIFORM``): which one failed would confirm the password, or that the account
    exists. The precise code stays in the audit record."""
    if isinstance(exc, InvalidCredentials | SourceNotAllowed):
        return UNIFORM
    return exc.code, str(exc)
