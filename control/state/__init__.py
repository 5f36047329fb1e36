"""The replicated core: durable commands, the deterministic state machine that applies them,
the applier that connects it to a ``Log``, and read-only views of its records.

Everything here is deterministic: no clock, no random source, no I/O. Replaying a log gives the
same state on every replica.
"""

from . import commands
from .applier import CommandApplier
from .commands import AgentInfo, TaskInfo
from .machine import AssignResult, StateMachine
from .records import (
    ASSIGNED,
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    REJECTED,
    TASK_STATES,
    TERMINAL,
    TIMED_OUT,
    Agent,
    Task,
)

__all__ = ["ASSIGNED", "CANCELLED", "COMPLETED", "FAILED", "PENDING", "REJECTED", "TASK_STATES",
           "TERMINAL", "TIMED_OUT", "Agent", "AgentInfo", "AssignResult", "CommandApplier",
           "StateMachine", "Task", "TaskInfo", "commands"]
