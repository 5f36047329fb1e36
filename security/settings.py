"""Tunable security settings, validated on construction.

Use cases::

    SecuritySettings()                                  # strong defaults
    SecuritySettings.for_tests()                        # light Argon2id, same policy
    SecuritySettings(auth=AuthPolicy(max_failures=3))   # stricter lockout
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .errors import InvalidArgument
from .levels import Role
from .passwords import Argon2Params

SEVEN_YEARS_S = 7 * 365.25 * 86400
SETTINGS_FILE = "settings.json"  # the settings in force, kept in the data directory


def _positive(name: str, value, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        raise InvalidArgument(name, f"must be a positive {'int' if integer else 'number'}, "
                                    f"got {value!r}")


def parse_networks(cidrs, field_name: str) -> tuple[str, ...]:
    """Validated, normalised CIDR strings (``10.0.1.7`` reads as ``10.0.1.7/32``)."""
    if isinstance(cidrs, str):
        cidrs = (cidrs,)
    out = []
    for text in cidrs:
        try:
            out.append(str(ipaddress.ip_network(str(text), strict=False)))
        except ValueError:
            raise InvalidArgument(field_name, f"not an IP network: {text!r}") from None
    return tuple(out)


@dataclass(frozen=True)
class AuthPolicy:
    """Authentication policy.

    ``max_failures`` failed attempts lock an account for ``lockout_s``; each source address
    gets a bucket of ``source_burst`` attempts refilled at ``source_refill_per_s``; TOTP codes
    are accepted ``totp_window`` steps either side of now; session tokens live ``token_ttl_s``;
    roles in ``mfa_roles`` must enrol a second factor; ``allowed_sources`` (CIDRs) applies to
    every account, empty meaning any address; a refused login answers no sooner than
    ``failure_floor_s`` after it began (so every refusal takes the same time, longer than an
    Argon2id check); unauthenticated refusals (bad tokens) are written to the audit log at
    most ``audit_sample_per_s`` a second (``audit_sample_burst`` at once), the others
    counted."""

    max_failures: int = 5
    lockout_s: float = 900.0
    source_burst: int = 20
    source_refill_per_s: float = 0.2
    totp_window: int = 1
    token_ttl_s: float = 900.0
    min_password_length: int = 12
    mfa_roles: frozenset = frozenset({Role.ADMIN, Role.OPERATOR, Role.ANALYST})
    allowed_sources: tuple = ()
    failure_floor_s: float = 0.4
    audit_sample_per_s: float = 1.0
    audit_sample_burst: int = 10

    def __post_init__(self):
        if isinstance(self.failure_floor_s, bool) or not isinstance(
                self.failure_floor_s, int | float) or not 0 <= self.failure_floor_s <= 10:
            raise InvalidArgument("failure_floor_s", f"must be a number in [0, 10], got "
                                                     f"{self.failure_floor_s!r}")
        _positive("audit_sample_per_s", self.audit_sample_per_s)
        for name in ("max_failures", "source_burst", "min_password_length",
                     "audit_sample_burst"):
            _positive(name, getattr(self, name), integer=True)
        for name in ("lockout_s", "source_refill_per_s", "token_ttl_s"):
            _positive(name, getattr(self, name))
        if not isinstance(self.totp_window, int) or not 0 <= self.totp_window <= 2:
            raise InvalidArgument("totp_window", f"must be 0, 1 or 2, got {self.totp_window!r}")
        object.__setattr__(self, "allowed_sources",
                           parse_networks(self.allowed_sources, "allowed_sources"))


@dataclass(frozen=True)
class SecuritySettings:
    """Everything ``SecurityFramework`` can tune: password hashing, the authentication policy,
    audit checkpoints every ``checkpoint_every`` records, and audit retention in seconds."""

    argon: Argon2Params = field(default_factory=Argon2Params)
    auth: AuthPolicy = field(default_factory=AuthPolicy)
    checkpoint_every: int = 100
    retention_s: float = SEVEN_YEARS_S

    def __post_init__(self):
        _positive("checkpoint_every", self.checkpoint_every, integer=True)
        _positive("retention_s", self.retention_s)

    @classmethod
    def for_tests(cls, **overrides) -> SecuritySettings:
        """Light Argon2id and no failure floor (tests run many refused logins)."""
        return cls(**{"argon": Argon2Params.light(), "auth": AuthPolicy(failure_floor_s=0.0),
                      **overrides})


def settings_to_json(settings: SecuritySettings) -> dict:
    auth = {**vars(settings.auth), "mfa_roles": sorted(r.value for r in settings.auth.mfa_roles),
            "allowed_sources": list(settings.auth.allowed_sources)}
    return {"argon": dict(vars(settings.argon)), "auth": auth,
            "checkpoint_every": settings.checkpoint_every, "retention_s": settings.retention_s}


def settings_from_json(d: dict) -> SecuritySettings:
    """The inverse of ``settings_to_json`` (validated again on the way in)."""
    try:
        auth = {**d["auth"], "mfa_roles": frozenset(Role(r) for r in d["auth"]["mfa_roles"]),
                "allowed_sources": tuple(d["auth"]["allowed_sources"])}
        return SecuritySettings(Argon2Params(**d["argon"]), AuthPolicy(**auth),
                                int(d["checkpoint_every"]), float(d["retention_s"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgument("settings", f"malformed settings: {exc}") from None
