"""Short-lived session credentials signed by the orchestrator's key, verified on every request.

Use cases::

    service = TokenService(signer, RevocationList(path), ttl_s=900)
    cred = service.issue(user, level=SecurityLevel.SECRET, method="password+totp",
                         source="10.0.1.100")
    service.verify(cred.token)     # Credential; TokenInvalid / TokenExpired / TokenRevoked
    service.revoke(cred)           # persisted until the token would have expired anyway
    service.sessions.bump(user.user_id)   # every token of the user issued so far: refused

A token is ``uqo1.<base64url payload>.<base64url signature>``; the signature covers
``uqo-session-v1\\n`` + payload (domain-separated from audit checkpoints signed by the same key).
The payload is JSON: ``jti, sub, role, clr, lvl, cmp, iat, exp, kid, amr, src``, ``uep`` (the
user's session epoch at issue, see ``uqo.security.revocation``) and ``net`` (the account's
source allow-list, so the policy can check each request's address against it).
Verification parses before it trusts: the payload must be a JSON object of at most
``MAX_TOKEN_LEN`` characters whose ``kid`` is a string; anything else is ``TokenInvalid``
(never an uncaught error). A verified signature is remembered per token string (a bounded
cache: an Ed25519 check costs ~0.1 ms a request); expiry, epoch and revocation are checked on
every call.
Hand-written rather than JWT: the signature must come from the ``Signer`` (an HSM key that never
leaves the token), which JWT libraries do not take; the format is ~30 lines and fully tested.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from dataclasses import dataclass

from .errors import SignatureInvalid, TokenExpired, TokenInvalid, TokenRevoked
from .levels import Role, SecurityLevel
from .revocation import RevocationList, Sessions
from .signing import PublicKeyInfo, Signer, verify_signature

PREFIX = "uqo1"
DOMAIN = b"uqo-session-v1\n"
MAX_TOKEN_LEN = 4096
VERIFIED_CACHE = 10_000   # token strings whose signature verified, kept for the next request
__all__ = ["Credential", "RevocationList", "TokenService"]


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
    epoch: int = 0
    allowed_sources: tuple = ()

    def __repr__(self) -> str:  # never print the bearer token
        return (f"Credential(user_id={self.user_id!r}, role={self.role.value}, "
                f"level={self.level.name}, expires_at={self.expires_at:.0f})")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenService:
    """Issues and verifies session tokens. ``sessions``: epochs and revoked ids (``Sessions``;
    a ``RevocationList`` file by default)."""

    def __init__(self, signer: Signer, sessions: Sessions, ttl_s: float = 900.0,
                 clock=time.time):
        self.signer, self.sessions, self.ttl_s, self.clock = signer, sessions, ttl_s, clock
        self._keys: dict[str, PublicKeyInfo] = {}
        self._verified: dict[str, dict] = {}

    @property
    def revocations(self) -> Sessions:      # the name before epochs existed
        return self.sessions

    def issue(self, user, level: SecurityLevel, method: str, source: str | None) -> Credential:
        now = self.clock()
        payload = {"jti": secrets.token_urlsafe(16), "sub": user.user_id,
                   "role": user.role.value, "clr": int(user.clearance), "lvl": int(level),
                   "cmp": sorted(user.compartments), "iat": round(now, 3),
                   "exp": round(now + self.ttl_s, 3), "kid": self.signer.key_id,
                   "amr": method, "src": source, "uep": self.sessions.epoch(user.user_id)}
        if user.allowed_sources:
            payload["net"] = list(user.allowed_sources)
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        token = f"{PREFIX}.{_b64(body)}.{_b64(self.signer.sign(DOMAIN + body))}"
        return self._credential(token, payload)

    def verify(self, token) -> Credential:
        """The credential a token carries, after checking its signature, expiry, epoch and
        revocation. Raises a ``TokenInvalid`` subclass naming what failed."""
        payload = self._verified.get(token) if isinstance(token, str) else None
        if payload is None:
            payload = self._verify_signature(token)
        now = self.clock()
        if payload["exp"] <= now:
            raise TokenExpired(f"token expired {now - payload['exp']:.0f} s ago")
        if payload["iat"] > now + 5:
            raise TokenInvalid("token issued in the future")
        if self.sessions.is_revoked(payload["jti"]):
            raise TokenRevoked("token was revoked")
        if payload.get("uep", 0) != self.sessions.epoch(payload["sub"]):
            raise TokenRevoked(f"the sessions of {payload['sub']!r} were revoked (account "
                               f"disabled, removed or changed)")
        return self._credential(token, payload)

    def _verify_signature(self, token) -> dict:
        payload, body, sig = self._parse(token)
        key = self._key(payload.get("kid"))
        try:
            verify_signature(key.public_key_pem, key.algorithm, DOMAIN + body, sig)
        except SignatureInvalid:
            raise TokenInvalid("token signature does not verify") from None
        self._credential(token, payload)          # every claim well-typed before it is kept
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified.clear()
        self._verified[token] = payload
        return payload

    def revoke(self, credential: Credential) -> None:
        self.sessions.revoke(credential.token_id, credential.expires_at)

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
            if not isinstance(payload, dict):
                raise TypeError("payload")
            for name, kind in (("exp", (int, float)), ("iat", (int, float)), ("jti", str),
                               ("sub", str), ("kid", str)):
                if not isinstance(payload[name], kind) or isinstance(payload[name], bool):
                    raise TypeError(name)
            if not isinstance(payload.get("uep", 0), int):
                raise TypeError("uep")
        # RecursionError: a deeply nested JSON payload; binascii.Error: bad base64
        except (ValueError, KeyError, TypeError, RecursionError, binascii.Error):
            raise TokenInvalid("token payload is malformed") from None
        return payload, body, sig

    def _key(self, kid: str) -> PublicKeyInfo:
        if kid not in self._keys:
            self._keys = {k.key_id: k for k in self.signer.public_keys()}
        if kid not in self._keys:
            raise TokenInvalid(f"token signed by unknown key {kid[:64]!r}")
        return self._keys[kid]

    @staticmethod
    def _credential(token: str, p: dict) -> Credential:
        try:
            nets = p.get("net", ())
            if not isinstance(nets, list | tuple) or not all(isinstance(n, str) for n in nets):
                raise TypeError("net")
            return Credential(token, p["jti"], p["sub"], Role(p["role"]),
                              SecurityLevel(p["clr"]), SecurityLevel(p["lvl"]),
                              frozenset(p["cmp"]), float(p["iat"]), float(p["exp"]), p["amr"],
                              p.get("src"), int(p.get("uep", 0)), tuple(nets))
        except (ValueError, KeyError, TypeError, OverflowError):
            raise TokenInvalid("token payload is malformed") from None
