"""Session revocation backed by the replicated state machine (``uqo.security.revocation``'s
``Sessions`` interface), and the hand-over of changes made while the server was stopped.

Use cases::

    fw.use_sessions(StateSessions(orch, fw.local_sessions))     # build_app does this
    await take_over_local_changes(orch, fw)                      # once, after the log recovered

Epochs, revoked token ids and each user's access (disabled, clearance, compartments) live in
the state machine (``state/security.py``), so every replica refuses the same tokens and a
restart keeps them. ``uqo users disable|enable|revoke`` on a stopped server's directory bump
the local file's epochs instead; at the next start ``take_over_local_changes`` logs each as a
``RevokeSessions`` command carrying the account as the local store has it, then clears them
(a crash in between bumps twice: harmless, it only ends sessions). Until then a token verifies
only if its epoch equals state + local, so an offline change is in force from the first
request.
"""

from __future__ import annotations

import logging

from uqo.control.state import commands as cmds

_LOG = logging.getLogger(__name__)


class StateSessions:
    def __init__(self, orch, local):
        self.orch, self.local = orch, local

    def epoch(self, user_id: str) -> int:
        return self.orch.sm.security.epoch(user_id) + self.local.epoch(user_id)

    def local_epoch(self, user_id: str) -> int:
        return self.local.epoch(user_id)

    def token_key(self, key_id: str):
        """A token-verification key some replica published (``PublishKeys``), or None."""
        return self.orch.sm.security.token_key(key_id)

    def is_revoked(self, token_id: str) -> bool:
        return self.orch.sm.security.is_revoked(token_id) or self.local.is_revoked(token_id)

    def access(self, user_id: str):
        from uqo.security.revocation import UserAccess

        record = self.orch.sm.security.users.get(user_id)
        if record is None:
            return None
        return UserAccess(record.disabled, record.clearance, record.compartments)

    def revoke(self, token_id: str, expires_at: float) -> None:
        self.local.revoke(token_id, expires_at)


def account_command(fw, user_id: str, count: int = 1) -> cmds.RevokeSessions:
    """End ``user_id``'s sessions and record its access as this node's store has it."""
    user = fw.users.get(user_id)
    if user is None:
        return cmds.RevokeSessions(at=fw.clock(), user_id=user_id, count=count, disabled=True)
    return cmds.RevokeSessions(at=fw.clock(), user_id=user_id, count=count,
                               disabled=user.disabled, clearance=int(user.clearance),
                               compartments=tuple(sorted(user.compartments)))


async def take_over_local_changes(orch, fw) -> list[str]:
    """Log the local file's epochs (offline changes) into the state; returns the users taken
    over. A replica that cannot write now (not the leader: 503) keeps them local, where they
    still count (epoch = state + local) on this replica."""
    from uqo.control.errors import ControlError

    epochs, done = fw.local_sessions.epochs(), []
    for user_id, count in sorted(epochs.items()):
        try:
            await orch.revoke(account_command(fw, user_id, count))
        except ControlError as exc:
            if exc.status != 503:
                raise
            _LOG.warning("session changes of %s stay local to this replica for now: %s",
                         user_id, exc.message)
            continue
        fw.local_sessions.forget_epochs([user_id])
        done.append(user_id)
    return done
