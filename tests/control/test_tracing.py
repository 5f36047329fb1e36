"""``uqo.control.tracing``: off unless an endpoint is set, W3C context in and out, span links,
route-template names, and the provider exporting over both OTLP transports.

Spans made here come from a local SDK provider (``TracerProvider`` with an in-memory
exporter) that is never installed globally: the test process keeps the API's no-op provider,
as every process does until ``start_tracing`` runs. What needs a global provider runs in a
subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from uqo.control import tracing as t
from uqo.control.api.routes import ROUTES

from .otlp_receiver import HttpReceiver

VALID = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def tracer():
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    tracer.exporter = exporter
    return tracer


def _run(code: str, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False, timeout=120, env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_without_an_endpoint_nothing_is_installed_and_spans_record_nothing():
    code = """
import json, sys
from opentelemetry import trace
from uqo.control.tracing import TRACER, commit_span, start_tracing, stop_tracing, traceparent
provider = start_tracing("", "uqo", "host:1", {"OTEL_SERVICE_NAME": "x"})
with commit_span("single-node", 1) as span, TRACER.start_as_current_span("inner") as inner:
    recording = span.is_recording() or inner.is_recording()
    current = traceparent()
stop_tracing(provider)
print(json.dumps({"provider": provider, "installed": type(trace.get_tracer_provider()).__name__,
                  "recording": recording, "traceparent": current,
                  "sdk": sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk",
                                "opentelemetry.exporter", "grpc")))}))
"""
    seen = _run(code)
    assert seen == {"provider": None, "installed": "ProxyTracerProvider", "recording": False,
                    "traceparent": None, "sdk": []}


def test_start_tracing_exports_over_http_with_the_resource_named(tmp_path):
    code = """
import json, os, sys
from uqo.control.tracing import TRACER, commit_span, start_tracing, stop_tracing
provider = start_tracing(sys.argv[1], "uqo", "host:8080", os.environ, "http/protobuf")
with TRACER.start_as_current_span("outer"):
    with commit_span("single-node", 3):
        pass
stop_tracing(provider)
print(json.dumps({}))
"""
    with HttpReceiver() as rx:
        _run(code.replace("sys.argv[1]", repr(rx.endpoint)), {"OTEL_SERVICE_NAME": "uqo-b"})
    spans = {s.name: s for s in rx.spans}
    assert set(spans) == {"outer", "log.commit"}
    commit = spans["log.commit"]
    assert commit.parent_id == spans["outer"].span_id
    assert commit.attributes == {"uqo.log.mode": "single-node", "uqo.log.entries": 3}
    assert commit.service == "uqo-b" and commit.instance == "host:8080"   # env names it
    assert commit.resource["service.version"]


def test_an_unknown_protocol_is_refused_by_name():
    with pytest.raises(ValueError, match="'http/json'"):
        t.start_tracing("http://127.0.0.1:4317", "uqo", "i", {}, "http/json")


def test_traceparent_is_the_current_span_and_parent_context_continues_it(tracer):
    assert t.traceparent() is None
    with tracer.start_as_current_span("submit") as span:
        value = t.traceparent()
        headers = {}
        t.inject(headers)
    ctx = span.get_span_context()
    assert value == headers["traceparent"]
    assert value.split("-")[1:3] == [f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"]
    with tracer.start_as_current_span("run", context=t.parent_context(value)) as run:
        pass
    assert run.parent.span_id == ctx.span_id and run.context.trace_id == ctx.trace_id


@pytest.mark.parametrize("bad", [None, "", "garbage", "00-xyz-b7ad6b7169203331-01",
                                 "00-00000000000000000000000000000000-b7ad6b7169203331-01"])
def test_a_missing_or_malformed_traceparent_starts_a_new_trace(tracer, bad):
    with tracer.start_as_current_span("run", context=t.parent_context(bad)) as span:
        pass
    assert span.parent is None
    assert t.links_to([bad]) == []
    headers = {"traceparent": bad} if bad is not None else {}
    assert not trace.get_current_span(t.extract(headers)).get_span_context().is_valid


def test_links_skip_the_untraced_and_stop_at_the_limit():
    links = t.links_to([None, VALID, "bad", VALID])
    assert [f"{ln.context.span_id:016x}" for ln in links] == ["b7ad6b7169203331"] * 2
    assert len(t.links_to([VALID] * (t.MAX_LINKS + 5))) == t.MAX_LINKS


def test_url_template_names_every_declared_route_by_its_template():
    samples = {"{agent_id}": "agent-7", "{task_id}": "3f2a9c"}
    for route in ROUTES:
        path = route.path
        for name, value in samples.items():
            path = path.replace(name, value)
        assert t.url_template(path) == route.path, route.name
    assert t.url_template("/v1/tasks/batch") == "/v1/tasks/batch"


def test_mark_failed_marks_the_current_span(tracer):
    with tracer.start_as_current_span("run") as span:
        t.mark_failed(RuntimeError("boom"))
    assert span.status.status_code is trace.StatusCode.ERROR
    assert span.events[0].name == "exception"
