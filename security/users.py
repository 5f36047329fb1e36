"""User records and their durable store (one JSON file, rewritten atomically, mode 0600).

Use cases::

    store = UserStore(data_dir / "users.json")
    store.put(User("analyst-001", Role.ANALYST, SecurityLevel.SECRET, frozenset({"INTEL"}),
                   password_hash=phc, totp_secret=secret))
    user = store.get("analyst-001")          # None when unknown
    store.save(user)                         # after changing lockout / TOTP-replay state

The file holds Argon2id hashes and TOTP secrets: it is created 0600 inside a 0700 directory.
(TOTP secrets must be readable by the server to check codes, so they are protected by file
permissions, not encryption; the compliance report says so.)
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass

from uqo.fsutil import atomic_write

from .errors import InvalidArgument, SecurityError
from .levels import Role, SecurityLevel, parse_level, parse_role

_USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_COMPARTMENT = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")


def check_user_id(user_id, field_name: str = "user_id") -> str:
    if not isinstance(user_id, str) or not _USER_ID.match(user_id):
        raise InvalidArgument(field_name, f"{user_id!r} is not a valid id (letters, digits, "
                                          f"'.', '_', '@', '-'; at most 128 characters)")
    return user_id


def parse_compartments(values, field_name: str = "compartments") -> frozenset[str]:
    """Compartment names, upper-cased: ``{"intel"}`` -> ``frozenset({"INTEL"})``."""
    if isinstance(values, str):
        values = (values,)
    out = set()
    for value in values:
        name = value.strip().upper() if isinstance(value, str) else value
        if not isinstance(name, str) or not _COMPARTMENT.match(name):
            raise InvalidArgument(field_name, f"{value!r} is not a valid compartment name")
        out.add(name)
    return frozenset(out)


@dataclass
class User:
    """One account. ``failures``/``locked_until`` are the lockout state and
    ``last_totp_step`` the replay guard; both persist across restarts."""

    user_id: str
    role: Role
    clearance: SecurityLevel
    compartments: frozenset = frozenset()
    password_hash: str = ""
    totp_secret: bytes | None = None
    allowed_sources: tuple = ()
    created: float = 0.0
    disabled: bool = False
    failures: int = 0
    locked_until: float = 0.0
    last_totp_step: int = -1

    def to_json(self) -> dict:
        secret = self.totp_secret
        return {"user_id": self.user_id, "role": self.role.value,
                "clearance": self.clearance.name, "compartments": sorted(self.compartments),
                "password_hash": self.password_hash,
                "totp_secret": base64.b32encode(secret).decode() if secret else None,
                "allowed_sources": list(self.allowed_sources), "created": self.created,
                "disabled": self.disabled, "failures": self.failures,
                "locked_until": self.locked_until, "last_totp_step": self.last_totp_step}

    @classmethod
    def from_json(cls, d: dict) -> User:
        secret = d.get("totp_secret")
        return cls(d["user_id"], parse_role(d["role"]), parse_level(d["clearance"], "clearance"),
                   frozenset(d.get("compartments", ())), d.get("password_hash", ""),
                   base64.b32decode(secret) if secret else None,
                   tuple(d.get("allowed_sources", ())), float(d.get("created", 0.0)),
                   bool(d.get("disabled", False)), int(d.get("failures", 0)),
                   float(d.get("locked_until", 0.0)), int(d.get("last_totp_step", -1)))


class UserStore:
    """All users of one data directory, loaded once and written through on every change."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._users: dict[str, User] = {}
        if os.path.exists(self.path):
            self._users = self._load()

    def _load(self) -> dict[str, User]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                raw = json.load(fh)
            return {d["user_id"]: User.from_json(d) for d in raw["users"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SecurityError(f"cannot read the user store {self.path}: {exc}") from None

    def get(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def all(self) -> list[User]:
        return sorted(self._users.values(), key=lambda u: u.user_id)

    def __len__(self) -> int:
        return len(self._users)

    def add(self, user: User) -> None:
        if user.user_id in self._users:
            raise InvalidArgument("user_id", f"user {user.user_id!r} already exists")
        self._users[user.user_id] = user
        self._flush()

    def save(self, user: User) -> None:
        if self._users.get(user.user_id) is not user:
            raise InvalidArgument("user_id", f"unknown user {user.user_id!r}")
        self._flush()

    def remove(self, user_id: str) -> User:
        user = self._users.pop(user_id, None)
        if user is None:
            raise InvalidArgument("user_id", f"unknown user {user_id!r}")
        self._flush()
        return user

    def _flush(self) -> None:
        body = {"version": 1, "users": [u.to_json() for u in self.all()]}
        atomic_write(self.path, json.dumps(body, indent=1, sort_keys=True).encode() + b"\n")
