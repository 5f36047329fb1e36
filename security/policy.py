"""Authorisation: roles, Bell-LaPadula multilevel security, compartments, agents as themselves.

Use cases::

    d = decide(cred, "classified-intelligence", "analyze",
               {"classification": SecurityLevel.SECRET, "compartment": "INTEL"})
    d.allowed, d.reason, d.rule      # (False, "denied: ...", "mls-read") ...

Rules, in order; the first that refuses decides:

1. ``role``: the action must be one the role may take (``ROLE_ACTIONS``); unknown actions
   are refused.
2. ``agent-self``: an agent acts only as itself: ``context["agent_id"]``, when given, must be
   its own id, and agent-scoped actions (heartbeat, report, fetch) must name it.
3. ``mls-read`` (simple security property, no read up): for reading actions the session level
   must dominate the classification.
4. ``mls-write`` (*-property, no write down): for writing actions the classification must
   dominate the session level; writing above one's clearance is refused too (a stricter,
   common reading of BLP). A session runs at the level asked for at login
   (``clearance_required``), by default the clearance: log in at a lower level to write lower.
   Rules 3-4 apply to labelled resources, i.e. when the context carries a ``classification``;
   an unlabelled resource (system metadata such as a heartbeat) is governed by the other rules.
5. ``compartment`` (need-to-know): every compartment of the resource must be held.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidArgument
from .levels import Role, SecurityLevel, parse_level
from .users import parse_compartments

READ = frozenset({"read", "get", "list", "view", "analyze", "query", "status", "fetch"})
WRITE = frozenset({"write", "submit", "create", "update", "cancel", "delete", "register",
                   "deregister", "assign", "complete", "fail", "heartbeat", "report"})
ADMIN = frozenset({"manage_users", "configure", "rotate_keys", "revoke", "prune_audit"})
AGENT_SCOPED = frozenset({"heartbeat", "report", "fetch", "complete", "fail"})
ROLE_ACTIONS = {
    Role.ADMIN: READ | WRITE | ADMIN,
    Role.OPERATOR: READ | WRITE,
    Role.ANALYST: READ | {"submit", "cancel"},
    Role.AGENT: frozenset({"read", "get", "list", "fetch", "heartbeat", "report", "complete",
                           "fail"}),
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    rule: str


def _deny(rule: str, why: str) -> Decision:
    return Decision(False, f"denied ({rule}): {why}", rule)


def _role(cred, action: str) -> Decision | None:
    if action not in READ | WRITE | ADMIN:
        return _deny("role", f"unknown action {action!r}")
    if action not in ROLE_ACTIONS[cred.role]:
        return _deny("role", f"role {cred.role.value} may not {action}")
    return None


def _agent_self(cred, action: str, ctx: dict) -> Decision | None:
    if cred.role is not Role.AGENT:
        return None
    named = ctx.get("agent_id")
    if named is None and action in AGENT_SCOPED:
        return _deny("agent-self", f"agent {cred.user_id!r} must name itself (agent_id) to "
                                   f"{action}")
    if named is not None and named != cred.user_id:
        return _deny("agent-self", f"agent {cred.user_id!r} may act only as itself, not as "
                                   f"{named!r}")
    return None


def _mls(cred, action: str, cls: SecurityLevel | None) -> Decision | None:
    if cls is None:
        return None
    lvl, clr = cred.level, cred.clearance
    if action in READ and lvl < cls:
        return _deny("mls-read", f"session level {lvl.name} does not dominate classification "
                                 f"{cls.name} (no read up)")
    if action in WRITE | ADMIN and cls < lvl:
        return _deny("mls-write", f"classification {cls.name} is below session level "
                                  f"{lvl.name} (no write down)")
    if action in WRITE | ADMIN and cls > clr:
        return _deny("mls-write", f"classification {cls.name} is above clearance {clr.name}")
    return None


def _compartments(cred, needed: frozenset) -> Decision | None:
    missing = sorted(needed - cred.compartments)
    if missing:
        return _deny("compartment", f"no need-to-know for compartment(s) {', '.join(missing)}")
    return None


def parse_context(context) -> tuple[SecurityLevel | None, frozenset, dict]:
    """``(classification or None, compartments, context)`` from an authorisation context.
    ``compartment`` (one name) and ``compartments`` (several) are merged."""
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise InvalidArgument("context", f"must be a dict, got {type(context).__name__}")
    cls = context.get("classification")
    cls = None if cls is None else parse_level(cls, "context.classification")
    comps = parse_compartments(context.get("compartments", ()), "context.compartments")
    if context.get("compartment") is not None:
        comps |= parse_compartments(context["compartment"], "context.compartment")
    agent_id = context.get("agent_id")
    if agent_id is not None and not isinstance(agent_id, str):
        raise InvalidArgument("context.agent_id", f"must be a string, got {agent_id!r}")
    return cls, comps, context


def decide(cred, resource: str, action: str, context=None) -> Decision:
    """The decision for ``cred`` taking ``action`` on ``resource`` (see the module rules)."""
    if not isinstance(resource, str) or not resource:
        raise InvalidArgument("resource", f"must be a non-empty string, got {resource!r}")
    if not isinstance(action, str) or not action:
        raise InvalidArgument("action", f"must be a non-empty string, got {action!r}")
    cls, comps, ctx = parse_context(context)
    for check in (lambda: _role(cred, action), lambda: _agent_self(cred, action, ctx),
                  lambda: _mls(cred, action, cls), lambda: _compartments(cred, comps)):
        refusal = check()
        if refusal is not None:
            return refusal
    held = ",".join(sorted(comps)) or "none"
    label = cls.name if cls is not None else "unlabelled"
    return Decision(True, f"granted: {cred.role.value} {cred.user_id!r} may {action} "
                          f"{resource!r} ({label}; session {cred.level.name}, "
                          f"compartments {held})", "granted")
