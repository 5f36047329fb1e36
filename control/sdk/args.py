"""The SDK's arguments -> validated request bodies, shared by the HTTP and embedded clients.

Both clients validate through the API's own schemas (``uqo.control.api.schemas``), so a bad
argument raises the same ``ControlError`` (naming the argument) whether or not a server is in
between, and nothing is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import msgspec
from uqo.control.api import schemas
from uqo.control.api.codec import validation_error
from uqo.control.errors import ControlError


def _names(value, arg: str) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ControlError.invalid(f"{arg} must be a set of strings, got {value!r}", arg)
    return sorted(set(value))


def _convert(data: dict, kind):
    try:
        return msgspec.convert(data, type=kind)
    except msgspec.ValidationError as exc:
        raise validation_error(exc, where="argument") from None


def agent_body(agent_id, capabilities=(), security_clearance=0, compartments=(), capacity=1,
               failure_domain=None, fitness=1.0) -> schemas.AgentRegistration:
    return _convert({"agent_id": agent_id,
                     "capabilities": _names(capabilities, "capabilities"),
                     "security_clearance": _level(security_clearance, "security_clearance"),
                     "compartments": _names(compartments, "compartments"),
                     "capacity": capacity, "failure_domain": failure_domain,
                     "fitness": fitness}, schemas.AgentRegistration)


def task_body(task_description="", priority=1, required_agents=1, required_capabilities=(),
              classification=0, compartments=(), timeout_s=None, strategy=None,
              task_id=None) -> schemas.TaskSubmission:
    """A submission with a client-made ``task_id`` (uuid4) unless given, so that a retried
    submit is recognised (409 ``task_exists``) instead of creating a second task."""
    return _convert({"task_id": task_id or uuid.uuid4().hex,
                     "task_description": task_description,
                     "priority": _level(priority, "priority", hi=None),
                     "required_agents": required_agents,
                     "required_capabilities": _names(required_capabilities,
                                                     "required_capabilities"),
                     "classification": _level(classification, "classification"),
                     "compartments": _names(compartments, "compartments"),
                     "timeout_s": timeout_s, "strategy": strategy}, schemas.TaskSubmission)


def outcome_body(task_id, success, latency_s=0.0, result=None,
                 reason="") -> schemas.OutcomeReport:
    return _convert({"task_id": task_id, "success": success, "latency_s": latency_s,
                     "result": result, "reason": reason}, schemas.OutcomeReport)


def _level(value, arg: str, hi: int | None = 3) -> int:
    """IntEnum members (SecurityLevel, TaskPriority) and plain ints; not bools or strings."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlError.invalid(f"{arg} must be an int or an IntEnum member, got "
                                   f"{value!r}", arg)
    if value < 0 or (hi is not None and value > hi):
        raise ControlError.invalid(f"{arg} must be in [0, {hi}], got {int(value)}", arg)
    return int(value)


_LEVEL_NAMES = {"UNCLASSIFIED": 0, "CONFIDENTIAL": 1, "SECRET": 2, "TOP_SECRET": 3}


def level_value(value, arg: str) -> int:
    """A security level from an int, an IntEnum member or its name (``"SECRET"``)."""
    if isinstance(value, str) and value.upper() in _LEVEL_NAMES:
        return _LEVEL_NAMES[value.upper()]
    return _level(value, arg)


def credential_token(credential) -> str | None:
    if credential is None:
        return None
    if isinstance(credential, str):
        return credential
    token = getattr(credential, "token", None)
    if token is None and isinstance(credential, dict):
        token = credential.get("token")
    return token if isinstance(token, str) else None
