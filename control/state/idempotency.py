"""Idempotency keys in the replicated state: a retried write returns its first result.

Use cases::

    table = KeyTable()
    table.lookup("alice", "k1", digest, now)       # None: unknown (or expired) key
    table.record(Keyed(...), result)               # after the wrapped command applied
    table.lookup("alice", "k1", digest, now)       # KeyRecord: its ``result()`` is a copy of
                                                   # what the first application returned
    table.lookup("alice", "k1", other, now)        # raises 422 idempotency_key_reused

A client sends ``Idempotency-Key`` with a write (IETF draft "The Idempotency-Key HTTP Header
Field"); the API wraps the write's command in ``commands.Keyed`` carrying the caller, the key,
a digest of the request and the key's expiry. The state machine applies the wrapped command
and records the key with a copy of the result, *as part of applying that log entry*: every
replica holds the same table, a retry on any of them after a failover finds it, and replaying
the log after a restart rebuilds it (snapshots carry it). Only applied writes are recorded: a
refused command records nothing (it changed nothing), so its retry runs again.

Bounded: a key lives until ``expires_at`` (the leader's clock at apply plus the configured
TTL, carried in the command so replicas need not share configuration) and at most
``Keyed.keep`` keys are held (the oldest go first). Expiry is decided by the commands' own
``at``, never a clock, so every replica drops the same keys at the same entry.

``WRITE_KEY`` is the request-scoped key the API sets and the leader reads when it logs the
write's command; the state machine never reads it.
"""

from __future__ import annotations

from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass

import msgspec
from uqo.control.errors import ControlError

from .commands import Keyed
from .records import Agent, Task


class KeyRecord(msgspec.Struct, array_like=True, gc=False):
    """One remembered key: who used it, on what request, until when, with what result."""

    principal: str
    key: str
    digest: str
    expires_at: float
    index: int                      # the log index that applied it
    kind: str
    data: bytes                     # the result as MessagePack

    def result(self):
        """A fresh copy of the result the first application returned."""
        kind = {"task": Task, "agent": Agent, "ids": list[str], "none": None}[self.kind]
        return msgspec.msgpack.decode(self.data, type=kind)


@dataclass
class Replayed:
    """What the state machine returns when a ``Keyed`` command repeats an applied one."""

    result: object


@dataclass
class WriteKey:
    """The key a request carries; ``replayed`` is set when its answer is the first one's."""

    principal: str
    key: str
    digest: str
    ttl_s: float
    keep: int
    replayed: bool = False


WRITE_KEY: ContextVar[WriteKey | None] = ContextVar("uqo_write_key", default=None)


def reused(key: str) -> ControlError:
    return ControlError("idempotency_key_reused", f"Idempotency-Key {key!r} was used with "
                        "another request; use a new key for a new request", 422,
                        "Idempotency-Key")


class KeyTable:
    """The remembered keys, oldest first."""

    def __init__(self, records: list[KeyRecord] | None = None):
        self._keys: OrderedDict[tuple[str, str], KeyRecord] = OrderedDict(
            ((r.principal, r.key), r) for r in records or ())

    def __len__(self) -> int:
        return len(self._keys)

    def lookup(self, principal: str, key: str, digest: str, now: float) -> KeyRecord | None:
        """The live record of ``key`` for ``principal``; raises 422 if it was recorded for a
        request with another digest."""
        record = self._keys.get((principal, key))
        if record is None or record.expires_at <= now:
            return None
        if record.digest != digest:
            raise reused(key)
        return record

    def record(self, cmd: Keyed, index: int, result) -> None:
        kind = _kind(result)
        data = msgspec.msgpack.encode(result if kind != "none" else None)
        self._keys[(cmd.principal, cmd.key)] = KeyRecord(
            cmd.principal, cmd.key, cmd.digest, cmd.expires_at, index, kind, data)
        self._keys.move_to_end((cmd.principal, cmd.key))
        while len(self._keys) > max(cmd.keep, 1):
            self._keys.popitem(last=False)

    def expire(self, now: float) -> None:
        """Drop the keys expired at ``now``, from the oldest until a live one (keys recorded
        under a longer TTL may hold shorter ones back a while; ``lookup`` ignores them)."""
        while self._keys:
            first = next(iter(self._keys.values()))
            if first.expires_at > now:
                return
            self._keys.popitem(last=False)

    def records(self) -> list[KeyRecord]:
        return list(self._keys.values())


def _kind(result) -> str:
    if isinstance(result, Task):
        return "task"
    if isinstance(result, Agent):
        return "agent"
    if isinstance(result, list):
        return "ids"
    return "none"
