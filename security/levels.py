"""Security levels (classification and clearance) and roles, with strict parsers.

Use cases::

    SecurityLevel.SECRET >= SecurityLevel.CONFIDENTIAL      # True: levels are ordered
    parse_level("top_secret", "clearance")                  # SecurityLevel.TOP_SECRET
    parse_level(7, "classification")                        # InvalidArgument naming the field
    parse_role("Analyst", "role")                           # Role.ANALYST
"""

from __future__ import annotations

from enum import Enum, IntEnum

from .errors import InvalidArgument


class SecurityLevel(IntEnum):
    """Hierarchical levels; a higher value dominates a lower one."""

    UNCLASSIFIED = 0
    CONFIDENTIAL = 1
    SECRET = 2
    TOP_SECRET = 3


class Role(str, Enum):
    """What kind of principal a user is; the policy maps each role to the actions it may take."""

    ADMIN = "admin"
    OPERATOR = "operator"
    ANALYST = "analyst"
    AGENT = "agent"


def parse_level(value, field: str) -> SecurityLevel:
    """A ``SecurityLevel`` from a member, an int 0..3 (or its digit), or a name (any case,
    ``-``/space as ``_``). Booleans and anything else raise ``InvalidArgument`` naming ``field``."""
    if isinstance(value, SecurityLevel):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 3:
            return SecurityLevel(value)
    elif isinstance(value, str):
        name = value.strip().upper().replace("-", "_").replace(" ", "_")
        if name in SecurityLevel.__members__:
            return SecurityLevel[name]
        if name in {"0", "1", "2", "3"}:
            return SecurityLevel(int(name))
    names = ", ".join(SecurityLevel.__members__)
    raise InvalidArgument(field, f"unknown security level {value!r} (expected 0..3 or {names})")


def parse_role(value, field: str = "role") -> Role:
    if isinstance(value, Role):
        return value
    if isinstance(value, str) and value.strip().lower() in {r.value for r in Role}:
        return Role(value.strip().lower())
    raise InvalidArgument(field, f"unknown role {value!r} (expected one of "
                                 f"{', '.join(r.value for r in Role)})")
