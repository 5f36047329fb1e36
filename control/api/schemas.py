"""Request and response shapes of the HTTP API: one definition serves validation and the
OpenAPI document.

Requests are decoded straight into these ``msgspec`` structs from JSON or MessagePack: wrong
types, unknown fields, out-of-range values and oversize lists are refused while decoding, with
the path of the offending field. ``uqo.control.api.openapi`` renders the same structs as JSON
Schema, so the document cannot drift from what the handlers accept. Response structs document
what the views (``uqo.control.state.views``) return; a test checks that they agree.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta
from uqo.control.scheduler import STRATEGIES
from uqo.control.state.records import TASK_STATES

Id = Annotated[str, Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$",
                         description="identifier: letters, digits and . _ : @ -")]
Label = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
Labels = Annotated[list[Label], Meta(max_length=64)]
Compartment = Annotated[str, Meta(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
                                  description="need-to-know compartment (upper-cased)")]
Compartments = Annotated[list[Compartment], Meta(max_length=64)]
Level = Annotated[int, Meta(ge=0, le=3, description="0 UNCLASSIFIED .. 3 TOP_SECRET")]
Text = Annotated[str, Meta(max_length=65536)]
Reason = Annotated[str, Meta(max_length=4096)]
Seconds = Annotated[float, Meta(ge=0, le=31_536_000)]
TaskState = Literal[TASK_STATES]  # type: ignore[valid-type]
Strategy = Literal[STRATEGIES]    # type: ignore[valid-type]

MAX_REQUIRED_AGENTS = 4096        # the scheduler's gang limit (uqo.control.scheduler.types)


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


# ---- requests ---------------------------------------------------------------------------
class AgentRegistration(_Strict):
    agent_id: Id
    capabilities: Labels = []
    security_clearance: Level = 0
    compartments: Compartments = []
    capacity: Annotated[int, Meta(ge=1, le=1 << 20)] = 1
    failure_domain: Id | None = None
    fitness: Annotated[float, Meta(gt=0, le=1e6)] = 1.0


class TaskSubmission(_Strict):
    task_id: Id | None = None
    task_description: Text = ""
    priority: Annotated[int, Meta(ge=0, le=1_000_000)] = 1
    required_agents: Annotated[int, Meta(ge=1, le=MAX_REQUIRED_AGENTS)] = 1
    required_capabilities: Labels = []
    classification: Level = 0
    compartments: Compartments = []
    timeout_s: Annotated[float, Meta(gt=0, le=31_536_000)] | None = None
    strategy: Strategy | None = None


class BatchSubmission(_Strict):
    tasks: Annotated[list[TaskSubmission], Meta(min_length=1, max_length=100_000)]


class OutcomeReport(_Strict):
    task_id: Id
    success: bool
    latency_s: Seconds = 0.0
    result: Text | None = None
    reason: Reason = ""


class CancelRequest(_Strict):
    reason: Reason = ""


class Login(_Strict):
    user_id: Id
    password: Annotated[str, Meta(max_length=1024)]
    mfa_token: Annotated[str, Meta(max_length=16)] | None = None
    clearance_required: Level | None = None


class Empty(_Strict):
    """A body that may be absent or ``{}``."""


class HeartbeatBody(_Strict):
    """A heartbeat; with ``probe_id`` it also answers that health check (``healthy``; an
    answer is itself evidence of health, so it defaults to true)."""

    probe_id: str | None = None
    healthy: bool = True


UserId = Annotated[str, Meta(min_length=1, max_length=128,
                             pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")]
Role = Literal["admin", "operator", "analyst", "agent"]


class UserCreate(_Strict):
    """An account to enrol. Without ``password`` one is generated (shown once, in the
    answer); people always get a TOTP secret. Source allow-lists: ``uqo users add``."""

    user_id: UserId
    role: Role
    clearance: Level
    compartments: Compartments = []
    password: Annotated[str, Meta(min_length=12, max_length=1024)] | None = None


class ClearanceChange(_Strict):
    clearance: Level
    compartments: Compartments | None = None


class TokenRevocation(_Strict):
    token_id: Annotated[str, Meta(min_length=1, max_length=128)]


# ---- query strings ----------------------------------------------------------------------
# An absent parameter is UNSET (not None: the text "null" is a value, and a wrong one).
Unset = msgspec.UnsetType


class TaskQuery(_Strict):
    state: TaskState | Unset = msgspec.UNSET
    limit: Annotated[int, Meta(ge=1, le=1000)] = 100
    cursor: Annotated[int, Meta(ge=0)] = 0


class AgentQuery(_Strict):
    capability: Label | Unset = msgspec.UNSET
    min_clearance: Level | Unset = msgspec.UNSET
    failure_domain: Id | Unset = msgspec.UNSET
    limit: Annotated[int, Meta(ge=1, le=1000)] = 100
    cursor: Annotated[int, Meta(ge=0)] = 0


class AssignmentQuery(_Strict):
    wait: Annotated[float, Meta(ge=0, le=300)] = 0.0


class SecurityEventsQuery(_Strict):
    limit: Annotated[int, Meta(ge=1, le=200)] = 20         # newest first


class StatusStreamQuery(_Strict):
    interval: Annotated[float, Meta(ge=0.5, le=10)] = 2.0     # seconds between events


# ---- responses --------------------------------------------------------------------------
class ErrorDetail(msgspec.Struct):
    code: str
    message: str
    field: str | None
    reason: str | None = None          # on a 403: the policy rule that refused


class Error(msgspec.Struct):
    error: ErrorDetail


class AgentView(msgspec.Struct):
    agent_id: str
    capabilities: list[str]
    security_clearance: int
    compartments: list[str]
    capacity: int
    failure_domain: str | None
    fitness: float
    registered_at: float
    assigned_tasks: list[str]


class TaskView(msgspec.Struct):
    task_id: str
    state: TaskState
    description: str
    priority: int
    required_agents: int
    required_capabilities: list[str]
    classification: int
    compartments: list[str]
    timeout_s: float | None
    submitted_by: str | None
    submitted_at: float
    assigned_at: float | None
    finished_at: float | None
    agents: list[str]
    agents_done: list[str]
    reason: str | None
    result: str | None
    attempts: int
    trace: str | None           # W3C traceparent of the submission (tracing on)


class Assignment(msgspec.Struct):
    task_id: str
    description: str
    priority: int
    agents: list[str]
    required_capabilities: list[str]
    classification: int
    assigned_at: float | None
    timeout_s: float | None
    trace: str | None           # W3C traceparent to continue (docs/tracing.md)


class TaskPage(msgspec.Struct):
    items: list[TaskView]
    next_cursor: int | None


class AgentPage(msgspec.Struct):
    items: list[AgentView]
    next_cursor: int | None


class Submitted(msgspec.Struct):
    task_id: str
    state: TaskState


class BatchSubmitted(msgspec.Struct):
    task_ids: list[str]


class Deregistered(msgspec.Struct):
    agent_id: str
    requeued_tasks: list[str]


class ProbeRequest(msgspec.Struct):
    """Run a health check and send its result with the next heartbeat before the deadline."""

    probe_id: str
    deadline_s: float


class HeartbeatAck(msgspec.Struct):
    agent_id: str
    received_at: float
    probe: ProbeRequest | None = None


class Session(msgspec.Struct):
    token: str
    user_id: str
    role: str
    level: int
    expires_at: float


class Health(msgspec.Struct):
    status: str


class UserView(msgspec.Struct):
    user_id: str
    role: str
    clearance: int
    compartments: list[str]
    mfa: bool
    disabled: bool
    allowed_sources: list[str]
    created: float
    locked_from: list[str]


class UserPage(msgspec.Struct):
    items: list[UserView]


class UserCreated(UserView):
    provisioning_uri: str | None
    totp_secret: str | None
    password: str | None


class UserUnlocked(UserView):
    locks_cleared: int


class UserRemoved(msgspec.Struct):
    user_id: str
    removed: bool


class Revoked(msgspec.Struct):
    revoked: list[str]


class LoggedOut(msgspec.Struct):
    user_id: str
    revoked: list[str]


class SecurityEvent(msgspec.Struct):
    seq: int                  # the audit record's sequence number
    ts: float                 # when (Unix seconds)
    kind: str                 # auth.login, authz.decision, auth.token, auth.certificate, ...
    subject: str | None       # who (the account named), None for an unknown caller
    outcome: str              # failure or denied
    detail: dict              # why and from where: code, reason, rule, resource, action, source


class SecurityEvents(msgspec.Struct):
    events: list[SecurityEvent]   # newest first
    limit: int


class KeyView(msgspec.Struct):
    key_id: str
    algorithm: str
    public_key_pem: str


class Status(msgspec.Struct):
    forecast: dict | None
    quantum: dict
    scheduler: dict
    consensus: dict
    security: dict
    performance: dict
    ready: bool
    failure_domains: dict | None = None
