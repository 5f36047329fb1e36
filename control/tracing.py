"""Tracing with OpenTelemetry: where a task's time went, across SDK, server and worker.

Use cases::

    provider = start_tracing("http://127.0.0.1:4317", service="uqo", instance="host:8080",
                             env=os.environ)      # None (and nothing installed) without endpoint
    ...                                            # spans from here on are exported
    stop_tracing(provider)                         # flush what is buffered, then close

    with commit_span("single-node", entries=1):    # a log's propose (etcd's log reuses it)
        ...
    trace = traceparent()                          # the current span as a W3C ``traceparent``
    with TRACER.start_as_current_span("agent.run_task", context=parent_context(trace)):
        ...                                        # the worker continues the submitter's trace
    links = links_to(task.trace for task in decided)   # a round decides many: links, not parents
    url_template("/v1/tasks/abc")                  # "/v1/tasks/{task_id}": low-cardinality names

Contract: code everywhere uses only the OpenTelemetry API, which does nothing until a provider
is installed; ``start_tracing`` installs one (TracerProvider + BatchSpanProcessor + OTLP
exporter) once per process, from a process's entry point (``uqo serve``, ``uqo agent``), and
only when an endpoint is configured. A library embedding uqo (``EmbeddedOrchestrator``) installs
nothing: the host application's provider, if any, receives our spans. Nothing here reads the
environment at import; the exporter and SDK modules are imported only when tracing starts.

Trace context crosses processes as the W3C ``traceparent`` header (SDK -> server), and inside
the task itself (``TaskInfo.trace``, set from the submission's server span): the worker that
runs the task parents its span on it, and its outcome report carries the worker's span.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

# Like ``logging.getLogger(__name__)``: a proxy that holds no state of ours and delegates to
# whichever provider is installed when a span starts (the no-op one until then).
TRACER = trace.get_tracer("uqo.control")
MAX_LINKS = 128              # the SDK's default span link limit: more would be dropped anyway
PROTOCOLS = ("grpc", "http/protobuf")
_W3C = TraceContextTextMapPropagator()      # stateless; W3C explicitly, not OTEL_PROPAGATORS
_COLLECTIONS = {"agents": "{agent_id}", "tasks": "{task_id}"}
_SUBCOLLECTIONS = {"batch"}


# ---- the provider: installed by a process's entry point ----------------------------------
def start_tracing(endpoint: str | None, service: str, instance: str,
                  env: Mapping[str, str] | None = None, protocol: str = "grpc"):
    """Install a TracerProvider exporting over OTLP to ``endpoint`` (a collector's base URL,
    e.g. ``http://127.0.0.1:4317`` for gRPC or ``http://127.0.0.1:4318`` for http/protobuf)
    and return it; with no endpoint, install nothing and return None.

    Resource: ``service.name`` = ``service`` (``OTEL_SERVICE_NAME`` in ``env`` wins),
    ``service.instance.id`` = ``instance``, ``service.version``; the SDK adds
    ``OTEL_RESOURCE_ATTRIBUTES``. The exporter reads its other standard variables (headers,
    certificate, compression, timeout), the batch processor ``OTEL_BSP_*``."""
    if not endpoint:
        return None
    if protocol not in PROTOCOLS:
        raise ValueError(f"OTLP protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from uqo import __version__

    env = env or {}
    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or service,
                                "service.instance.id": instance,
                                "service.version": __version__})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(_exporter(endpoint, protocol)))
    trace.set_tracer_provider(provider)
    return provider


def _exporter(endpoint: str, protocol: str):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint)   # http:// -> plaintext, https:// -> TLS
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    # the exporter posts to an explicit endpoint as it is: a collector's base URL (the usual
    # setting) needs the signal's path, a traces URL (OTEL_..._TRACES_ENDPOINT) has it
    url = endpoint.rstrip("/")
    return HttpSpanExporter(endpoint=url if url.endswith("/v1/traces") else url + "/v1/traces")


def stop_tracing(provider) -> None:
    """Export what is still buffered, then shut the provider down. None (tracing off) is
    accepted and does nothing. A collector that does not answer delays this by the exporter's
    timeout at most (``OTEL_EXPORTER_OTLP_TIMEOUT``, 10 s; about 7 s measured on a refused
    port): the spans are dropped, the process goes on."""
    if provider is not None:
        provider.shutdown()


# ---- context across processes ----------------------------------------------------------
def traceparent() -> str | None:
    """The current span's context as a W3C ``traceparent`` value, or None when there is no
    valid one (tracing off and no incoming context)."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent")


def inject(headers, context: Context | None = None) -> None:
    """Add the ``traceparent`` of ``context``'s span (default: the current one) to
    ``headers``, a mutable mapping; nothing when there is no valid span."""
    _W3C.inject(headers, context=context)


def extract(headers: Mapping[str, str]) -> Context:
    """The context carried by request ``headers`` (an empty one when they carry none or a
    malformed one: a bad ``traceparent`` starts a new trace, it never fails a request)."""
    return _W3C.extract(headers)


def parent_context(value: str | None) -> Context:
    """A context whose parent is the span ``value`` (a ``traceparent``) names."""
    return _W3C.extract({"traceparent": value} if value else {})


def links_to(values: Iterable[str | None]) -> list[trace.Link]:
    """Span links to the spans the ``traceparent`` values name (None and malformed ones
    skipped), at most ``MAX_LINKS``."""
    links = []
    for value in values:
        if not value:               # untraced tasks: the common case, checked before parsing
            continue
        ctx = trace.get_current_span(parent_context(value)).get_span_context()
        if ctx.is_valid:
            links.append(trace.Link(ctx))
            if len(links) >= MAX_LINKS:
                break
    return links


def mark_failed(exc: BaseException) -> None:
    """Record ``exc`` on the current span and mark it an error."""
    span = trace.get_current_span()
    span.record_exception(exc)
    span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


# ---- spans shared by several rooms ------------------------------------------------------
@contextmanager
def commit_span(mode: str, entries: int) -> Iterator[trace.Span]:
    """The span of one ``Log.propose``: from hand-over until the entries are durable (or
    replicated) and applied. ``mode``: the log's kind (``single-node``, ``etcd``)."""
    with TRACER.start_as_current_span("log.commit", attributes={
            "uqo.log.mode": mode, "uqo.log.entries": entries}) as span:
        yield span


def url_template(path: str) -> str:
    """A request path as its route template (ids replaced by their parameter names), so span
    names stay few: ``/v1/agents/a1/outcomes`` -> ``/v1/agents/{agent_id}/outcomes``. A test
    checks it against every route the server declares."""
    parts = path.split("/")
    for i in range(1, len(parts)):
        name = _COLLECTIONS.get(parts[i - 1])
        if name and parts[i] and parts[i] not in _SUBCOLLECTIONS:
            parts[i] = name
    return "/".join(parts)
