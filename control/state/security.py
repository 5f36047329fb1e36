"""The replicated part of security: session epochs, revoked tokens, and each user's access.

Use cases::

    sec = SecurityState()
    sec.revoke_sessions(RevokeSessions(at=t, user_id="analyst-001", disabled=True))
    sec.epoch("analyst-001")            # 1: every token issued at epoch 0 is refused now
    sec.revoke_token(RevokeToken(at=t, token_id="jti", expires_at=t + 900))
    sec.is_revoked("jti")               # True until the token would have expired anyway
    sec.users["analyst-001"].disabled   # True, on every replica
    sec.publish_keys(PublishKeys(at=t, replica_id="r2", keys=(TokenKey(kid, alg, pem),)))
    sec.token_key(kid)                  # the key, on every replica: r2's tokens verify

Applied by ``StateMachine`` like every other command, so every replica refuses the same tokens
and sees the same disabled flags and clearances, and a restart keeps them (the log and the
snapshots hold them). Deterministic: revoked ids are pruned by the command's own ``at``, never
by a clock read here.
"""

from __future__ import annotations

import msgspec

from .commands import AccountRecord, PublishKeys, PutAccount, RevokeSessions, RevokeToken, TokenKey


class UserRecord(msgspec.Struct, array_like=True, gc=False):
    """``epoch``: tokens carrying another epoch are refused. ``clearance``/``compartments``:
    the values last set through the service (None: the node's user store decides)."""

    epoch: int = 0
    disabled: bool = False
    clearance: int | None = None
    compartments: tuple[str, ...] | None = None


class SecuritySnapshot(msgspec.Struct, array_like=True):
    users: dict[str, UserRecord] = {}
    revoked: dict[str, float] = {}
    keys: dict[str, tuple[TokenKey, ...]] = {}
    accounts: dict[str, AccountRecord | None] = {}


class SecurityState:
    def __init__(self):
        self.users: dict[str, UserRecord] = {}
        self.revoked: dict[str, float] = {}
        self.keys: dict[str, tuple[TokenKey, ...]] = {}      # by replica id
        self._by_kid: dict[str, TokenKey] = {}
        # replicated accounts; None: removed (kept so a replica drops its local copy)
        self.accounts: dict[str, AccountRecord | None] = {}

    def epoch(self, user_id: str) -> int:
        record = self.users.get(user_id)
        return 0 if record is None else record.epoch

    def is_revoked(self, token_id: str) -> bool:
        return token_id in self.revoked

    def revoke_sessions(self, cmd: RevokeSessions) -> UserRecord:
        record = self.users.get(cmd.user_id) or UserRecord()
        record = UserRecord(
            record.epoch + max(1, cmd.count),
            record.disabled if cmd.disabled is None else cmd.disabled,
            record.clearance if cmd.clearance is None else cmd.clearance,
            record.compartments if cmd.compartments is None else cmd.compartments)
        self.users[cmd.user_id] = record
        return record

    def revoke_token(self, cmd: RevokeToken) -> None:
        self.revoked = {k: v for k, v in self.revoked.items() if v > cmd.at}
        if cmd.expires_at > cmd.at:
            self.revoked[cmd.token_id] = cmd.expires_at

    def publish_keys(self, cmd: PublishKeys) -> None:
        if cmd.keys:
            self.keys[cmd.replica_id] = tuple(cmd.keys)
        else:
            self.keys.pop(cmd.replica_id, None)
        self._index()

    def put_account(self, cmd: PutAccount) -> None:
        self.accounts[cmd.user_id] = cmd.account

    def token_key(self, key_id: str) -> TokenKey | None:
        """A published token-verification key (of any replica), or None."""
        return self._by_kid.get(key_id)

    def _index(self) -> None:
        self._by_kid = {k.key_id: k for rid in sorted(self.keys) for k in self.keys[rid]}

    def snapshot(self) -> SecuritySnapshot:
        return SecuritySnapshot(dict(self.users), dict(self.revoked), dict(self.keys),
                                dict(self.accounts))

    @classmethod
    def restore(cls, snap: SecuritySnapshot | None) -> SecurityState:
        state = cls()
        if snap is not None:
            state.users, state.revoked = dict(snap.users), dict(snap.revoked)
            state.keys, state.accounts = dict(snap.keys), dict(snap.accounts)
            state._index()
        return state
