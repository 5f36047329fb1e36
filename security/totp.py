"""TOTP second factor (RFC 6238 over cryptography's implementation) with replay protection.

Use cases::

    secret = new_secret()
    uri = provisioning_uri(secret, "analyst-001")      # otpauth://totp/uqo:analyst-001?...
    step = match_step(secret, "492039", now)          # the 30 s step it matched, or None
    if step is None or step <= user.last_totp_step:    # wrong, or used before: refuse
        ...

cryptography's ``TOTP.verify`` accepts only the current step; ``match_step`` also tries
``window`` steps either side (clock drift) and returns which one matched, so the caller can
refuse any step at or before the last one used (RFC 6238 §5.2: a code is accepted once).
"""

from __future__ import annotations

import os
import re

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from .errors import InvalidArgument

STEP_S = 30
DIGITS = 6
# ASCII digits only: ``\d`` would also match other scripts' digits (full-width "１２３"),
# which then fail to encode as ASCII further down.
_CODE = re.compile(r"[0-9]{6}", re.ASCII)


def new_secret() -> bytes:
    """A fresh 20-byte TOTP key (RFC 4226 recommends 160 bits)."""
    return os.urandom(20)


def _totp(secret: bytes) -> TOTP:
    # SHA-1 is what every authenticator app implements for otpauth URIs; HMAC-SHA1 stays sound.
    return TOTP(secret, DIGITS, SHA1(), STEP_S, enforce_key_length=True)


def provisioning_uri(secret: bytes, account: str, issuer: str = "uqo") -> str:
    return _totp(secret).get_provisioning_uri(account, issuer)


def code_at(secret: bytes, when: float) -> str:
    """The code an authenticator shows at ``when`` (epoch seconds)."""
    return _totp(secret).generate(int(when)).decode("ascii")


def match_step(secret: bytes, code, now: float, window: int = 1) -> int | None:
    """The time step (``floor(t / 30)``) in ``[now-window, now+window]`` whose code equals
    ``code``, or None. Malformed codes (not six digits) raise ``InvalidArgument``."""
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise InvalidArgument("mfa_token", "must be a string of 6 digits")
    totp, current = _totp(secret), int(now) // STEP_S
    found = None
    for step in range(current - window, current + window + 1):
        try:
            totp.verify(code.encode("ascii"), step * STEP_S)
        except InvalidToken:
            continue
        found = step  # no early exit: every candidate costs the same
    return found
