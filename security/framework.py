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
    fw.accounts.set_disabled("analyst-001", True, actor="admin")   # its tokens: refused now
    fw.security_events_24h()          # int
    fw.recent_security_events(20)     # [{seq, ts, kind, subject, outcome, detail}], newest first
    fw.close()

``authenticate_user`` / ``authorize_access`` answer ``(False, None)`` / ``(False, reason)``;
``login`` / ``require_access`` raise the explicit exception instead. Every login, decision,
revocation, key rotation and user change is appended to the audit log before the call returns
(from a single writer thread, off the event loop); unauthenticated refusals (bad tokens) are
counted and sampled (``uqo.security.auditing``). Token issuance is the key use of a login and
is recorded in its record (token id, key id); checkpoint signatures are the checkpoint file,
countersigned with ML-DSA-65 (``uqo.security.pqsign``) and, given ``witness``, copied to a file
outside the data directory.

The parts, one job each: ``AuditTrail`` (auditing.py), ``Accounts`` (accounts.py),
``Authenticator`` (authn.py), ``TokenService`` (tokens.py), ``decide`` (policy.py).
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

from uqo.fsutil import atomic_write, ensure_private_dir

from .accounts import Accounts
from .auditing import AuditTrail
from .auditlog import AuditLog
from .authn import Authenticator
from .enrol import Enrolment
from .errors import AccessDenied, AuthenticationError, SecurityError, TokenInvalid
from .levels import Role
from .policy import Decision, decide
from .pqsign import open_countersigner
from .revocation import RevocationList
from .settings import SETTINGS_FILE, SecuritySettings, settings_to_json
from .signing import PublicKeyInfo, Signer
from .softkeys import SoftwareSigner
from .tokens import Credential, TokenService

REVOKED_FILE, LOCKOUT_FILE = "revoked.json", "lockouts.json"


class SecurityFramework:
    """Users, sessions, decisions and the audit log of one data directory (see the module
    docstring). Open one per process per directory; ``close()`` when done."""

    def __init__(self, data_dir, signer: Signer | None = None,
                 settings: SecuritySettings | None = None, *, clock=time.time,
                 witness: str | None = None, countersign: bool = True,
                 owns_signer: bool = False):
        self.data_dir = ensure_private_dir(data_dir)
        self.settings, self.clock = settings or SecuritySettings(), clock
        self._owns_signer = signer is None or owns_signer
        self.signer = signer or SoftwareSigner.open_default(self.data_dir)
        from .users import UserStore

        self.users = UserStore(os.path.join(self.data_dir, "users.json"))
        counter = open_countersigner(self.data_dir, self.signer) if countersign else None
        self.audit = AuditLog(self.data_dir, self.signer,
                              checkpoint_every=self.settings.checkpoint_every,
                              retention_s=self.settings.retention_s, clock=clock,
                              countersigner=counter, witness=witness)
        self.trail = AuditTrail(self.audit, self.settings.auth, clock)
        self.local_sessions = RevocationList(os.path.join(self.data_dir, REVOKED_FILE), clock)
        self.tokens = TokenService(self.signer, self.local_sessions,
                                   self.settings.auth.token_ttl_s, clock)
        self._cpu = ThreadPoolExecutor(2, thread_name_prefix="uqo-argon2")
        self.authn = Authenticator(self.users, self.tokens, self.settings.auth,
                                   self.settings.argon, self._cpu, clock, self._on_lockout,
                                   os.path.join(self.data_dir, LOCKOUT_FILE))
        self.accounts = Accounts(self.users, self.trail, self.local_sessions, self.authn.gate,
                                 self.settings, clock)
        self.login_listeners: list = []      # called with each credential a login issues
        self._peer_cache: dict[str, Credential] = {}
        self._record_settings()

    @classmethod
    def for_tests(cls, data_dir, signer: Signer | None = None, clock=time.time,
                  **overrides) -> SecurityFramework:
        """Light Argon2id parameters (``SecuritySettings.for_tests``), everything else real."""
        return cls(data_dir, signer, SecuritySettings.for_tests(**overrides), clock=clock)

    def use_sessions(self, sessions) -> None:
        """Take epochs and revocations from ``sessions`` (the control plane's replicated
        state) instead of the local file; see ``uqo.security.revocation``."""
        self.tokens.sessions = sessions
        self._peer_cache.clear()

    # -- audit ---------------------------------------------------------------------------------
    @property
    def events(self):
        return self.trail.events

    def _on_lockout(self, name: str, source: str, gate) -> None:
        self.trail.background("auth.lockout", name, "failure",
                              {"source": source, "networks": gate.locked(name, self.clock())})

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
            self.trail.record("config.settings", None, "info", {"settings": current,
                                                                "first": previous is None})

    # -- users (see Accounts for the whole set) ------------------------------------------------
    def add_user(self, user_id, **kw) -> Enrolment:
        return self.accounts.add(user_id, **kw)

    def remove_user(self, user_id: str, actor: str | None = None, bump: bool = True) -> None:
        self.accounts.remove(user_id, actor, bump)
        self._peer_cache.pop(user_id, None)

    def unlock_user(self, user_id: str, actor: str | None = None) -> int:
        return self.accounts.unlock(user_id, actor)

    def set_disabled(self, user_id: str, disabled: bool, actor: str | None = None,
                     bump: bool = True) -> None:
        self.accounts.set_disabled(user_id, disabled, actor, bump)
        self._peer_cache.pop(user_id, None)

    # -- authentication ------------------------------------------------------------------------
    async def login(self, user_id, credentials, source_ip, context=None) -> Credential:
        """Authenticate or raise an ``AuthenticationError`` subclass; audited either way."""
        try:
            cred = await self.authn.login(user_id, credentials, source_ip, context or {})
        except SecurityError as exc:
            await self.trail.record_async("auth.login", str(user_id)[:128], "failure",
                                          {"source": str(source_ip)[:64], "code": exc.code,
                                           "reason": str(exc)})
            raise
        await self.trail.record_async("auth.login", cred.user_id, "success",
                                      {"source": cred.source_ip, "method": cred.method,
                                       "level": cred.level.name, "token_id": cred.token_id,
                                       "key_id": self.signer.key_id})
        for listener in self.login_listeners:
            listener(cred)
        return cred

    async def authenticate_user(self, user_id, credentials, source_ip, context=None)\
            -> tuple[bool, Credential | None]:
        """The seed's call: ``(True, credential)`` or ``(False, None)``; the reason is audited."""
        try:
            return True, await self.login(user_id, credentials, source_ip, context)
        except SecurityError:
            return False, None

    def verify_token(self, token) -> Credential:
        """The credential of a bearer token; a refused token is counted (and sampled into
        the audit log, see ``AuditTrail.unauthenticated``) and raises."""
        try:
            return self.tokens.verify(token)
        except TokenInvalid as exc:
            self.trail.unauthenticated("auth.token", {"code": exc.code, "reason": str(exc)})
            raise

    def credential_for_agent_certificate(self, agent_id: str) -> Credential:
        """A session for an agent identified by a verified client certificate: the agent must
        be enrolled (role agent, enabled). Cached until a minute before expiry, or until the
        agent's sessions are revoked."""
        cached = self._peer_cache.get(agent_id)
        if cached is not None and cached.expires_at - 60 > self.clock() and \
                cached.epoch == self.tokens.sessions.epoch(agent_id):
            return cached
        user = self.users.get(agent_id)
        access = self.tokens.sessions.access(agent_id)
        if user is None or user.disabled or user.role is not Role.AGENT or \
                (access is not None and access.disabled):
            self.trail.unauthenticated("auth.certificate", {"code": "unknown_agent",
                                                            "reason": "not an enrolled agent"},
                                       actor=agent_id)
            raise AuthenticationError(f"certificate identity {agent_id!r} is not an enrolled "
                                      f"agent")
        user = self.authn.effective(user)          # clearance as the replicated state has it
        cred = self.tokens.issue(user, user.clearance, "client-certificate", None)
        self._peer_cache[agent_id] = cred
        self.trail.background("auth.certificate", agent_id, "success",
                              {"token_id": cred.token_id, "key_id": self.signer.key_id})
        return cred

    async def revoke(self, credential: Credential, actor: str | None = None) -> None:
        self.tokens.revoke(credential)
        self._peer_cache.pop(credential.user_id, None)
        await self.trail.record_async("auth.revoke", actor, "success",
                                      {"user": credential.user_id,
                                       "token_id": credential.token_id})

    # -- authorisation -------------------------------------------------------------------------
    async def authorize_access(self, credential, resource, action, context=None)\
            -> tuple[bool, str]:
        """The seed's call: ``(allowed, reason)``. ``credential`` is a ``Credential`` or a
        bearer token; its signature, expiry and revocation are checked again here."""
        decision, actor = self._decide(credential, resource, action, context)
        await self.audit_decision(decision, actor, resource, action, context)
        return decision.allowed, decision.reason

    async def audit_decision(self, decision: Decision, actor, resource, action,
                             context=None) -> None:
        detail = {"resource": str(resource)[:256], "action": str(action)[:64],
                  "rule": decision.rule, "reason": decision.reason}
        if isinstance(context, dict) and context.get("source") is not None:
            detail["source"] = str(context["source"])[:64]
        await self.trail.record_async("authz.decision", actor,
                                      "granted" if decision.allowed else "denied", detail)

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
        self.trail.record("key.rotate", actor, "success", {"old_key_id": old,
                                                           "key_id": info.key_id,
                                                           "algorithm": info.algorithm})
        self.audit.checkpoint()
        return info

    def security_events_24h(self) -> int:
        return self.trail.events.count()

    def recent_security_events(self, limit: int = 20) -> list[dict]:
        """The newest audited security events, newest first (``AuditTrail.recent_events``)."""
        return self.trail.recent_events(limit)

    def prune_audit(self, now: float | None = None) -> int:
        return self.audit.prune(now)

    def close(self) -> None:
        """Wait for queued audit writes, sign the tail, close the log (and an owned signer)."""
        self.trail.close()
        self._cpu.shutdown(wait=True)
        self.audit.close()
        if self._owns_signer:
            self.signer.close()
