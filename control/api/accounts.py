"""Accounts replicated through the state machine: a user enrolled through any replica can log
in at every replica.

Use cases::

    key = ClusterKey.load(cfg.cluster_secret)            # build_app, with --cluster-secret
    await orch.publish_keys(put_account(fw, "analyst-001", key))   # admin.py, on the leader
    mirror_accounts(fw, orch.sm.security.accounts, key)  # every replica: its user store
                                                         # follows the state (login reads it)

The leader logs a ``PutAccount`` for each change made through the service (enrol, remove,
disable, enable, clearance): the Argon2id hash as is, the TOTP secret sealed under the cluster
secret (``uqo.security.clusterkey``). Each replica writes the accounts of its state into its
own ``<data>/security/users.json`` (``mirror_accounts``: after the log's read barrier on every
login, and every half second), keeping the lockout counters and TOTP replay mark it has: those
stay per replica. Accounts enrolled on the command line of a stopped server stay local, as do
the bootstrap administrators (each replica's own ``admin``) until changed through the service.
"""

from __future__ import annotations

import logging

from aiohttp import web
from uqo.control.errors import ControlError
from uqo.control.state.commands import AccountRecord, PutAccount
from uqo.security.errors import SecurityError

from .appkeys import ORCH

_LOG = logging.getLogger(__name__)
CLUSTER_KEY = web.AppKey("cluster_key", object)         # uqo.security.clusterkey.ClusterKey
ACCOUNT_MIRROR = web.AppKey("account_mirror", object)   # AccountMirror


def install(app, fw, cfg) -> None:
    """With ``cluster_secret`` set (replicas), replicate accounts; without it they stay
    local to each replica (a warning says so)."""
    from uqo.security.clusterkey import ClusterKey

    if not cfg.etcd:
        return
    if not cfg.cluster_secret:
        _LOG.warning("accounts stay local to each replica: no cluster_secret (create one "
                     "with 'uqo certs init' and pass --cluster-secret FILE to every replica)")
        return
    key = ClusterKey.load(cfg.cluster_secret)
    app[CLUSTER_KEY], app[ACCOUNT_MIRROR] = key, AccountMirror(fw, key)


async def replicate_account(request: web.Request, fw, user_id: str) -> None:
    """Log ``user_id``'s account (the leader, after a change through the service)."""
    key = request.app.get(CLUSTER_KEY)
    if key is not None:
        await request.app[ORCH].publish_keys(put_account(fw, user_id, key))


async def before_login(request: web.Request) -> None:
    """Catch up with the log (etcd's read index), then bring the user store up to date, so an
    account enrolled through another replica logs in here as soon as it is acknowledged."""
    mirror = request.app.get(ACCOUNT_MIRROR)
    if mirror is None:
        return
    orch = request.app[ORCH]
    try:
        await orch.read_barrier()
    except ControlError as exc:         # etcd away: log in against what this replica has
        _LOG.warning("login without catching up: %s", exc.message)
    mirror.sync(orch.sm.security.accounts)


def put_account(fw, user_id: str, key) -> PutAccount:
    """The command carrying ``user_id`` as this node's store now has it (None: removed)."""
    user = fw.users.get(user_id)
    if user is None:
        return PutAccount(at=fw.clock(), user_id=user_id, account=None)
    sealed = None if user.totp_secret is None else key.seal(user.totp_secret, user_id)
    return PutAccount(at=fw.clock(), user_id=user_id, account=AccountRecord(
        user.role.value, int(user.clearance), tuple(sorted(user.compartments)),
        user.password_hash, sealed, tuple(user.allowed_sources), user.created, user.disabled))


class AccountMirror:
    """Writes the state's accounts into this replica's user store, each record once."""

    def __init__(self, fw, key):
        self.fw, self.key = fw, key
        self._done: dict[str, AccountRecord | None] = {}

    def sync(self, accounts: dict[str, AccountRecord | None]) -> int:
        """Apply the records changed since the last call; returns how many."""
        changed = [(uid, rec) for uid, rec in accounts.items()
                   if uid not in self._done or self._done[uid] is not rec]
        for uid, rec in changed:
            try:
                self._apply(uid, rec)
            except (SecurityError, ValueError, OSError) as exc:   # the others still apply
                _LOG.error("replicated account %r not applied here: %s", uid, exc)
            self._done[uid] = rec
        return len(changed)

    def _apply(self, uid: str, rec: AccountRecord | None) -> None:
        from uqo.security.levels import SecurityLevel, parse_role
        from uqo.security.users import User

        users = self.fw.users
        local = users.get(uid)
        if rec is None:
            if local is not None:
                users.remove(uid)
            return
        totp = None if rec.totp_sealed is None else self.key.open(rec.totp_sealed, uid)
        fields = {"role": parse_role(rec.role), "clearance": SecurityLevel(rec.clearance),
                  "compartments": frozenset(rec.compartments),
                  "password_hash": rec.password_hash, "totp_secret": totp,
                  "allowed_sources": tuple(rec.allowed_sources), "created": rec.created,
                  "disabled": rec.disabled}
        if local is None:
            users.add(User(uid, **fields))
            return
        if any(getattr(local, name) != value for name, value in fields.items()):
            if local.totp_secret != totp:
                local.last_totp_step = -1          # a new secret: its replay mark restarts
            for name, value in fields.items():
                setattr(local, name, value)
            users.save(local)
