"""Short-lived session credentials signed by the orchestrator's key, verified on every request.

Use cases::

    service = TokenService(signer, RevocationList(path), ttl_s=900)
    cred = service.issue(user, level=SecurityLevel.SECRET, method="password+totp",
                         source="10.0.1.100")
    service.verify(cred.token)     # Credential; TokenInvalid / TokenExpired / TokenRevoked
    service.revoke(cred)           # persisted until the token would have expired anyway

A token is ``uqo1.<base64url payload>.<base64url signature>``; the signature covers
``uqo-session-v1\\n`` + payload (domain-separated from audit checkpoints signed by the same key).
The payload is JSON: ``jti, sub, role, clr, lvl, cmp, iat, exp, kid, amr, src``.
Hand-written rather than JWT: the signature must come from the ``Signer`` (an HSM key that never
leaves the token), which JWT libraries do not take; the format is ~30 lines and fully tested.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass

from uqo.fsutil import atomic_write

from .errors import SignatureInvalid, TokenExpired, TokenInvalid, TokenRevoked
from .levels import Role, SecurityLevel
from .signing import PublicKeyInfo, Signer, verify_signature

PREFIX = "uqo1"
DOMAIN = b"uqo-session-v1\n"
MAX_TOKEN_LEN = 4096


@dataclass(frozen=True)
class Credential:
    """An authenticated principal for one session. ``level`` is the session's security level
    (at most ``clearance``); ``method`` how it authenticated; ``token`` the bearer string."""

    token: str
    token_id: str
    user_id: str
    role: Role
    clearance: SecurityLevel
    level: SecurityLevel
    compartments: frozenset
    issued_at: float
    expires_at: float
    method: str
    source_ip: str | None = None

    def __repr__(self) -> str:  # never print the bearer token
        return (f"Credential(user_id={self.user_id!r}, role={self.role.value}, "
                f"level={self.level.name}, expires_at={self.expires_at:.0f})")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RevocationList:
    """Revoked token ids with their expiry, in a JSON file; expired entries are dropped."""

    def __init__(self, path: str | os.PathLike | None, clock=time.time):
        self.path, self.clock = (os.fspath(path) if path else None), clock
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()
        if self.path and os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as fh:
                self._revoked = {k: float(v) for k, v in json.load(fh).items()}

    def revoke(self, token_id: str, expires_at: float) -> None:
        with self._lock:
            now = self.clock()
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}
            self._revoked[token_id] = expires_at
            if self.path:
                atomic_write(self.path, json.dumps(self._revoked).encode())

    def __contains__(self, token_id: str) -> bool:
        return token_id in self._revoked


class TokenService:
    def __init__(self, signer: Signer, revocations: RevocationList, ttl_s: float = 900.0,
                 clock=time.time):
        self.signer, self.revocations, self.ttl_s, self.clock = signer, revocations, ttl_s, clock
        self._keys: dict[str, PublicKeyInfo] = {}

    def issue(self, user, level: SecurityLevel, method: str, source: str | None) -> Credential:
        now = self.clock()
        payload = {"jti": secrets.token_urlsafe(16), "sub": user.user_id,
                   "role": user.role.value, "clr": int(user.clearance), "lvl": int(level),
                   "cmp": sorted(user.compartments), "iat": round(now, 3),
                   "exp": round(now + self.ttl_s, 3), "kid": self.signer.key_id,
                   "amr": method, "src": source}
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        token = f"{PREFIX}.{_b64(body)}.{_b64(self.signer.sign(DOMAIN + body))}"
        return self._credential(token, payload)

    def verify(self, token) -> Credential:
        """The credential a token carries, after checking its signature, expiry and
        revocation. Raises a ``TokenInvalid`` subclass naming what failed."""
        payload, body, sig = self._parse(token)
        key = self._key(payload.get("kid"))
        try:
            verify_signature(key.public_key_pem, key.algorithm, DOMAIN + body, sig)
        except SignatureInvalid:
            raise TokenInvalid("token signature does not verify") from None
        now = self.clock()
        if payload["exp"] <= now:
            raise TokenExpired(f"token expired {now - payload['exp']:.0f} s ago")
        if payload["iat"] > now + 5:
            raise TokenInvalid("token issued in the future")
        if payload["jti"] in self.revocations:
            raise TokenRevoked("token was revoked")
        return self._credential(token, payload)

    def revoke(self, credential: Credential) -> None:
        self.revocations.revoke(credential.token_id, credential.expires_at)

    @staticmethod
    def _parse(token):
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LEN:
            raise TokenInvalid("token must be a string of at most 4096 characters")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            raise TokenInvalid("not a uqo session token")
        try:
            body, sig = _unb64(parts[1]), _unb64(parts[2])
            payload = json.loads(body)
            for name, kind in (("exp", (int, float)), ("iat", (int, float)), ("jti", str),
                               ("sub", str)):
                if not isinstance(payload[name], kind):
                    raise TypeError(name)
        except (ValueError, KeyError, TypeError):
            raise TokenInvalid("token payload is malformed") from None
        return payload, body, sig

    def _key(self, kid) -> PublicKeyInfo:
        if kid not in self._keys:
            self._keys = {k.key_id: k for k in self.signer.public_keys()}
        if kid not in self._keys:
            raise TokenInvalid(f"token signed by unknown key {kid!r}")
        return self._keys[kid]

    @staticmethod
    def _credential(token: str, p: dict) -> Credential:
        try:
            return Credential(token, p["jti"], p["sub"], Role(p["role"]),
                              SecurityLevel(p["clr"]), SecurityLevel(p["lvl"]),
                              frozenset(p["cmp"]), float(p["iat"]), float(p["exp"]), p["amr"],
                              p.get("src"))
        except (ValueError, KeyError, TypeError):
            raise TokenInvalid("token payload is malformed") from None

