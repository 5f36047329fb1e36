"""``SecurityFramework``: the one object the control plane holds for security.

Use cases (the seed's calls work as written)::

    fw = SecurityFramework("uqo-data")                       # software keystore by default
    fw = SecurityFramework("uqo-data", signer=Pkcs11Signer(...))
    fw = SecurityFramework.for_tests(tmp_path)               # light Argon2id

    enrolment = fw.add_user("analyst-001", role="analyst", clearance="SECRET",
                            compartments=["INTEL"], password="...")   # .provisioning_uri
    authenticated, credential = await fw.authenticate_user(
        user_id="analyst-001", credentials={"password": "...", "mfa_token": "123456"},
        source_ip="10.0.1.100", context={"clearance_required": "SECRET"})
    authorized, reason = await fw.authorize_access(
        credential=credential, resource="classified-intelligence", action="analyze",
        context={"classification": SecurityLevel.SECRET, "compartment": "INTEL"})
    fw.verify_token(token)            # Credential, or a TokenInvalid subclass
    fw.security_events_24h()          # int
    fw.close()

``authenticate_user`` / ``authorize_access`` answer ``(False, None)`` / ``(False, reason)``;
``login`` / ``require_access`` raise the explicit exception instead. Every login, decision,
revocation, key rotation and user change is appended to the audit log before the call returns
(from a single writer thread, off the event loop). Token issuance is the key use of a login and
is recorded in its record (token id, key id); checkpoint signatures are the checkpoint file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from uqo.fsutil import atomic_write, ensure_private_dir

from .auditlog import AuditLog
from .authn import Authenticator
from .enrol import Enrolment, build_user
from .errors import AccessDenied, AuthenticationError, InvalidArgument, SecurityError, TokenInvalid
from .events import DAY_S, EVENT_OUTCOMES, EventCounter
from .levels import Role
from .policy import Decision, decide
from .settings import SETTINGS_FILE, SecuritySettings, settings_to_json
from .signing import PublicKeyInfo, Signer
from .softkeys import SoftwareSigner
from .tokens import Credential, RevocationList, TokenService
from .users import UserStore

_LOG = logging.getLogger(__name__)
MAX_QUEUED = 10_000  # background audit records waiting for the writer thread


class SecurityFramework:
    """Users, sessions, decisions and the audit log of one data directory (see the module
    docstring). Open one per process per directory; ``close()`` when done."""

    def __init__(self, data_dir, signer: Signer | None = None,
                 settings: SecuritySettings | None = None, *, clock=time.time):
        self.data_dir = ensure_private_dir(data_dir)
        self.settings, self.clock = settings or SecuritySettings(), clock
        self._owns_signer = signer is None
        self.signer = signer or SoftwareSigner.open_default(self.data_dir)
        self.users = UserStore(os.path.join(self.data_dir, "users.json"))
        self.audit = AuditLog(self.data_dir, self.signer,
                              checkpoint_every=self.settings.checkpoint_every,
                              retention_s=self.settings.retention_s, clock=clock)
        revoked = RevocationList(os.path.join(self.data_dir, "revoked.json"), clock)
        self.tokens = TokenService(self.signer, revoked, self.settings.auth.token_ttl_s, clock)
        self._io = ThreadPoolExecutor(1, thread_name_prefix="uqo-audit")
        self._cpu = ThreadPoolExecutor(2, thread_name_prefix="uqo-argon2")
        self.authn = Authenticator(self.users, self.tokens, self.settings.auth,
                                   self.settings.argon, self._cpu, clock, self._on_lockout)
        self.events = EventCounter(clock=clock)
        self.events.seed(self.audit.records_since(clock() - DAY_S))
        self._peer_cache: dict[str, Credential] = {}
        self._queued = self._dropped = 0
        self.max_queued = MAX_QUEUED
        self._queue_lock = threading.Lock()
        self._record_settings()

    @classmethod
    def for_tests(cls, data_dir, signer: Signer | None = None, clock=time.time,
                  **overrides) -> SecurityFramework:
        """Light Argon2id parameters (``SecuritySettings.for_tests``), everything else real."""
        return cls(data_dir, signer, SecuritySettings.for_tests(**overrides), clock=clock)

    # -- audit ---------------------------------------------------------------------------------
    def _audit(self, kind: str, actor, outcome: str, detail: dict, counted: bool = False) -> int:
        seq = self.audit.append(kind, actor, outcome, detail)
        if outcome in EVENT_OUTCOMES and not counted:
            self.events.add(self.clock())
        return seq

    async def _audit_async(self, kind: str, actor, outcome: str, detail: dict) -> int:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._io, self._audit, kind, actor, outcome, detail)

    def _audit_background(self, kind: str, actor, outcome: str, detail: dict) -> None:
        """For synchronous callers on the event loop (token checks): queued, not awaited.
        Under a flood more than ``max_queued`` records wait; further ones are counted (and
        the event counter still sees them) and the count is written with the next record."""
        if outcome in EVENT_OUTCOMES:
            self.events.add(self.clock())  # counted now, before the record is written
        with self._queue_lock:
            if outcome in EVENT_OUTCOMES and self._queued >= self.max_queued:
                self._dropped += 1
                return
            self._queued += 1
            if self._dropped:
                detail, self._dropped = {**detail, "not_recorded_before": self._dropped}, 0
        future = self._io.submit(self._audit, kind, actor, outcome, detail, True)
        future.add_done_callback(self._background_done)

    def _background_done(self, future) -> None:
        with self._queue_lock:
            self._queued -= 1
        if future.exception() is not None:
            _LOG.error("audit append failed: %r", future.exception())

    def _on_lockout(self, user, source: str) -> None:
        self._audit_background("auth.lockout", user.user_id, "failure",
                               {"source": source, "until": user.locked_until})

    def _record_settings(self) -> None:
        """Keep ``settings.json`` equal to the settings in force; a change is audited."""
        path = os.path.join(self.data_dir, SETTINGS_FILE)
        current = settings_to_json(self.settings)
        previous = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                previous = json.load(fh)
        if previous != current:
            atomic_write(path, json.dumps(current, indent=1, sort_keys=True).encode() + b"\n")
            self._audit("config.settings", None, "info", {"settings": current,
                                                          "first": previous is None})

    # -- users ---------------------------------------------------------------------------------
    def add_user(self, user_id, *, role, clearance, compartments=(), password=None,
                 allowed_sources=(), mfa: bool | None = None, actor: str | None = None)\
            -> Enrolment:
        """Enrol a user; returns the TOTP provisioning URI (and a generated agent password)."""
        user, enrolment = build_user(user_id, role=role, clearance=clearance,
                                     compartments=compartments, password=password,
                                     allowed_sources=allowed_sources, mfa=mfa,
                                     settings=self.settings, now=self.clock())
        self.users.add(user)
        self._audit("config.user_add", actor, "success",
                    {"user": user.user_id, "role": user.role.value,
                     "clearance": user.clearance.name, "compartments": sorted(user.compartments),
                     "mfa": user.totp_secret is not None,
                     "allowed_sources": list(user.allowed_sources)})
        return enrolment

    def remove_user(self, user_id: str, actor: str | None = None) -> None:
        self.users.remove(user_id)
        self._peer_cache.pop(user_id, None)
        self._audit("config.user_remove", actor, "success", {"user": user_id})

    def _known(self, user_id: str):
        user = self.users.get(user_id)
        if user is None:
            raise InvalidArgument("user_id", f"unknown user {user_id!r}")
        return user

    def unlock_user(self, user_id: str, actor: str | None = None) -> None:
        user = self._known(user_id)
        user.failures, user.locked_until = 0, 0.0
        self.users.save(user)
        self._audit("config.user_unlock", actor, "success", {"user": user_id})

    def set_disabled(self, user_id: str, disabled: bool, actor: str | None = None) -> None:
        """Disable (or re-enable) an account; a disabled account cannot log in."""
        user = self._known(user_id)
        user.disabled = bool(disabled)
        self.users.save(user)
        self._peer_cache.pop(user_id, None)
        self._audit("config.user_disable" if disabled else "config.user_enable", actor,
                    "success", {"user": user_id})

    # -- authentication ------------------------------------------------------------------------
    async def login(self, user_id, credentials, source_ip, context=None) -> Credential:
        """Authenticate or raise an ``AuthenticationError`` subclass; audited either way."""
        try:
            cred = await self.authn.login(user_id, credentials, source_ip, context or {})
        except SecurityError as exc:
            await self._audit_async("auth.login", str(user_id)[:128], "failure",
                                    {"source": str(source_ip)[:64], "code": exc.code,
                                     "reason": str(exc)})
            raise
        await self._audit_async("auth.login", cred.user_id, "success",
                                {"source": cred.source_ip, "method": cred.method,
                                 "level": cred.level.name, "token_id": cred.token_id,
                                 "key_id": self.signer.key_id})
        return cred

    async def authenticate_user(self, user_id, credentials, source_ip, context=None)\
            -> tuple[bool, Credential | None]:
        """The seed's call: ``(True, credential)`` or ``(False, None)``; the reason is audited."""
        try:
            return True, await self.login(user_id, credentials, source_ip, context)
        except SecurityError:
            return False, None

    def verify_token(self, token) -> Credential:
        """The credential of a bearer token; a refused token is audited and raises."""
        try:
            return self.tokens.verify(token)
        except TokenInvalid as exc:
            self._audit_background("auth.token", None, "failure", {"code": exc.code,
                                                                   "reason": str(exc)})
            raise

    def credential_for_agent_certificate(self, agent_id: str) -> Credential:
        """A session for an agent identified by a verified client certificate: the agent must
        be enrolled (role agent, enabled). Cached until a minute before expiry."""
        cached = self._peer_cache.get(agent_id)
        if cached is not None and cached.expires_at - 60 > self.clock():
            return cached
        user = self.users.get(agent_id)
        if user is None or user.disabled or user.role is not Role.AGENT:
            self._audit_background("auth.certificate", agent_id, "failure",
                                   {"reason": "not an enrolled agent"})
            raise AuthenticationError(f"certificate identity {agent_id!r} is not an enrolled "
                                      f"agent")
        cred = self.tokens.issue(user, user.clearance, "client-certificate", None)
        self._peer_cache[agent_id] = cred
        self._audit_background("auth.certificate", agent_id, "success",
                               {"token_id": cred.token_id, "key_id": self.signer.key_id})
        return cred

    async def revoke(self, credential: Credential, actor: str | None = None) -> None:
        self.tokens.revoke(credential)
        self._peer_cache.pop(credential.user_id, None)
        await self._audit_async("auth.revoke", actor, "success",
                                {"user": credential.user_id, "token_id": credential.token_id})

    # -- authorisation -------------------------------------------------------------------------
    async def authorize_access(self, credential, resource, action, context=None)\
            -> tuple[bool, str]:
        """The seed's call: ``(allowed, reason)``. ``credential`` is a ``Credential`` or a
        bearer token; its signature, expiry and revocation are checked again here."""
        decision, actor = self._decide(credential, resource, action, context)
        await self._audit_async("authz.decision", actor,
                                "granted" if decision.allowed else "denied",
                                {"resource": str(resource)[:256], "action": str(action)[:64],
                                 "rule": decision.rule, "reason": decision.reason})
        return decision.allowed, decision.reason

    async def require_access(self, credential, resource, action, context=None) -> Credential:
        """Like ``authorize_access`` but raises ``AccessDenied``; returns the credential."""
        allowed, reason = await self.authorize_access(credential, resource, action, context)
        if not allowed:
            raise AccessDenied(reason)
        return self._resolve(credential)

    def _resolve(self, credential) -> Credential:
        token = credential.token if isinstance(credential, Credential) else credential
        return self.tokens.verify(token)

    def _decide(self, credential, resource, action, context) -> tuple[Decision, str | None]:
        try:
            cred = self._resolve(credential)
        except TokenInvalid as exc:
            return Decision(False, f"denied (credential): {exc}", "credential"), None
        return decide(cred, resource, action, context), cred.user_id

    # -- keys, status, lifecycle ---------------------------------------------------------------
    def rotate_key(self, actor: str | None = None) -> PublicKeyInfo:
        """New signing key; tokens and checkpoints signed by old keys keep verifying."""
        old = self.signer.key_id
        self.audit.checkpoint()
        info = self.signer.rotate()
        self._audit("key.rotate", actor, "success", {"old_key_id": old, "key_id": info.key_id,
                                                     "algorithm": info.algorithm})
        self.audit.checkpoint()
        return info

    def security_events_24h(self) -> int:
        return self.events.count()

    def prune_audit(self, now: float | None = None) -> int:
        return self.audit.prune(now)

    def close(self) -> None:
        """Wait for queued audit writes, sign the tail, close the log (and an owned signer)."""
        self._io.shutdown(wait=True)
        self._cpu.shutdown(wait=True)
        self.audit.close()
        if self._owns_signer:
            self.signer.close()
