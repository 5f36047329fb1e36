"""Account management: enrol, remove, disable, enable, unlock, change clearance, revoke.

Use cases (through ``SecurityFramework``, which holds one ``Accounts``)::

    fw.accounts.add("analyst-001", role="analyst", clearance="SECRET", password="...")
    fw.accounts.set_disabled("analyst-001", True, actor="admin")    # tokens refused at once
    fw.accounts.set_clearance("analyst-001", "CONFIDENTIAL", ["INTEL"], actor="admin")
    fw.accounts.revoke_sessions("analyst-001", actor="admin")       # every token, not the account
    fw.accounts.unlock("analyst-001", actor="admin")                # lockouts from every network
    fw.accounts.describe("analyst-001")                             # no secrets

Every change is audited before it returns. Each change but ``unlock`` also ends the user's
sessions: ``bump=True`` (the default) bumps the user's epoch in the local revocation file. A
server replicating its state does the bump through its log instead (so every replica agrees)
and passes ``bump=False``; the local file then only carries changes made while it was stopped,
which it takes over at start.
"""

from __future__ import annotations

from .enrol import Enrolment, build_user
from .errors import InvalidArgument
from .levels import parse_level
from .users import parse_compartments


class Accounts:
    def __init__(self, users, trail, local_sessions, gate, settings, clock):
        self.users, self.trail, self.local, self.gate = users, trail, local_sessions, gate
        self.settings, self.clock = settings, clock

    def known(self, user_id: str):
        user = self.users.get(user_id) if isinstance(user_id, str) else None
        if user is None:
            raise InvalidArgument("user_id", f"unknown user {user_id!r}")
        return user

    def _ended(self, user_id: str, bump: bool) -> None:
        if bump:
            self.local.bump(user_id)

    def add(self, user_id, *, role, clearance, compartments=(), password=None,
            allowed_sources=(), mfa: bool | None = None, actor: str | None = None,
            bump: bool = True) -> Enrolment:
        """Enrol a user; returns the TOTP provisioning URI (and a generated agent password).
        A name enrolled again never inherits the tokens of its earlier holder."""
        user, enrolment = self.build(user_id, {
            "role": role, "clearance": clearance, "compartments": compartments,
            "password": password, "allowed_sources": allowed_sources, "mfa": mfa})
        self.enrol(user, actor=actor, bump=bump)
        return enrolment

    def build(self, user_id, args: dict):
        """``(User, Enrolment)``, validated and hashed, stored nowhere yet: safe to run in
        another thread (Argon2id takes a while)."""
        return build_user(user_id, **args, settings=self.settings, now=self.clock())

    def enrol(self, user, actor: str | None = None, bump: bool = True) -> None:
        """Store a user from ``build`` (``InvalidArgument`` if the name is taken)."""
        self.users.add(user)
        self._ended(user.user_id, bump)
        self.trail.record("config.user_add", actor, "success",
                          {"user": user.user_id, "role": user.role.value,
                           "clearance": user.clearance.name,
                           "compartments": sorted(user.compartments),
                           "mfa": user.totp_secret is not None,
                           "allowed_sources": list(user.allowed_sources)})

    def remove(self, user_id: str, actor: str | None = None, bump: bool = True) -> None:
        self.known(user_id)
        self.users.remove(user_id)
        self._ended(user_id, bump)
        self.trail.record("config.user_remove", actor, "success", {"user": user_id})

    def unlock(self, user_id: str, actor: str | None = None) -> int:
        """Clear the user's lockouts (from every network); returns how many there were."""
        user = self.known(user_id)
        user.failures, user.locked_until = 0, 0.0
        self.users.save(user)
        cleared = self.gate.unlock(user_id)
        self.trail.record("config.user_unlock", actor, "success",
                          {"user": user_id, "locks": cleared})
        return cleared

    def set_disabled(self, user_id: str, disabled: bool, actor: str | None = None,
                     bump: bool = True) -> None:
        """Disable (or re-enable) an account; a disabled account cannot log in and its
        tokens are refused from now on."""
        user = self.known(user_id)
        user.disabled = bool(disabled)
        self.users.save(user)
        self._ended(user_id, bump)
        self.trail.record("config.user_disable" if disabled else "config.user_enable", actor,
                          "success", {"user": user_id})

    def set_clearance(self, user_id: str, clearance, compartments=None,
                      actor: str | None = None, bump: bool = True) -> None:
        """A new clearance (and, if given, compartments); tokens issued before are refused."""
        user = self.known(user_id)
        level = parse_level(clearance, "clearance")
        comps = user.compartments if compartments is None else parse_compartments(compartments)
        before = (user.clearance.name, sorted(user.compartments))
        user.clearance, user.compartments = level, comps
        self.users.save(user)
        self._ended(user_id, bump)
        self.trail.record("config.user_clearance", actor, "success",
                          {"user": user_id, "before": list(before),
                           "clearance": level.name, "compartments": sorted(comps)})

    def revoke_sessions(self, user_id: str, actor: str | None = None,
                        bump: bool = True) -> None:
        """End every session of ``user_id`` (the account stays usable: log in again)."""
        self.known(user_id)
        self._ended(user_id, bump)
        self.trail.record("auth.revoke_user", actor, "success", {"user": user_id})

    def describe(self, user_id: str) -> dict:
        return describe(self.known(user_id), self.gate, self.clock())

    def list(self) -> list[dict]:
        now = self.clock()
        return [describe(u, self.gate, now) for u in self.users.all()]


def describe(user, gate, now: float) -> dict:
    """A user record without its secrets (hash, TOTP key)."""
    return {"user_id": user.user_id, "role": user.role.value,
            "clearance": int(user.clearance), "compartments": sorted(user.compartments),
            "mfa": user.totp_secret is not None, "disabled": user.disabled,
            "allowed_sources": list(user.allowed_sources), "created": user.created,
            "locked_from": gate.locked(user.user_id, now)}
