"""Authorisation: roles, Bell-LaPadula multilevel security, compartments, ownership, source.

Use cases::

    d = decide(cred, "classified-intelligence", "analyze",
               {"classification": SecurityLevel.SECRET, "compartment": "INTEL"})
    d.allowed, d.reason, d.rule      # (False, "denied: ...", "mls-read") ...
    decide(cred, "tasks", "cancel", {"classification": 2, "compartments": ["INTEL"],
                                     "owner": "analyst-001", "source": "10.0.1.7"})

The context is the full picture of one request: the object's labels (``classification``,
``compartments``) and ``owner``, the agent it names (``agent_id``) and the address the request
came from (``source``); the subject is the credential (role, clearance, session level,
compartments, the account's source allow-list). Rules, in order; the first that refuses decides:

1. ``role``: the action must be one the role may take (``ROLE_ACTIONS``); unknown actions
   are refused.
2. ``agent-self``: an agent acts only as itself: ``context["agent_id"]``, when given, must be
   its own id, and agent-scoped actions (heartbeat, report, fetch) must name it.
3. ``source``: the request's address must lie in the account's allow-list (when it has one), on
   every request, not only at login: a token carried elsewhere is refused.
4. ``owner``: analysts change (cancel, ...) only objects they own (``context["owner"]``).
5. ``mls-read`` (simple security property, no read up): to read a labelled object, or to
   change one that exists (cancel, complete, fail, report, assign, deregister, register an
   agent at a clearance), the session level must dominate its classification: nobody acts on,
   or vouches for, more than they hold.
6. ``mls-write`` (*-property, no write down) for creating a labelled object (``submit``):
   the classification must dominate the session level and not exceed the clearance. A session
   runs at the level asked for at login (``clearance_required``), by default the clearance: log
   in at a lower level to create lower (what a high session writes could carry high data).
   Rules 5-6 apply to labelled resources, i.e. when the context carries a ``classification``;
   an unlabelled resource (system metadata such as a heartbeat) is governed by the other rules.
7. ``compartment`` (need-to-know): every compartment of the resource must be held.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .errors import InvalidArgument
from .levels import Role, SecurityLevel, parse_level
from .users import parse_compartments

READ = frozenset({"read", "get", "list", "view", "analyze", "query", "status", "fetch"})
MODIFY = frozenset({"write", "update", "cancel", "delete", "register", "deregister", "assign",
                    "complete", "fail", "heartbeat", "report"})    # act on an existing object
CREATE = frozenset({"submit", "create"})                          # make a new labelled object
WRITE = MODIFY | CREATE
ADMIN = frozenset({"manage_users", "configure", "rotate_keys", "revoke", "prune_audit",
                   "compliance"})
MONITOR = frozenset({"monitor"})            # watch the service's security (admin, operator)
SELF = frozenset({"logout"})                # on one's own session: every role
AGENT_SCOPED = frozenset({"heartbeat", "report", "fetch", "complete", "fail"})
OWNER_BOUND = frozenset({Role.ANALYST})      # roles that change only what they own
ROLE_ACTIONS = {
    Role.ADMIN: READ | WRITE | ADMIN | MONITOR | SELF,
    Role.OPERATOR: READ | WRITE | MONITOR | SELF,
    Role.ANALYST: READ | SELF | {"submit", "cancel"},
    Role.AGENT: SELF | {"read", "get", "list", "fetch", "heartbeat", "report", "complete",
                        "fail"},
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    rule: str


def _deny(rule: str, why: str) -> Decision:
    return Decision(False, f"denied ({rule}): {why}", rule)


def _role(cred, action: str) -> Decision | None:
    if action not in READ | WRITE | ADMIN | MONITOR | SELF:
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


def _source(cred, source) -> Decision | None:
    nets = getattr(cred, "allowed_sources", ())
    if not nets or source is None:
        return None
    if not any(source in ipaddress.ip_network(n) for n in nets):
        return _deny("source", f"{cred.user_id!r} may act only from {', '.join(nets)}, not "
                               f"from {source}")
    return None


def _owner(cred, action: str, ctx: dict) -> Decision | None:
    if cred.role not in OWNER_BOUND or action not in MODIFY or "owner" not in ctx:
        return None
    owner = ctx["owner"]
    if owner != cred.user_id:
        return _deny("owner", f"{cred.role.value} {cred.user_id!r} may {action} only its own "
                              f"objects (owner {owner!r})")
    return None


def _mls(cred, action: str, cls: SecurityLevel | None) -> Decision | None:
    if cls is None:
        return None
    lvl, clr = cred.level, cred.clearance
    if action in READ | MODIFY and lvl < cls:
        return _deny("mls-read", f"session level {lvl.name} does not dominate classification "
                                 f"{cls.name} (no read up)")
    if action in CREATE | ADMIN and cls < lvl:
        return _deny("mls-write", f"classification {cls.name} is below session level "
                                  f"{lvl.name} (no write down)")
    if action in CREATE | ADMIN and cls > clr:
        return _deny("mls-write", f"classification {cls.name} is above clearance {clr.name}")
    return None


def _compartments(cred, needed: frozenset) -> Decision | None:
    missing = sorted(needed - cred.compartments)
    if missing:
        return _deny("compartment", f"no need-to-know for compartment(s) {', '.join(missing)}")
    return None


def parse_context(context) -> tuple[SecurityLevel | None, frozenset, dict]:
    """``(classification or None, compartments, context)`` from an authorisation context.
    ``compartment`` (one name) and ``compartments`` (several) are merged; ``source`` becomes
    an address object."""
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise InvalidArgument("context", f"must be a dict, got {type(context).__name__}")
    cls = context.get("classification")
    cls = None if cls is None else parse_level(cls, "context.classification")
    comps = parse_compartments(context.get("compartments", ()), "context.compartments")
    if context.get("compartment") is not None:
        comps |= parse_compartments(context["compartment"], "context.compartment")
    for name in ("agent_id", "owner"):
        value = context.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidArgument(f"context.{name}", f"must be a string, got {value!r}")
    source = context.get("source")
    if source is not None:
        try:
            context = {**context, "source": ipaddress.ip_address(source)}
        except ValueError:
            raise InvalidArgument("context.source", f"not an IP address: {source!r}") from None
    return cls, comps, context


def decide(cred, resource: str, action: str, context=None) -> Decision:
    """The decision for ``cred`` taking ``action`` on ``resource`` (see the module rules)."""
    if not isinstance(resource, str) or not resource:
        raise InvalidArgument("resource", f"must be a non-empty string, got {resource!r}")
    if not isinstance(action, str) or not action:
        raise InvalidArgument("action", f"must be a non-empty string, got {action!r}")
    cls, comps, ctx = parse_context(context)
    for check in (lambda: _role(cred, action), lambda: _agent_self(cred, action, ctx),
                  lambda: _source(cred, ctx.get("source")), lambda: _owner(cred, action, ctx),
                  lambda: _mls(cred, action, cls), lambda: _compartments(cred, comps)):
        refusal = check()
        if refusal is not None:
            return refusal
    held = ",".join(sorted(comps)) or "none"
    label = cls.name if cls is not None else "unlabelled"
    return Decision(True, f"granted: {cred.role.value} {cred.user_id!r} may {action} "
                          f"{resource!r} ({label}; session {cred.level.name}, "
                          f"compartments {held})", "granted")
