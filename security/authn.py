"""The login procedure: rate limits, allow-lists, lockout, Argon2id, TOTP, session level.

Use cases::

    auth = Authenticator(users, tokens, policy, argon, executor, clock, on_lockout=callback,
                         lockout_path="lockouts.json")
    cred = await auth.login("analyst-001", {"password": pw, "mfa_token": "492039"},
                            "10.0.1.100", {"clearance_required": "SECRET"})

Order of checks (each raises its ``AuthenticationError`` subclass):

1. the source address parses and has attempts left in its bucket (``RateLimited``), and lies
   in the site allow-list (``SourceNotAllowed``);
2. the credentials are a dict with a string password (``InvalidCredentials``);
3. the lockout gate for (the name tried, the source's network) (``AccountLocked``): the same
   for a name no account has, so a lockout tells nothing about which names exist;
4. the account exists, is enabled (here and in the replicated state, ``Sessions.access``) and
   the source lies in its own allow-list; if not, a dummy hash is checked anyway so the answer
   takes as long as for a real account (``InvalidCredentials``, same message as a bad
   password; an account allow-list refusal is ``SourceNotAllowed``, shown outside as the same);
5. the password (off the event loop), then the TOTP code for accounts with one (``MfaInvalid``;
   ``MfaReplayed`` for a code at or before the last step used); both subclass
   ``InvalidCredentials``; every failure in 3-5 counts toward the lockout;
6. ``context["clearance_required"]`` (the session level) must not exceed the clearance
   (``InsufficientClearance``).

Every refused login answers no sooner than ``AuthPolicy.failure_floor_s`` after it began, so a
known and an unknown name, a locked and an open one, take the same time. The TOTP check and the
replay mark happen together with no ``await`` between them, so two concurrent logins with one
code cannot both pass.
"""

from __future__ import annotations

import asyncio
import dataclasses

from .errors import (
    AuthenticationError,
    InsufficientClearance,
    InvalidArgument,
    InvalidCredentials,
    MfaInvalid,
    MfaReplayed,
    SourceNotAllowed,
)
from .levels import SecurityLevel, parse_level
from .limits import AttemptGate, SourceLimiter, check_source, parse_ip
from .passwords import hash_password, verify_password
from .settings import AuthPolicy
from .totp import match_step
from .users import UserStore

_BAD = "invalid user or password"


class Authenticator:
    def __init__(self, users: UserStore, tokens, policy: AuthPolicy, argon, executor, clock,
                 on_lockout=None, lockout_path: str | None = None):
        self.users, self.tokens, self.policy, self.argon = users, tokens, policy, argon
        self.executor, self.clock, self.on_lockout = executor, clock, on_lockout
        self.limiter = SourceLimiter(policy.source_burst, policy.source_refill_per_s)
        self.gate = AttemptGate(policy.max_failures, policy.lockout_s, lockout_path)
        self._dummy: str | None = None

    async def _verify(self, password: str, phc: str) -> bool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, verify_password, password, phc)

    async def _dummy_check(self, password: str) -> None:
        if self._dummy is None:
            self._dummy = hash_password("uqo-dummy-password", self.argon)
        await self._verify(password, self._dummy)

    async def login(self, user_id, credentials, source_ip, context):
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            return await self._login(user_id, credentials, source_ip, context)
        except AuthenticationError:
            await asyncio.sleep(max(0.0, started + self.policy.failure_floor_s - loop.time()))
            raise

    async def _login(self, user_id, credentials, source_ip, context):
        source = str(parse_ip(source_ip))
        self.limiter.take(source, self.clock())
        check_source(source, self.policy.allowed_sources, "site")
        if not isinstance(credentials, dict) or not isinstance(credentials.get("password"), str):
            raise InvalidCredentials("credentials must be a dict with a string 'password'")
        if not isinstance(context, dict):
            raise InvalidArgument("context", f"must be a dict, got {type(context).__name__}")
        name = user_id if isinstance(user_id, str) else repr(user_id)[:128]
        key = self.gate.key(name[:128], source)
        self.gate.begin(key, self.clock())
        ok, user = False, None
        try:
            user, method = await self._check(name, credentials, source)
            ok = True
        finally:
            if self.gate.end(key, ok, self.clock()) and self.on_lockout:
                self.on_lockout(name, source, self.gate)
            if ok:
                self.users.save(user)             # the TOTP replay mark
        user = self.effective(user)
        level = parse_level(context.get("clearance_required", user.clearance),
                            "context.clearance_required")
        if level > user.clearance:
            raise InsufficientClearance(f"{user.user_id!r} does not hold clearance {level.name}")
        return self.tokens.issue(user, level, method, source)

    async def _check(self, name: str, credentials: dict, source: str):
        user = self.users.get(name)
        access = self.tokens.sessions.access(name) if user is not None else None
        if user is None or user.disabled or (access is not None and access.disabled):
            await self._dummy_check(credentials["password"])
            raise InvalidCredentials(_BAD)
        try:
            check_source(source, user.allowed_sources, "account")
        except SourceNotAllowed:
            await self._dummy_check(credentials["password"])
            raise
        return user, await self._factors(user, credentials)

    def effective(self, user):
        """The account as the replicated state has it (clearance or compartments changed
        through the service on any replica win over this node's store)."""
        access = self.tokens.sessions.access(user.user_id)
        if access is None:
            return user
        changes = {}
        if access.clearance is not None:
            changes["clearance"] = SecurityLevel(access.clearance)
        if access.compartments is not None:
            changes["compartments"] = frozenset(access.compartments)
        return dataclasses.replace(user, **changes) if changes else user

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
