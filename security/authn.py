"""The login procedure: rate limits, allow-lists, lockout, Argon2id, TOTP, session level.

Use cases::

    auth = Authenticator(users, tokens, policy, executor, clock, on_lockout=callback)
    cred = await auth.login("analyst-001", {"password": pw, "mfa_token": "492039"},
                            "10.0.1.100", {"clearance_required": "SECRET"})

Order of checks (each raises its ``AuthenticationError`` subclass):

1. the source address parses and has attempts left in its bucket (``RateLimited``), and lies
   in the site allow-list (``SourceNotAllowed``);
2. the credentials are a dict with a string password (``InvalidCredentials``);
3. the account exists and is enabled; if not, a dummy hash is checked anyway so the answer
   takes as long as for a real account (``InvalidCredentials``, same message as a bad password);
4. the account's own allow-list (``SourceNotAllowed``; not counted toward lockout);
5. the lockout gate (``AccountLocked``), then the password (off the event loop), then the TOTP
   code for accounts with one (``MfaInvalid``; ``MfaReplayed`` for a code at or before the
   last step used); each failure here counts toward the lockout;
6. ``context["clearance_required"]`` (the session level) must not exceed the clearance
   (``InsufficientClearance``).

The TOTP check and the replay mark happen together with no ``await`` between them, so two
concurrent logins with one code cannot both pass.
"""

from __future__ import annotations

import asyncio

from .errors import (
    InsufficientClearance,
    InvalidArgument,
    InvalidCredentials,
    MfaInvalid,
    MfaReplayed,
)
from .levels import parse_level
from .limits import AttemptGate, SourceLimiter, check_source, parse_ip
from .passwords import hash_password, verify_password
from .settings import AuthPolicy
from .totp import match_step
from .users import UserStore

_BAD = "invalid user or password"


class Authenticator:
    def __init__(self, users: UserStore, tokens, policy: AuthPolicy, argon, executor, clock,
                 on_lockout=None):
        self.users, self.tokens, self.policy, self.argon = users, tokens, policy, argon
        self.executor, self.clock, self.on_lockout = executor, clock, on_lockout
        self.limiter = SourceLimiter(policy.source_burst, policy.source_refill_per_s)
        self.gate = AttemptGate(policy.max_failures, policy.lockout_s)
        self._dummy: str | None = None

    async def _verify(self, password: str, phc: str) -> bool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, verify_password, password, phc)

    async def _dummy_check(self, password: str) -> None:
        if self._dummy is None:
            self._dummy = hash_password("uqo-dummy-password", self.argon)
        await self._verify(password, self._dummy)

    async def login(self, user_id, credentials, source_ip, context):
        source = str(parse_ip(source_ip))
        self.limiter.take(source, self.clock())
        check_source(source, self.policy.allowed_sources, "site")
        if not isinstance(credentials, dict) or not isinstance(credentials.get("password"), str):
            raise InvalidCredentials("credentials must be a dict with a string 'password'")
        if not isinstance(context, dict):
            raise InvalidArgument("context", f"must be a dict, got {type(context).__name__}")
        user = self.users.get(user_id) if isinstance(user_id, str) else None
        if user is None or user.disabled:
            await self._dummy_check(credentials["password"])
            raise InvalidCredentials(_BAD)
        check_source(source, user.allowed_sources, "account")
        self.gate.begin(user, self.clock())
        ok = False
        try:
            method = await self._factors(user, credentials)
            ok = True
        finally:
            if self.gate.end(user, ok, self.clock()) and self.on_lockout:
                self.on_lockout(user, source)
            self.users.save(user)
        level = parse_level(context.get("clearance_required", user.clearance),
                            "context.clearance_required")
        if level > user.clearance:
            raise InsufficientClearance(f"{user.user_id!r} does not hold clearance {level.name}")
        return self.tokens.issue(user, level, method, source)

    async def _factors(self, user, credentials) -> str:
        if not await self._verify(credentials["password"], user.password_hash):
            raise InvalidCredentials(_BAD)
        if user.totp_secret is None:
            return "password"
        code = credentials.get("mfa_token")
        try:
            step = match_step(user.totp_secret, code, self.clock(), self.policy.totp_window)
        except InvalidArgument:
            raise MfaInvalid("mfa_token must be 6 digits") from None
        if step is None:
            raise MfaInvalid("wrong TOTP code")
        if step <= user.last_totp_step:
            raise MfaReplayed("this TOTP code (or a later one) was already used")
        user.last_totp_step = step
        return "password+totp"
