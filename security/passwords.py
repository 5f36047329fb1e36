"""Argon2id password hashes (cryptography's implementation) in PHC string form.

Use cases::

    phc = hash_password("correct horse battery", Argon2Params())     # strong default, ~0.2 s
    verify_password("correct horse battery", phc)                    # True, constant-time
    hash_password("pw", Argon2Params.light())                        # for unit tests only

The PHC string carries its own parameters, so hashes made under older parameters keep
verifying after the defaults change. ``lanes`` is 1: with more lanes, concurrent hashes from
several threads hung in our trials (see the security notes); the cost is the same here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from .errors import InvalidArgument

_PHC = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost: ``memory_kib`` KiB of memory, ``iterations`` passes, ``lanes`` lanes.

    The default (64 MiB, t=3) is RFC 9106's second recommended option with one lane; OWASP's
    floor is 19 MiB with t=2 (``Argon2Params.owasp_minimum()``)."""

    memory_kib: int = 64 * 1024
    iterations: int = 3
    lanes: int = 1
    salt_bytes: int = 16
    hash_bytes: int = 32

    def __post_init__(self):
        for name, low in (("iterations", 1), ("lanes", 1), ("salt_bytes", 16),
                          ("hash_bytes", 16)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise InvalidArgument(name, f"must be an int >= {low}, got {value!r}")
        if not isinstance(self.memory_kib, int) or self.memory_kib < 8 * self.lanes:
            raise InvalidArgument("memory_kib", f"must be >= 8 * lanes, got {self.memory_kib!r}")

    @classmethod
    def light(cls) -> Argon2Params:
        """Tiny parameters for unit tests (never for real accounts)."""
        return cls(memory_kib=64, iterations=1)

    @classmethod
    def owasp_minimum(cls) -> Argon2Params:
        return cls(memory_kib=19 * 1024, iterations=2)


def hash_password(password: str, params: Argon2Params) -> str:
    """The PHC-encoded Argon2id hash of ``password`` under a fresh random salt."""
    if not isinstance(password, str) or not password:
        raise InvalidArgument("password", "must be a non-empty string")
    kdf = Argon2id(salt=os.urandom(params.salt_bytes), length=params.hash_bytes,
                   iterations=params.iterations, lanes=params.lanes,
                   memory_cost=params.memory_kib)
    return kdf.derive_phc_encoded(password.encode("utf-8"))


def verify_password(password: str, phc: str) -> bool:
    """Whether ``password`` matches ``phc`` (cryptography compares in constant time)."""
    if not isinstance(password, str) or not isinstance(phc, str):
        return False
    try:
        Argon2id.verify_phc_encoded(password.encode("utf-8"), phc)
    except (InvalidKey, ValueError):
        return False
    return True


def phc_params(phc: str) -> dict:
    """``{"memory_kib", "iterations", "lanes"}`` read from a PHC string (for compliance checks)."""
    match = _PHC.match(phc or "")
    if match is None:
        raise InvalidArgument("password_hash", "not an Argon2id PHC string")
    m, t, p = (int(g) for g in match.groups())
    return {"memory_kib": m, "iterations": t, "lanes": p}
