"""Authorisation of every route: one policy decision, with the full context, before the handler.

Use cases::

    Route("GET", "/v1/tasks/{task_id}", h.get_task, "getTask", needs("tasks", "get", on=TASK))
    middlewares = [..., auth_middleware(fw), authorization(fw)]      # see auth.py
    page = orch.list_tasks(..., visible=scope_of(request).task)       # lists: what it may read

Each route declares ``needs(resource, action, on=TARGET)`` (``routes.py``); a route cannot be
built without one, and the app serves no route outside the table. Before the handler runs,
``authorization`` loads the object the target names and asks ``uqo.security.policy.decide``
once per distinct label, with the whole picture:

* the subject: the credential (role, clearance, session level, compartments, the account's
  source allow-list) and the address the request came from;
* the object: its classification, compartments and owner (a task: its submitter), and the
  agent the route names.

Targets: ``TASK`` (the task in the path), ``AGENT`` (the agent in the path), ``NEW_TASK`` /
``NEW_TASKS`` (the task(s) in the body: every label of a batch), ``NEW_AGENT`` (the agent in
the body: its clearance and compartments; nobody registers an agent above what they hold, and
when an account of that name exists it must hold them too, so the scheduler never assigns the
agent work its own credential could not fetch), ``OUTCOME`` (the task a report names; the
action is ``complete`` or ``fail``), and ``None`` (unlabelled: status, lists, users, keys).
The body a target decodes is kept for the handler (``read_body`` returns it), so it is read
once. Lists and counts are filtered by the caller's ``Scope`` (one decision per label), which
the orchestrator's list calls require.

Every refusal is a 403 whose body names the rule (``{"error": {"code": "forbidden",
"reason": "mls-read", ...}}``) and is written to the audit log; a grant is not (the command
log holds what a granted request changed, with the caller as ``submitted_by``): one fsync'd
record per request measured ~700 requests/s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from uqo.control.errors import ControlError

from . import schemas as s
from .appkeys import ORCH, ROUTE_TABLE, SECURITY
from .codec import read_body
from .normalize import compartments as norm_compartments

SCOPE = web.RequestKey("uqo_scope", object)


@dataclass(frozen=True)
class Labels:
    """What the policy needs to know about one object (None: unlabelled / no owner)."""

    classification: int | None = None
    compartments: tuple[str, ...] = ()
    owner: str | None = None
    agent_id: str | None = None

    def context(self, source: str | None) -> dict:
        ctx: dict = {"source": source}
        if self.classification is not None:
            ctx["classification"] = self.classification
            ctx["compartments"] = self.compartments
        if self.owner is not None:
            ctx["owner"] = self.owner
        if self.agent_id is not None:
            ctx["agent_id"] = self.agent_id
        return ctx


Loaded = tuple[str | None, list[Labels]]        # (the action, if the target decides it; labels)


@dataclass(frozen=True)
class Target:
    """How to find the labelled object(s) a route acts on."""

    name: str
    load: Callable[[web.Request, object], Awaitable[Loaded]]


def task_labels(task) -> Labels:
    info = task.info
    return Labels(info.classification, info.compartments, info.submitted_by or "")


def agent_labels(agent) -> Labels:
    info = agent.info
    return Labels(info.clearance, info.compartments, None, info.agent_id)



async def _task_in_path(request, orch) -> Loaded:
    return None, [task_labels(orch.task_record(request.match_info["task_id"]))]


async def _agent_in_path(request, orch) -> Loaded:
    return None, [agent_labels(orch.agent_record(request.match_info["agent_id"]))]


async def _new_task(request, orch) -> Loaded:
    body = await read_body(request, s.TaskSubmission)
    return None, [Labels(body.classification, norm_compartments(body.compartments))]


async def _new_tasks(request, orch) -> Loaded:
    body = await read_body(request, s.BatchSubmission)
    labels = {(t.classification, norm_compartments(t.compartments)) for t in body.tasks}
    return None, [Labels(cls, comps) for cls, comps in sorted(labels)]


async def _new_agent(request, orch) -> Loaded:
    body = await read_body(request, s.AgentRegistration)
    return None, [Labels(body.security_clearance, norm_compartments(body.compartments), None,
                         body.agent_id)]


async def _outcome(request, orch) -> Loaded:
    body = await read_body(request, s.OutcomeReport)
    agent_id = request.match_info["agent_id"]
    orch.agent_record(agent_id)
    task = orch.task_record(body.task_id)
    labels = task_labels(task)
    return ("complete" if body.success else "fail",
            [Labels(labels.classification, labels.compartments, labels.owner, agent_id)])


TASK = Target("the task in the path", _task_in_path)
AGENT = Target("the agent in the path", _agent_in_path)
NEW_TASK = Target("the task in the body", _new_task)
NEW_TASKS = Target("every task in the body", _new_tasks)
NEW_AGENT = Target("the agent in the body", _new_agent)
OUTCOME = Target("the task the report names", _outcome)


def _forbidden(decision) -> ControlError:
    return ControlError("forbidden", decision.reason, 403, None, reason=decision.rule)


def authorization(fw):
    """The middleware (after authentication): decide, audit refusals, then the handler."""
    from uqo.security.http import CREDENTIAL
    from uqo.security.policy import decide

    async def refuse(cred, decision, resource, action, ctx):
        await fw.audit_decision(decision, cred.user_id, resource, action, ctx)
        raise _forbidden(decision)

    @web.middleware
    async def middleware(request: web.Request, handler):
        route = request.app[ROUTE_TABLE].get(request.match_info.route.name)
        cred = request.get(CREDENTIAL)
        if route is None or route.access.public or cred is None:
            return await handler(request)
        access, source = route.access, request.remote
        action, objects = access.action, [Labels()]
        if access.on is not None:
            decided, objects = await access.on.load(request, request.app[ORCH])
            action = decided or action
        for labels in dict.fromkeys(objects):
            ctx = labels.context(source)
            decision = decide(cred, access.resource, action, ctx)
            if not decision.allowed:
                await refuse(cred, decision, access.resource, action, ctx)
        if access.on is NEW_AGENT:
            decision = _account_holds(fw, objects[0], source)
            if decision is not None and not decision.allowed:
                await refuse(cred, decision, access.resource, action, objects[0].context(source))
        request[SCOPE] = Scope(cred, source, decide)
        return await handler(request)

    return middleware


def _account_holds(fw, labels: Labels, source):
    """When an account named like the agent exists, it must be able to fetch work at the
    agent's labels as itself (else the scheduler would assign what the agent cannot fetch)."""
    from uqo.security.levels import SecurityLevel
    from uqo.security.policy import Decision, decide
    from uqo.security.tokens import Credential

    user = fw.users.get(labels.agent_id)
    if user is None:
        return None
    access = fw.tokens.sessions.access(user.user_id)
    clearance = user.clearance if access is None or access.clearance is None \
        else SecurityLevel(access.clearance)
    comps = user.compartments if access is None or access.compartments is None \
        else frozenset(access.compartments)
    account = Credential("", "", user.user_id, user.role, clearance, clearance, comps, 0.0, 0.0,
                         "account")
    d = decide(account, "agents", "fetch", {**labels.context(None), "agent_id": user.user_id})
    if d.allowed:
        return None
    return Decision(False, f"denied (agent-account): the account {user.user_id!r} could not "
                           f"fetch work at these labels: {d.reason}", "agent-account")


class Scope:
    """What one caller may read: predicates for lists, filtered counts for the status.
    One decision per distinct label, cached for the request."""

    def __init__(self, cred, source, decide):
        self.cred, self.source, self._decide = cred, source, decide
        self._seen: dict[tuple, bool] = {}

    def label(self, classification: int, compartments: tuple[str, ...],
              resource: str = "tasks") -> bool:
        key = (resource, classification, compartments)
        allowed = self._seen.get(key)
        if allowed is None:
            ctx = Labels(classification, compartments).context(self.source)
            allowed = self._seen[key] = self._decide(self.cred, resource, "list", ctx).allowed
        return allowed

    def task(self, task) -> bool:
        info = task.info
        return self.label(info.classification, info.compartments)

    def agent(self, agent) -> bool:
        info = agent.info
        return self.label(info.clearance, info.compartments, "agents")

    def status(self, orch) -> dict:
        """``/v1/status`` with the task and agent counts of what this caller may read."""
        status = orch.status()
        sm = orch.sm
        tasks = sm.labels.visible(self.label)
        agents = sum(n for (cls, comps), n in sm.agent_labels.items()
                     if self.label(cls, comps, "agents"))
        sched = status["scheduler"]
        sched["tasks"] = {state: tasks.get(state, 0) for state in sched["tasks"]}
        if agents != sched["agents"]:          # the fleet-wide engine counts would tell more
            status["quantum"] = {**status["quantum"], "n_agents": None, "n_pairs": None}
            status["failure_domains"] = None            # per-domain counts would, too
        sched["agents"] = agents
        return status


class _Everything:
    """No authentication (pass-through): every record is visible."""

    task = agent = None

    @staticmethod
    def status(orch) -> dict:
        return orch.status()


EVERYTHING = _Everything()


def scope_of(request: web.Request):
    """The caller's ``Scope`` (``EVERYTHING`` when the server runs without authentication)."""
    scope = request.get(SCOPE)
    if scope is None:
        if request.app.get(SECURITY) is not None:
            raise RuntimeError("a route reached a handler without an authorisation scope")
        return EVERYTHING
    return scope
