"""Enrolment: a validated ``User`` with an Argon2id hash and (for people) a TOTP secret.

Use cases::

    user, enrolment = build_user("analyst-001", role="analyst", clearance="SECRET",
                                 compartments=["INTEL"], password="...", settings=settings,
                                 now=time.time())
    enrolment.provisioning_uri      # otpauth://totp/uqo:analyst-001?secret=...&issuer=uqo
    enrolment.password              # generated for agents enrolled without one, else None

People (roles in ``AuthPolicy.mfa_roles``) must enrol a second factor; agents may
(``mfa=True``). An agent enrolled without a password gets a random 256-bit one, shown once.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from .errors import InvalidArgument
from .levels import Role, parse_level, parse_role
from .passwords import hash_password
from .settings import SecuritySettings, parse_networks
from .totp import new_secret, provisioning_uri
from .users import User, check_user_id, parse_compartments


@dataclass(frozen=True)
class Enrolment:
    user_id: str
    provisioning_uri: str | None
    totp_secret: str | None
    password: str | None

    def __repr__(self) -> str:  # secrets stay out of logs
        return f"Enrolment(user_id={self.user_id!r}, mfa={self.totp_secret is not None})"


def _password(password, role: Role, min_len: int) -> tuple[str, str | None]:
    if password is None:
        if role is not Role.AGENT:
            raise InvalidArgument("password", f"role {role.value} needs a password")
        generated = secrets.token_urlsafe(32)
        return generated, generated
    if not isinstance(password, str) or len(password) < min_len:
        raise InvalidArgument("password", f"must be a string of at least {min_len} characters")
    return password, None


def build_user(user_id, *, role, clearance, compartments=(), password=None,
               allowed_sources=(), mfa: bool | None = None, settings: SecuritySettings,
               now: float) -> tuple[User, Enrolment]:
    check_user_id(user_id)
    role = parse_role(role)
    clearance = parse_level(clearance, "clearance")
    comps = parse_compartments(compartments)
    sources = parse_networks(allowed_sources, "allowed_sources")
    needs_mfa = role in settings.auth.mfa_roles
    if mfa is None:
        mfa = needs_mfa
    if needs_mfa and not mfa:
        raise InvalidArgument("mfa", f"role {role.value} must enrol a second factor")
    password, generated = _password(password, role, settings.auth.min_password_length)
    secret = new_secret() if mfa else None
    user = User(user_id, role, clearance, comps, hash_password(password, settings.argon),
                secret, sources, created=now)
    uri = provisioning_uri(secret, user_id) if secret else None
    b32 = base64.b32encode(secret).decode() if secret else None
    return user, Enrolment(user_id, uri, b32, generated)
