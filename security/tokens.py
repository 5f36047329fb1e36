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
user's session epoch at issue, see ``uqo.security.revocation``), ``lep`` (the part of it
local to the issuing replica, when not 0) and ``net`` (the account's source allow-list, so the
policy can check each request's address against it). A token verifies at the replica whose
signer holds its ``kid``, or at any replica whose ``Sessions`` publishes that key
(``token_key(kid)``: the keys every replica logs into the replicated state).
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


def _local_epoch(sessions, user_id: str) -> int:
    """The part of the user's epoch only this replica has (``Sessions.local_epoch``; 0 for a
    standalone framework, where every change is local and counted in ``epoch``)."""
    local = getattr(sessions, "local_epoch", None)
    return 0 if local is None else local(user_id)


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
        local = _local_epoch(self.sessions, user.user_id)
        if local:
            payload["lep"] = local
        if user.allowed_sources:
            payload["net"] = list(user.allowed_sources)
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        token = f"{PREFIX}.{_b64(body)}.{_b64(self.signer.sign(DOMAIN + body))}"
        return self._credential(token, payload)

    def verify(self, token) -> Credential:
        """The credential a token carries, after checking its signature, expiry, epoch and
        revocation. Raises a ``TokenInvalid`` subclass naming what failed."""
        payload = self._verified.get(token) if isinstance(token, str) else None
        if payload is None or not self._known(payload["kid"]):   # a key withdrawn since
            payload = self._verify_signature(token)
        now = self.clock()
        if payload["exp"] <= now:
            raise TokenExpired(f"token expired {now - payload['exp']:.0f} s ago")
        if payload["iat"] > now + 5:
            raise TokenInvalid("token issued in the future")
        if self.sessions.is_revoked(payload["jti"]):
            raise TokenRevoked("token was revoked")
        if not self._epoch_ok(payload):
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

    def _epoch_ok(self, payload: dict) -> bool:
        """``uep`` is the user's epoch at issue: shared (replicated) + the issuer's local
        part (``lep``: offline changes not logged yet). A token issued here must carry this
        replica's whole epoch (taking local changes over into the shared state keeps the sum).
        One issued elsewhere must carry the shared epoch, and only a replica without local
        changes for the user takes it (they are in force there alone)."""
        user, epoch = payload["sub"], payload.get("uep", 0)
        if self._own(payload["kid"]):
            return epoch == self.sessions.epoch(user)
        local_here = _local_epoch(self.sessions, user)
        return (local_here == 0
                and epoch - payload.get("lep", 0) == self.sessions.epoch(user))

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
            for name in ("uep", "lep"):
                if not isinstance(payload.get(name, 0), int) or isinstance(payload.get(name),
                                                                           bool):
                    raise TypeError(name)
        # RecursionError: a deeply nested JSON payload; binascii.Error: bad base64
        except (ValueError, KeyError, TypeError, RecursionError, binascii.Error):
            raise TokenInvalid("token payload is malformed") from None
        return payload, body, sig

    def _own(self, kid: str) -> bool:
        if kid not in self._keys:
            self._keys = {k.key_id: k for k in self.signer.public_keys()}
        return kid in self._keys

    def _published(self, kid: str) -> PublicKeyInfo | None:
        """A key another replica published through the replicated state (``token_key`` of
        the control plane's ``Sessions``), or None."""
        lookup = getattr(self.sessions, "token_key", None)
        key = None if lookup is None else lookup(kid)
        if key is None:
            return None
        return PublicKeyInfo(key.key_id, key.algorithm, key.public_key_pem)

    def _known(self, kid: str) -> bool:
        return kid in self._keys or self._published(kid) is not None

    def _key(self, kid: str) -> PublicKeyInfo:
        if self._own(kid):
            return self._keys[kid]
        key = self._published(kid)
        if key is None:
            raise TokenInvalid(f"token signed by unknown key {kid[:64]!r}")
        return key

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
