"""Session revocation: per-user token epochs and revoked token ids.

Use cases::

    sessions = RevocationList(data_dir / "revoked.json")
    sessions.epoch("analyst-001")            # 0 until the first bump
    sessions.bump("analyst-001")             # every token issued before is refused from now on
    sessions.revoke(cred.token_id, cred.expires_at)   # one token (a logout)
    cred.token_id in sessions                # True

A session token carries its user's epoch at issue (claim ``uep``) and verifies only while that
is still the user's epoch. Disabling, removing, re-enrolling, changing the clearance of, or
revoking a user bumps the epoch, so every token issued before is refused at once, and across
restarts (the file is rewritten atomically before the call returns). Revoked token ids are kept
until the token would have expired anyway.

``TokenService`` asks any object with this interface (``Sessions``): ``epoch(user_id)``,
``is_revoked(token_id)``, ``access(user_id)``. This file-backed one serves a standalone
framework and the command line on a stopped server; the control plane supplies one backed by
its replicated state machine (so every replica refuses the same tokens), which adds this file's
offline changes to it at start.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from uqo.fsutil import atomic_write

from .errors import SecurityError


@dataclass(frozen=True)
class UserAccess:
    """What the replicated state says about a user, overriding the local user store at login:
    ``disabled``, and the clearance/compartments last set through the service (None: keep the
    store's)."""

    disabled: bool = False
    clearance: int | None = None
    compartments: tuple[str, ...] | None = None


class Sessions(Protocol):
    def epoch(self, user_id: str) -> int: ...

    def is_revoked(self, token_id: str) -> bool: ...

    def access(self, user_id: str) -> UserAccess | None: ...


class RevocationList:
    """Epochs and revoked token ids in one JSON file (``{"epochs": {}, "revoked": {}}``; the
    older layout, a bare ``{token_id: expires_at}`` map, still reads)."""

    def __init__(self, path: str | os.PathLike | None, clock=time.time):
        self.path, self.clock = (os.fspath(path) if path else None), clock
        self._revoked: dict[str, float] = {}
        self._epochs: dict[str, int] = {}
        self._lock = threading.Lock()
        if self.path and os.path.exists(self.path):
            self._load()

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                body = json.load(fh)
            if "epochs" not in body:              # the layout before epochs existed
                body = {"epochs": {}, "revoked": body}
            self._revoked = {str(k): float(v) for k, v in body["revoked"].items()}
            self._epochs = {str(k): int(v) for k, v in body["epochs"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SecurityError(f"cannot read the revocation file {self.path}: {exc}") from None

    def _flush(self) -> None:
        if self.path:
            body = {"epochs": self._epochs, "revoked": self._revoked}
            atomic_write(self.path, json.dumps(body, sort_keys=True).encode())

    # -- the Sessions interface -------------------------------------------------------------
    def epoch(self, user_id: str) -> int:
        return self._epochs.get(user_id, 0)

    def is_revoked(self, token_id: str) -> bool:
        return token_id in self._revoked

    def __contains__(self, token_id: str) -> bool:
        return self.is_revoked(token_id)

    def access(self, user_id: str) -> UserAccess | None:
        return None            # the local user store is the whole truth here

    # -- changes (durable before they return) ------------------------------------------------
    def revoke(self, token_id: str, expires_at: float) -> None:
        with self._lock:
            now = self.clock()
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}
            self._revoked[token_id] = float(expires_at)
            self._flush()

    def bump(self, user_id: str) -> int:
        """Refuse every token of ``user_id`` issued so far; returns the new epoch."""
        with self._lock:
            self._epochs[user_id] = self._epochs.get(user_id, 0) + 1
            self._flush()
            return self._epochs[user_id]

    def epochs(self) -> dict[str, int]:
        with self._lock:
            return dict(self._epochs)

    def forget_epochs(self, users) -> None:
        """Drop the given users' local epochs (the control plane has taken them over)."""
        with self._lock:
            for user in users:
                self._epochs.pop(user, None)
            self._flush()
