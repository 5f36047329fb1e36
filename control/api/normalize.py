"""Request bodies -> the commands' records: the one normalisation of what callers send.

Used by the HTTP handlers and by the embedded SDK, so a request means the same thing with or
without a server in between: capability and compartment lists become sorted tuples without
repeats (equal specs encode equally in the log), compartments upper case (as accounts hold
them), a task without an id gets a fresh uuid4, and the submitting user comes from the caller's
credential, never from the body; so does the trace context (the submission's span, as a W3C
``traceparent``), never from the body.
"""

from __future__ import annotations

import uuid

from ..state.commands import AgentInfo, TaskInfo
from . import schemas as s


def labels(values) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def compartments(values) -> tuple[str, ...]:
    """Compartment names as the security policy and user accounts hold them: upper case."""
    return tuple(sorted({v.upper() for v in values}))


def agent_info(body: s.AgentRegistration) -> AgentInfo:
    return AgentInfo(agent_id=body.agent_id, capabilities=labels(body.capabilities),
                     clearance=body.security_clearance,
                     compartments=compartments(body.compartments),
                     capacity=body.capacity, failure_domain=body.failure_domain,
                     fitness=float(body.fitness))


def task_info(body: s.TaskSubmission, submitted_by: str | None,
              trace: str | None = None) -> TaskInfo:
    return TaskInfo(task_id=body.task_id or uuid.uuid4().hex,
                    description=body.task_description, priority=body.priority,
                    required_agents=body.required_agents,
                    capabilities=labels(body.required_capabilities),
                    classification=body.classification,
                    compartments=compartments(body.compartments),
                    timeout_s=body.timeout_s, submitted_by=submitted_by, strategy=body.strategy,
                    trace=trace)
