"""Token-verification keys published through the replicated state: a session token issued by
one replica verifies at every other.

Use cases::

    app.cleanup_ctx.append(key_publisher_ctx)       # build_app: security on, etcd replicas
                                                    # (it also runs the account mirror)
    POST /v1/auth/login  at replica a  ->  token (kid: a's key)
    GET  /v1/tasks       at replica b with it: b finds a's key in its state (PublishKeys)
    POST /v1/tasks       at follower b: forwarded; the leader verifies it the same way

Every replica lists its signer's public keys in its presence record (``P/replicas/<id>``,
refreshed every second by the etcd session). The leader logs, for each replica whose record
lists another set than the state holds, one ``PublishKeys`` with that set (its own set comes
from its signer directly); every replica's token verifier accepts the keys in the state
(``StateSessions.token_key``) besides its own. A replica's keys stay published while it is
stopped (its unexpired tokens keep verifying); a key it no longer lists is withdrawn.

Trust: presence records are written with the etcd credentials, which can also append to the
log; believing them adds nobody. Each key is checked before it is logged: its id must be the one
derived from the key itself (``PublicKeyInfo.from_pem``), so a record cannot pass off one
replica's key id with another key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from uqo.control.errors import ControlError
from uqo.control.state.commands import PublishKeys, TokenKey

from .accounts import ACCOUNT_MIRROR
from .appkeys import ORCH, SECURITY

_LOG = logging.getLogger(__name__)
EVERY_S = 0.5
MAX_KEYS = 64          # keys one replica may publish (rotations keep old keys)


def own_keys(fw) -> tuple[TokenKey, ...]:
    """This replica's newest ``MAX_KEYS`` token keys, sorted by id (the signer may ask an
    HSM: run in a thread)."""
    newest = fw.signer.public_keys()[:MAX_KEYS]         # newest first (Signer.public_keys)
    return tuple(sorted((TokenKey(k.key_id, k.algorithm, k.public_key_pem) for k in newest),
                        key=lambda k: k.key_id))


def listed_keys(record: dict) -> tuple[TokenKey, ...] | None:
    """The keys a presence record lists, each checked; None when absent or malformed."""
    from uqo.security.signing import PublicKeyInfo

    raw = record.get("token_keys")
    if not isinstance(raw, list) or not raw or len(raw) > MAX_KEYS:
        return None
    keys = []
    try:
        for item in raw:
            info = PublicKeyInfo.from_pem(item["public_key_pem"])
            if (info.key_id, info.algorithm) != (item["key_id"], item["algorithm"]):
                raise ValueError(f"key id {item['key_id']!r} is not its key's")
            keys.append(TokenKey(info.key_id, info.algorithm, info.public_key_pem))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:   # InvalidArgument too
        _LOG.warning("replica %r lists token keys that do not check: %s",
                     record.get("replica_id"), exc)
        return None
    return tuple(sorted(keys, key=lambda k: k.key_id))


def changes(me: str, own: tuple[TokenKey, ...], presence: dict[str, dict],
            published: dict[str, tuple[TokenKey, ...]]) -> list[tuple[str, tuple]]:
    """``(replica_id, keys)`` to log: each replica whose listed set differs from the state."""
    out = [] if published.get(me, ()) == own else [(me, own)]
    for rid in sorted(presence):
        record = presence[rid]
        if rid == me or not isinstance(record, dict):
            continue
        raw = record.get("token_keys")
        if isinstance(raw, list) and tuple(sorted(k.get("key_id", "") for k in raw
                                                  if isinstance(k, dict))) \
                == tuple(k.key_id for k in published.get(rid, ())):
            continue                       # already published: no key parsed
        keys = listed_keys(record)
        if keys is not None and keys != published.get(rid, ()):
            out.append((rid, keys))
    return out


async def publish_once(orch, fw) -> int:
    """Advertise this replica's keys; as the leader, log what changed. Returns commands
    logged."""
    log = orch.log
    own = await asyncio.get_running_loop().run_in_executor(None, own_keys, fw)
    log.presence_extra["token_keys"] = [
        {"key_id": k.key_id, "algorithm": k.algorithm, "public_key_pem": k.public_key_pem}
        for k in own]
    if not log.is_leader:
        return 0
    todo = changes(orch.cfg.replica_id, own, log.session.replicas, orch.sm.security.keys)
    for rid, keys in todo:
        await orch.publish_keys(PublishKeys(at=fw.clock(), replica_id=rid, keys=keys))
        _LOG.info("published %d token key(s) of replica %s", len(keys), rid)
    return len(todo)


async def _publish_forever(app) -> None:
    orch, fw = app[ORCH], app[SECURITY]
    while True:
        await asyncio.sleep(EVERY_S)
        if getattr(orch.log, "presence_extra", None) is None:
            continue                       # not started yet
        mirror = app.get(ACCOUNT_MIRROR)
        if mirror is not None:
            mirror.sync(orch.sm.security.accounts)
        try:
            await publish_once(orch, fw)
        except ControlError as exc:        # leadership moved, etcd away: next round
            _LOG.debug("token keys not published now: %s", exc.message)


async def key_publisher_ctx(app):
    """Run the publisher while the app runs (replicated servers with security only)."""
    task = None
    if SECURITY in app and app[ORCH].replicated:
        task = asyncio.create_task(_publish_forever(app), name="uqo-key-publisher")
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
