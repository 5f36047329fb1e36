"""HTTP handlers: parse, call the orchestrator, serialise. Nothing else happens here.

``ROUTES`` is the single table of (method, path, handler, operation id); ``app.py`` installs it
and ``openapi.py`` documents it, and a test checks that the two agree.
"""

from __future__ import annotations

import uuid

import msgspec
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import commands as cmds
from ..errors import ControlError
from . import schemas as s
from .auth import caller, login
from .codec import read_body, read_query, respond

ORCH = web.AppKey("orchestrator", object)
OPENAPI = web.AppKey("openapi", dict)


def _opt(value):
    """A query value, or None where the parameter was absent."""
    return None if value is msgspec.UNSET else value


def _orch(request: web.Request):
    return request.app[ORCH]


# ---- health, metrics, docs --------------------------------------------------------------
async def live(request: web.Request) -> web.Response:
    return respond(request, {"status": "live"})


async def ready(request: web.Request) -> web.Response:
    if not _orch(request).ready:
        raise ControlError("not_ready", "the orchestrator is starting or shutting down", 503)
    return respond(request, {"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(_orch(request).metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return respond(request, request.app[OPENAPI])


async def status(request: web.Request) -> web.Response:
    return respond(request, _orch(request).status())


# ---- agents -----------------------------------------------------------------------------
async def register_agent(request: web.Request) -> web.Response:
    body = await read_body(request, s.AgentRegistration)
    info = cmds.AgentInfo(agent_id=body.agent_id, capabilities=tuple(sorted(set(body.capabilities))),
                          clearance=body.security_clearance,
                          compartments=tuple(sorted(set(body.compartments))),
                          capacity=body.capacity, failure_domain=body.failure_domain,
                          fitness=float(body.fitness))
    view, created = await _orch(request).register_agent(info)
    return respond(request, view, 201 if created else 200)


async def list_agents(request: web.Request) -> web.Response:
    q = read_query(request, s.AgentQuery)
    page = _orch(request).list_agents(capability=_opt(q.capability),
                                      min_clearance=_opt(q.min_clearance),
                                      failure_domain=_opt(q.failure_domain), limit=q.limit,
                                      cursor=q.cursor)
    return respond(request, page)


async def get_agent(request: web.Request) -> web.Response:
    return respond(request, _orch(request).get_agent(request.match_info["agent_id"]))


async def deregister_agent(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    requeued = await _orch(request).deregister_agent(agent_id)
    return respond(request, {"agent_id": agent_id, "requeued_tasks": requeued})


async def heartbeat(request: web.Request) -> web.Response:
    await read_body(request, s.Empty)
    return respond(request, _orch(request).heartbeat(request.match_info["agent_id"]))


async def assignments(request: web.Request) -> web.Response:
    q = read_query(request, s.AssignmentQuery)
    items = await _orch(request).assignments(request.match_info["agent_id"], q.wait)
    return respond(request, items)


async def report_outcome(request: web.Request) -> web.Response:
    body = await read_body(request, s.OutcomeReport)
    view = await _orch(request).report_outcome(
        request.match_info["agent_id"], body.task_id, body.success, body.latency_s,
        body.result, body.reason)
    return respond(request, view)


# ---- tasks ------------------------------------------------------------------------------
def task_info(body: s.TaskSubmission, user: str | None) -> cmds.TaskInfo:
    return cmds.TaskInfo(task_id=body.task_id or uuid.uuid4().hex,
                         description=body.task_description, priority=body.priority,
                         required_agents=body.required_agents,
                         capabilities=tuple(sorted(set(body.required_capabilities))),
                         classification=body.classification,
                         compartments=tuple(sorted(set(body.compartments))),
                         timeout_s=body.timeout_s, submitted_by=user, strategy=body.strategy)


async def submit_task(request: web.Request) -> web.Response:
    body = await read_body(request, s.TaskSubmission)
    info = task_info(body, caller(request))
    try:
        [task_id] = await _orch(request).submit_tasks([info])
    except ControlError as exc:
        if exc.field == "tasks[0].task_id":
            exc.field = "task_id"
        elif exc.field == "tasks[0].strategy":
            exc.field = "strategy"
        raise
    return respond(request, {"task_id": task_id, "state": "pending"}, 201)


async def submit_batch(request: web.Request) -> web.Response:
    body = await read_body(request, s.BatchSubmission)
    user = caller(request)
    ids = await _orch(request).submit_tasks([task_info(t, user) for t in body.tasks])
    return respond(request, {"task_ids": ids}, 201)


async def list_tasks(request: web.Request) -> web.Response:
    q = read_query(request, s.TaskQuery)
    return respond(request, _orch(request).list_tasks(state=_opt(q.state), limit=q.limit,
                                                      cursor=q.cursor))


async def get_task(request: web.Request) -> web.Response:
    return respond(request, _orch(request).get_task(request.match_info["task_id"]))


async def cancel_task(request: web.Request) -> web.Response:
    body = await read_body(request, s.CancelRequest)
    view = await _orch(request).cancel_task(request.match_info["task_id"], body.reason)
    return respond(request, view)


# (method, path, handler, operationId)
ROUTES = (
    ("GET", "/health/live", live, "live"),
    ("GET", "/health/ready", ready, "ready"),
    ("GET", "/metrics", metrics, "metrics"),
    ("GET", "/openapi.json", openapi, "openapi"),
    ("GET", "/v1/status", status, "getStatus"),
    ("POST", "/v1/auth/login", login, "login"),
    ("POST", "/v1/agents", register_agent, "registerAgent"),
    ("GET", "/v1/agents", list_agents, "listAgents"),
    ("GET", "/v1/agents/{agent_id}", get_agent, "getAgent"),
    ("DELETE", "/v1/agents/{agent_id}", deregister_agent, "deregisterAgent"),
    ("POST", "/v1/agents/{agent_id}/heartbeat", heartbeat, "heartbeat"),
    ("GET", "/v1/agents/{agent_id}/assignments", assignments, "getAssignments"),
    ("POST", "/v1/agents/{agent_id}/outcomes", report_outcome, "reportOutcome"),
    ("POST", "/v1/tasks", submit_task, "submitTask"),
    ("POST", "/v1/tasks/batch", submit_batch, "submitTasks"),
    ("GET", "/v1/tasks", list_tasks, "listTasks"),
    ("GET", "/v1/tasks/{task_id}", get_task, "getTask"),
    ("POST", "/v1/tasks/{task_id}/cancel", cancel_task, "cancelTask"),
)

