"""The state machine's durable records: a task's and an agent's, and the task states.

Their own module so that what reads results back (``idempotency.KeyRecord``) need not import
the state machine that applies commands (no import cycle).
"""

from __future__ import annotations

import msgspec

from .commands import AgentInfo, TaskInfo

PENDING, ASSIGNED, COMPLETED, FAILED = "pending", "assigned", "completed", "failed"
CANCELLED, TIMED_OUT, REJECTED = "cancelled", "timed_out", "rejected"
TASK_STATES = (PENDING, ASSIGNED, COMPLETED, FAILED, CANCELLED, TIMED_OUT, REJECTED)
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED, TIMED_OUT, REJECTED})


class Task(msgspec.Struct, gc=False, array_like=True):
    """A task's durable record. ``agents``: its gang once assigned; ``done``: the agents of the
    gang that reported success; ``seq``: submission order (list cursors)."""

    info: TaskInfo
    seq: int
    submitted_at: float
    state: str = PENDING
    agents: tuple[str, ...] = ()
    done: tuple[str, ...] = ()
    assigned_at: float | None = None
    finished_at: float | None = None
    reason: str | None = None
    result: str | None = None
    attempts: int = 0


class Agent(msgspec.Struct, gc=False, array_like=True):
    """An agent's durable record; ``tasks``: assignments it has not reported on yet."""

    info: AgentInfo
    seq: int
    registered_at: float
    tasks: tuple[str, ...] = ()
