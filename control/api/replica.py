"""Replicas over HTTP: writes on a follower go to the leader; reads are linearizable by default.

Use cases (installed by ``app.py``; a no-op on the single-node log)::

    POST /v1/tasks            on a follower: forwarded to the leader, its answer relayed
                              (``follower_writes = "redirect"``: 307 with the leader's URL)
    GET  /v1/tasks/t1         on any replica: waits until it has applied every write
                              acknowledged before the read began (etcd's ReadIndex), then reads
    GET  /v1/tasks/t1?stale=true   reads this replica's state as it is, at once

Which requests need the leader: every one that changes state (POST, DELETE), and the agents'
long-poll for assignments (it is also a heartbeat, soft state only the leader keeps). Local on
every replica: health, metrics, ``/openapi.json``, ``/v1/status`` (a report on this replica) and
``/v1/auth/login`` (sessions are issued by the replica's own security framework).

Forwarding carries the method, path, query, body and the ``Authorization``, ``Content-Type``,
``Accept`` and ``Idempotency-Key`` headers (and relays ``Idempotent-Replayed`` back); the leader authenticates and authorises the caller itself. A forwarded
request that reaches a replica that is not the leader (leadership moved meanwhile) is not
forwarded again: it gets 503. Every 503 from here carries ``Retry-After``; clients (the SDK,
the worker) retry, on another endpoint if they have several.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web
from uqo.control.errors import ControlError

from .codec import respond

FORWARDED_BY = "X-Uqo-Forwarded-By"
LEADER_HEADER = "X-Uqo-Leader"
FORWARD_SESSION = web.AppKey("forward_session", aiohttp.ClientSession)
FORWARD_SSL = web.AppKey("forward_ssl", object)   # TLS to the leader (server/tls.py), if any
_LOCAL_PREFIXES = ("/health/", "/metrics", "/openapi.json", "/v1/status", "/v1/auth/")
_READ_PREFIXES = ("/v1/agents", "/v1/tasks")
_PASS_HEADERS = ("Authorization", "Content-Type", "Accept", "Idempotency-Key")
RETRY_AFTER_S = "1"


def needs_leader(method: str, path: str) -> bool:
    if path.startswith(_LOCAL_PREFIXES):
        return False
    return method not in ("GET", "HEAD") or path.endswith("/assignments")


def is_state_read(method: str, path: str) -> bool:
    return method in ("GET", "HEAD") and path.startswith(_READ_PREFIXES)


def stale_flag(request: web.Request) -> bool:
    values = request.rel_url.query.getall("stale", [])
    if not values:
        return False
    if len(values) > 1 or values[0].lower() not in ("true", "false", "1", "0"):
        raise ControlError.invalid(f"query parameter stale={values!r}: expected true or "
                                   "false", "stale")
    return values[0].lower() in ("true", "1")


def middleware(orch_key):
    """The replica middleware over the orchestrator at ``app[orch_key]``."""

    @web.middleware
    async def replica(request: web.Request, handler):
        orch = request.app[orch_key]
        if not getattr(orch, "replicated", False):
            return await handler(request)
        try:
            if needs_leader(request.method, request.path):
                if orch.log.is_leader:
                    return await handler(request)
                return await _to_leader(request, orch)
            if is_state_read(request.method, request.path):
                stale = stale_flag(request)
                request = request.clone(rel_url=request.rel_url.without_query_params("stale"))
                if not stale:
                    await orch.read_barrier()
            return await handler(request)
        except ControlError as exc:
            if exc.status != 503:
                raise
            response = respond(request, exc.body(), 503)
            response.headers["Retry-After"] = RETRY_AFTER_S
            return response

    return replica


async def _to_leader(request: web.Request, orch) -> web.StreamResponse:
    leader = orch.log.leader
    me = orch.cfg.replica_id
    if leader is None or not leader.url or leader.replica_id == me:
        raise ControlError("no_leader", "no leader is elected right now (an election is "
                           "under way); retry shortly", 503)
    if request.headers.get(FORWARDED_BY):
        raise ControlError("not_leader", f"forwarded by {request.headers[FORWARDED_BY]} to "
                           f"{me}, which is not the leader (leadership is moving); retry", 503)
    target = leader.url.rstrip("/") + request.rel_url.path_qs
    if orch.cfg.follower_writes == "redirect":
        raise web.HTTPTemporaryRedirect(target, headers={LEADER_HEADER: leader.url})
    headers = {k: request.headers[k] for k in _PASS_HEADERS if k in request.headers}
    headers[FORWARDED_BY] = me
    body = await request.read()
    session = request.app[FORWARD_SESSION]
    timeout = aiohttp.ClientTimeout(total=orch.cfg.long_poll_max_s + 15.0)
    try:
        async with session.request(request.method, target, data=body or None, headers=headers,
                                   timeout=timeout, allow_redirects=False) as resp:
            raw = await resp.read()
            out = web.Response(status=resp.status, body=raw)
            for name in ("Content-Type", "Retry-After", "Idempotent-Replayed"):
                if name in resp.headers:
                    out.headers[name] = resp.headers[name]
            out.headers[LEADER_HEADER] = leader.url
            return out
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise ControlError("unavailable", f"the leader {leader.replica_id} at {leader.url} "
                           f"did not answer ({type(exc).__name__}); the write may or may not "
                           "have been applied: retry", 503) from None


async def forward_session_ctx(app: web.Application):
    """One client session for forwarding, opened and closed with the app (over mutual TLS
    when the server runs TLS: ``app[FORWARD_SSL]``)."""
    ssl = app.get(FORWARD_SSL)
    connector = aiohttp.TCPConnector(ssl=ssl) if ssl is not None else None
    app[FORWARD_SESSION] = aiohttp.ClientSession(connector=connector)
    yield
    await app[FORWARD_SESSION].close()
