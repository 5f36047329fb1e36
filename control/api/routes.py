"""The route table: every route with its method, path, handler, operation id and access rule.

Use cases::

    for route in ROUTES:                          # app.py installs them, openapi.py documents
        app.router.add_route(route.method, route.path, route.handler, name=route.name)
    ROUTE_BY_NAME["cancelTask"].access            # Access("tasks", "cancel")
    PUBLIC_PATHS                                  # paths answered without a credential

Authorisation is declared here, on the route, not in a table kept apart: a ``Route`` cannot be
built without an ``Access`` (``PUBLIC``, or ``needs(resource, action, on=TARGET)`` for the
security policy, where the target names the labelled object the decision needs: see
``access.py``), so a route added without a rule fails at import, and a test checks that every
route the app serves comes from this table, and decides every route for every role, clearance
and compartment against a naive oracle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from . import admin as adm
from . import handlers as h
from . import statuspage as ui
from .access import AGENT, NEW_AGENT, NEW_TASK, NEW_TASKS, OUTCOME, TASK, Target
from .auth import login, logout


@dataclass(frozen=True)
class Access:
    """Who may call a route: ``resource``/``action`` as ``uqo.security.policy.decide`` takes
    them, and ``on``: the labelled object the decision is about (None: unlabelled); all None
    for a public route (no credential needed)."""

    resource: str | None
    action: str | None
    on: Target | None = None

    @property
    def public(self) -> bool:
        return self.resource is None


PUBLIC = Access(None, None)


def needs(resource: str, action: str, on: Target | None = None) -> Access:
    if not (isinstance(resource, str) and resource and isinstance(action, str) and action):
        raise ValueError(f"an access rule needs a resource and an action, got "
                         f"{resource!r}, {action!r}")
    if on is not None and not isinstance(on, Target):
        raise TypeError(f"on= must be an access.Target, got {on!r}")
    return Access(resource, action, on)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    name: str                       # the OpenAPI operationId
    access: Access

    def __post_init__(self) -> None:
        if not isinstance(self.access, Access):
            raise TypeError(f"route {self.method} {self.path} ({self.name}) has no access "
                            f"rule: give PUBLIC or needs(resource, action), got "
                            f"{self.access!r}")


ROUTES = (
    Route("GET", "/health/live", h.live, "live", PUBLIC),
    Route("GET", "/health/ready", h.ready, "ready", PUBLIC),
    Route("GET", "/metrics", h.metrics, "metrics", PUBLIC),
    Route("GET", "/openapi.json", h.openapi, "openapi", needs("api", "read")),
    Route("GET", "/v1/status", h.status, "getStatus", needs("status", "status")),
    Route("GET", "/v1/status/stream", ui.status_stream, "streamStatus",
          needs("status", "status")),
    Route("GET", "/v1/security/events", ui.security_events, "listSecurityEvents",
          needs("security_events", "monitor")),
    Route("GET", "/ui", ui.page, "statusPage", PUBLIC),
    Route("GET", "/ui/app.js", ui.script, "statusPageScript", PUBLIC),
    Route("GET", "/ui/style.css", ui.style, "statusPageStyle", PUBLIC),
    Route("POST", "/v1/auth/login", login, "login", PUBLIC),
    Route("POST", "/v1/auth/logout", logout, "logout", needs("sessions", "logout")),
    Route("POST", "/v1/auth/revoke", adm.revoke_token, "revokeToken",
          needs("sessions", "revoke")),
    Route("POST", "/v1/agents", h.register_agent, "registerAgent",
          needs("agents", "register", on=NEW_AGENT)),
    Route("GET", "/v1/agents", h.list_agents, "listAgents", needs("agents", "list")),
    Route("GET", "/v1/agents/{agent_id}", h.get_agent, "getAgent",
          needs("agents", "get", on=AGENT)),
    Route("DELETE", "/v1/agents/{agent_id}", h.deregister_agent, "deregisterAgent",
          needs("agents", "deregister", on=AGENT)),
    Route("POST", "/v1/agents/{agent_id}/heartbeat", h.heartbeat, "heartbeat",
          needs("agents", "heartbeat", on=AGENT)),
    Route("GET", "/v1/agents/{agent_id}/assignments", h.assignments, "getAssignments",
          needs("agents", "fetch", on=AGENT)),
    Route("POST", "/v1/agents/{agent_id}/outcomes", h.report_outcome, "reportOutcome",
          needs("agents", "report", on=OUTCOME)),
    Route("POST", "/v1/tasks", h.submit_task, "submitTask", needs("tasks", "submit", on=NEW_TASK)),
    Route("POST", "/v1/tasks/batch", h.submit_batch, "submitTasks",
          needs("tasks", "submit", on=NEW_TASKS)),
    Route("GET", "/v1/tasks", h.list_tasks, "listTasks", needs("tasks", "list")),
    Route("GET", "/v1/tasks/{task_id}", h.get_task, "getTask", needs("tasks", "get", on=TASK)),
    Route("POST", "/v1/tasks/{task_id}/cancel", h.cancel_task, "cancelTask",
          needs("tasks", "cancel", on=TASK)),
    Route("GET", "/v1/users", adm.list_users, "listUsers", needs("users", "manage_users")),
    Route("POST", "/v1/users", adm.add_user, "addUser", needs("users", "manage_users")),
    Route("GET", "/v1/users/{user_id}", adm.get_user, "getUser", needs("users", "manage_users")),
    Route("DELETE", "/v1/users/{user_id}", adm.remove_user, "removeUser",
          needs("users", "manage_users")),
    Route("POST", "/v1/users/{user_id}/disable", adm.disable_user, "disableUser",
          needs("users", "manage_users")),
    Route("POST", "/v1/users/{user_id}/enable", adm.enable_user, "enableUser",
          needs("users", "manage_users")),
    Route("POST", "/v1/users/{user_id}/unlock", adm.unlock_user, "unlockUser",
          needs("users", "manage_users")),
    Route("POST", "/v1/users/{user_id}/revoke", adm.revoke_user, "revokeUser",
          needs("users", "revoke")),
    Route("PUT", "/v1/users/{user_id}/clearance", adm.set_clearance, "setClearance",
          needs("users", "manage_users")),
    Route("GET", "/v1/keys", adm.get_keys, "getKeys", needs("keys", "configure")),
    Route("POST", "/v1/keys/rotate", adm.rotate_key, "rotateKey", needs("keys", "rotate_keys")),
    Route("GET", "/v1/compliance", adm.compliance, "getCompliance",
          needs("compliance", "compliance")),
)
ROUTE_BY_NAME = {r.name: r for r in ROUTES}
PUBLIC_PATHS = tuple(r.path for r in ROUTES if r.access.public)
