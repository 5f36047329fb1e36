"""Client spans for the SDK's HTTP calls, with the W3C ``traceparent`` sent to the server.

Use case::

    aiohttp.ClientSession(trace_configs=[client_trace_config()])

Each request (each retry and each redirect is one) gets a CLIENT span, a child of whatever span
is current where the call was made, named ``METHOD /route/{template}``; its context goes out in
the ``traceparent`` header, so the server's span for the request is its child. A 4xx or 5xx
answer or a failed connection marks the span an error (HTTP semantic conventions for clients).
With tracing off the span is the API's no-op, and a context the caller already carries (a
worker running a traced task) is still passed on.

Built on aiohttp's own client tracing signals (``TraceConfig``), so the client code stays as it
is: the session is the one place that knows about spans.
"""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..tracing import TRACER, inject, url_template


def client_trace_config() -> aiohttp.TraceConfig:
    """A fresh ``TraceConfig`` (aiohttp freezes one per session)."""
    config = aiohttp.TraceConfig()
    config.on_request_start.append(_start)
    config.on_request_end.append(_end)
    config.on_request_exception.append(_failed)
    return config


async def _start(session, ctx: SimpleNamespace, params: aiohttp.TraceRequestStartParams):
    url = params.url
    attrs = {"http.request.method": params.method, "server.address": url.host or "",
             "url.full": str(url.with_query(None))}
    if url.port is not None:
        attrs["server.port"] = url.port
    ctx.span = TRACER.start_span(f"{params.method} {url_template(url.path)}",
                                 kind=SpanKind.CLIENT, attributes=attrs)
    inject(params.headers, trace.set_span_in_context(ctx.span))


async def _end(session, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams):
    span = getattr(ctx, "span", None)
    if span is None:
        return
    status = params.response.status
    span.set_attribute("http.response.status_code", status)
    if status >= 400:
        span.set_status(Status(StatusCode.ERROR))
        span.set_attribute("error.type", str(status))
    span.end()


async def _failed(session, ctx: SimpleNamespace,
                  params: aiohttp.TraceRequestExceptionParams):
    span = getattr(ctx, "span", None)
    if span is None:
        return
    span.record_exception(params.exception)
    span.set_status(Status(StatusCode.ERROR, type(params.exception).__name__))
    span.set_attribute("error.type", type(params.exception).__qualname__)
    span.end()
