"""Middlewares: errors as ``{"error": {...}}`` bodies, request metrics, authentication.

Order (outermost first): ``errors`` turns every refusal into the machine-readable body (and an
unexpected exception into a logged 500, which the fuzz test proves no client input reaches),
``timing`` observes latency per route template, ``until_started`` answers 503 while the
orchestrator is still starting, then authentication. Outside them all, ``tracing.server_spans``
opens the request's span, so it sees the final status.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from uqo.control.errors import ControlError

from .codec import respond

_LOG = logging.getLogger(__name__)
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
               401: "unauthenticated", 403: "forbidden"}


@web.middleware
async def errors(request: web.Request, handler):
    try:
        return await handler(request)
    except ControlError as exc:
        return _error(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        return _error(request, ControlError(code, f"{request.method} {request.path}: "
                                            f"{exc.reason}", exc.status, None), exc.headers)
    except Exception:  # noqa: BLE001 - the last line: log it, answer 500, never crash
        _LOG.exception("unhandled error in %s %s", request.method, request.path)
        return _error(request, ControlError("internal", "internal error (logged)", 500))


def _error(request, exc: ControlError, headers=None) -> web.Response:
    response = respond(request, exc.body(), exc.status)
    if headers and "Allow" in headers:
        response.headers["Allow"] = headers["Allow"]
    if exc.retry_after_s is not None:
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


def timing(metrics):
    """Observe each request's latency, labelled by route template (bounded label set)."""

    @web.middleware
    async def middleware(request: web.Request, handler):
        t0 = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            route = request.match_info.route.resource
            name = route.canonical if route is not None else "unmatched"
            metrics.request_seconds.labels(request.method, name, str(status)).observe(
                time.perf_counter() - t0)

    return middleware


def until_started(orch, public_paths):
    """Before the orchestrator has started (``orch.started`` false; recovery and the engine
    build run in the background), answer every non-public route 503 ``starting`` with
    ``Retry-After``: the state is not recovered yet, so no answer could be right."""
    public = frozenset(public_paths)

    @web.middleware
    async def middleware(request: web.Request, handler):
        if not orch.started and request.path not in public:
            raise ControlError("starting", "the orchestrator is starting (recovering the log, "
                               "building the engine); retry shortly", 503, None,
                               retry_after_s=1)
        return await handler(request)

    return middleware


def passthrough_auth():
    """PASS-THROUGH AUTHENTICATION: every caller is accepted as anonymous.

    Installed only while no ``uqo.security`` framework is wired in (``security=None``); the
    orchestrator's status says so (``security.authentication``). With a framework, ``app.py``
    installs ``uqo.security.http.auth_middleware`` instead.
    """

    @web.middleware
    async def middleware(request: web.Request, handler):
        return await handler(request)

    return middleware
