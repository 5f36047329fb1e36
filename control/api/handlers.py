"""HTTP handlers: parse, call the orchestrator, serialise. Nothing else happens here.

A write that logs a command runs through ``replay_or`` (``idempotency.py``): under an
``Idempotency-Key`` already applied it answers with the first result, shaped as ``write`` does.

The route table that names each handler, with its path and access rule, is ``routes.ROUTES``;
the authorisation middleware (``access.py``) has decided on the object a handler touches
before it runs, and hands lists and counts the caller's ``Scope`` (what it may read).
"""

from __future__ import annotations

import msgspec
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from uqo.control.errors import ControlError
from uqo.control.state.views import agent_view, task_view
from uqo.control.tracing import traceparent

from . import schemas as s
from .access import scope_of
from .appkeys import OPENAPI, ORCH
from .auth import caller
from .codec import read_body, read_query, respond
from .idempotency import replay_or
from .normalize import agent_info, task_info

__all__ = ["OPENAPI", "ORCH"]


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
    return respond(request, scope_of(request).status(_orch(request)))


# ---- agents -----------------------------------------------------------------------------
async def register_agent(request: web.Request) -> web.Response:
    body = await read_body(request, s.AgentRegistration)
    view, created = await replay_or(request, lambda: _orch(request).register_agent(
        agent_info(body)), lambda agent: (agent_view(agent), True))
    return respond(request, view, 201 if created else 200)


async def list_agents(request: web.Request) -> web.Response:
    q = read_query(request, s.AgentQuery)
    page = _orch(request).list_agents(capability=_opt(q.capability),
                                      min_clearance=_opt(q.min_clearance),
                                      failure_domain=_opt(q.failure_domain), limit=q.limit,
                                      cursor=q.cursor, visible=scope_of(request).agent)
    return respond(request, page)


async def get_agent(request: web.Request) -> web.Response:
    return respond(request, _orch(request).get_agent(request.match_info["agent_id"]))


async def deregister_agent(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    requeued = await replay_or(request, lambda: _orch(request).deregister_agent(agent_id))
    return respond(request, {"agent_id": agent_id, "requeued_tasks": requeued})


async def heartbeat(request: web.Request) -> web.Response:
    body = await read_body(request, s.HeartbeatBody)
    return respond(request, _orch(request).heartbeat(request.match_info["agent_id"],
                                                     body.probe_id, body.healthy))


async def assignments(request: web.Request) -> web.Response:
    q = read_query(request, s.AssignmentQuery)
    items = await _orch(request).assignments(request.match_info["agent_id"], q.wait)
    return respond(request, items)


async def report_outcome(request: web.Request) -> web.Response:
    body = await read_body(request, s.OutcomeReport)
    view = await replay_or(request, lambda: _orch(request).report_outcome(
        request.match_info["agent_id"], body.task_id, body.success, body.latency_s,
        body.result, body.reason), task_view)
    return respond(request, view)


# ---- tasks ------------------------------------------------------------------------------
async def submit_task(request: web.Request) -> web.Response:
    body = await read_body(request, s.TaskSubmission)
    info = task_info(body, caller(request), traceparent())
    try:
        [task_id] = await replay_or(request, lambda: _orch(request).submit_tasks([info]))
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
    trace = traceparent()
    ids = await replay_or(request, lambda: _orch(request).submit_tasks(
        [task_info(t, user, trace) for t in body.tasks]))
    return respond(request, {"task_ids": ids}, 201)


async def list_tasks(request: web.Request) -> web.Response:
    q = read_query(request, s.TaskQuery)
    return respond(request, _orch(request).list_tasks(state=_opt(q.state), limit=q.limit,
                                                      cursor=q.cursor,
                                                      visible=scope_of(request).task))


async def get_task(request: web.Request) -> web.Response:
    return respond(request, _orch(request).get_task(request.match_info["task_id"]))


async def cancel_task(request: web.Request) -> web.Response:
    body = await read_body(request, s.CancelRequest)
    view = await replay_or(request, lambda: _orch(request).cancel_task(
        request.match_info["task_id"], body.reason), task_view)
    return respond(request, view)
