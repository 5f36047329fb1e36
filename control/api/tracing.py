"""Server spans: one SERVER span per HTTP request, continuing the caller's W3C trace context.

Use case::

    web.Application(middlewares=[server_spans, errors, ...])   # outermost: sees every answer

The span is named ``METHOD /route/{template}`` (the route's template, not the path, so names
stay few), carries OpenTelemetry's HTTP semantic-convention attributes and ends with the
response's status code; a 5xx answer (or an exception that escapes) marks it an error. Probes
and scrapes (``/health/*``, ``/metrics``) get a span only when the caller sends a trace
context: every few seconds from every prober, they would drown the traces worth reading.

Written here rather than taken from opentelemetry-instrumentation-aiohttp-server: that
package (beta) replaces ``aiohttp.web.Application`` process-wide, reads its settings from the
environment at import, and pins opentelemetry-semantic-conventions to an exact version that
the SDK we use pins differently; the middleware itself is the few lines below.
"""

from __future__ import annotations

from aiohttp import web
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..tracing import TRACER, extract

QUIET_PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})


@web.middleware
async def server_spans(request: web.Request, handler):
    if request.path in QUIET_PATHS and "traceparent" not in request.headers:
        return await handler(request)
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else None
    name = f"{request.method} {route}" if route else request.method
    with TRACER.start_as_current_span(
            name, context=extract(request.headers), kind=SpanKind.SERVER,
            attributes=_request_attributes(request, route), record_exception=True,
            set_status_on_exception=False) as span:
        try:
            response = await handler(request)
        except web.HTTPException as exc:      # redirects are raised (errors turns the rest)
            _finish(span, exc.status)
            raise
        except Exception as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            span.set_attribute("error.type", type(exc).__qualname__)
            raise
        _finish(span, response.status)
        return response


def _request_attributes(request: web.Request, route: str | None) -> dict:
    url = request.url
    attrs = {"http.request.method": request.method, "url.path": request.path,
             "url.scheme": request.scheme, "server.address": url.host or "",
             "network.protocol.version": f"{request.version.major}.{request.version.minor}"}
    if url.port is not None:
        attrs["server.port"] = url.port
    if route:
        attrs["http.route"] = route
    if request.remote:
        attrs["client.address"] = request.remote
    agent = request.headers.get("User-Agent")
    if agent:
        attrs["user_agent.original"] = agent
    return attrs


def _finish(span, status: int) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= 500:                      # a server span's 4xx is the caller's error, not ours
        span.set_status(Status(StatusCode.ERROR))
        span.set_attribute("error.type", str(status))
