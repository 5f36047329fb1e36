"""The durable commands of the control plane and their wire form in the log.

Every durable change is one of these commands, applied in log order by
``uqo.control.statemachine.StateMachine``. A command carries everything its application needs,
including the leader's clock reading ``at`` (seconds since the epoch), so that replaying the log
reproduces the state exactly: the state machine never reads a clock, a random source or the
scheduler. Heartbeats and engine state are soft state and are never commands.

Wire form: MessagePack of a tagged union (``msgspec``: a compiled encoder/decoder that validates
types while decoding, which hand-written dict code would not). Structs are array-like to keep
log entries small.
"""

from __future__ import annotations

import msgspec


class AgentInfo(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """An agent's registration. Sets are sorted tuples so equal specs encode equally."""

    agent_id: str
    capabilities: tuple[str, ...] = ()
    clearance: int = 0
    compartments: tuple[str, ...] = ()
    capacity: int = 1
    failure_domain: str | None = None
    fitness: float = 1.0


class TaskInfo(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A submitted task as the leader accepted it."""

    task_id: str
    description: str = ""
    priority: int = 1
    required_agents: int = 1
    capabilities: tuple[str, ...] = ()
    classification: int = 0
    compartments: tuple[str, ...] = ()
    timeout_s: float | None = None
    submitted_by: str | None = None
    strategy: str | None = None
    # the submission's span as a W3C ``traceparent``: the worker continues its trace. Last,
    # with a default, so entries written before it existed still decode.
    trace: str | None = None


class _Command(msgspec.Struct, frozen=True, array_like=True, tag_field="op"):
    at: float


class RegisterAgent(_Command, tag="register"):
    agent: AgentInfo


class DeregisterAgent(_Command, tag="deregister"):
    agent_id: str


class SubmitTasks(_Command, tag="submit"):
    tasks: tuple[TaskInfo, ...]


class Assign(_Command, tag="assign"):
    """Placements decided by the leader's scheduler: ``(task_id, agent_ids)`` gangs, and tasks
    that can never be placed with the scheduler's machine-readable reason."""

    placements: tuple[tuple[str, tuple[str, ...]], ...] = ()
    rejected: tuple[tuple[str, str], ...] = ()


class Complete(_Command, tag="complete"):
    """One agent of a task's gang finished its part successfully."""

    task_id: str
    agent_id: str
    latency_s: float = 0.0
    result: str | None = None


class Fail(_Command, tag="fail"):
    """One agent of a task's gang failed its part: the task fails."""

    task_id: str
    agent_id: str
    latency_s: float = 0.0
    reason: str = ""


class Cancel(_Command, tag="cancel"):
    task_id: str
    reason: str = ""


class TimeOut(_Command, tag="timeout"):
    """Tasks whose deadline passed (decided by the leader's clock, logged so replay agrees)."""

    task_ids: tuple[str, ...]


class RevokeSessions(_Command, tag="revoke_sessions"):
    """End every session of ``user_id`` (its epoch grows by ``count``) and record the access
    it has from now on (None: unchanged). Logged when a user is disabled, enabled, removed,
    re-enrolled, given another clearance, or revoked, so every replica agrees."""

    user_id: str
    count: int = 1
    disabled: bool | None = None
    clearance: int | None = None
    compartments: tuple[str, ...] | None = None


class RevokeToken(_Command, tag="revoke_token"):
    """Refuse one session token (a logout) until it would have expired anyway."""

    token_id: str
    expires_at: float


class TokenKey(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A session-token verification key: its id (derived from the key), algorithm and PEM."""

    key_id: str
    algorithm: str
    public_key_pem: str


class PublishKeys(_Command, tag="publish_keys"):
    """The token-verification keys of ``replica_id`` from now on (the whole set: a key it no
    longer holds is withdrawn), so every replica accepts the tokens it issues."""

    replica_id: str
    keys: tuple[TokenKey, ...]


class AccountRecord(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """An account as every replica stores it: the Argon2id hash, and the TOTP secret sealed
    under the cluster secret (AES-GCM, ``uqo.security.clusterkey``), never in clear."""

    role: str
    clearance: int
    compartments: tuple[str, ...] = ()
    password_hash: str = ""
    totp_sealed: bytes | None = None
    allowed_sources: tuple[str, ...] = ()
    created: float = 0.0
    disabled: bool = False


class PutAccount(_Command, tag="put_account"):
    """Enrol, change or (``account`` None) remove ``user_id`` on every replica."""

    user_id: str
    account: AccountRecord | None = None


class Keyed(_Command, tag="keyed"):
    """A client's write sent with an ``Idempotency-Key`` (``idempotency.py``): ``command`` is
    the wrapped command's encoding (one level: a Keyed never wraps a Keyed). Applied once per
    ``(principal, key)`` until ``expires_at``; a repeat with the same ``digest`` of the
    request returns the first result, with another digest it is refused (422). ``keep``: how
    many keys the state holds at most (the leader's setting, logged so replicas agree)."""

    principal: str
    key: str
    digest: str
    expires_at: float
    keep: int
    command: bytes


# the commands a client's write logs, which may carry an idempotency key
KEYABLE = (RegisterAgent, DeregisterAgent, SubmitTasks, Complete, Fail, Cancel)

Command = (RegisterAgent | DeregisterAgent | SubmitTasks | Assign | Complete | Fail | Cancel
           | TimeOut | RevokeSessions | RevokeToken | PublishKeys | PutAccount | Keyed)

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Command)


def encode(command: Command) -> bytes:
    """Command -> log entry payload bytes."""
    return _ENCODER.encode(command)


def decode(data: bytes) -> Command:
    """Log entry payload bytes -> Command. Raises ``msgspec.DecodeError`` on foreign bytes."""
    return _DECODER.decode(data)
