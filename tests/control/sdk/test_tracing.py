"""Client spans of the SDK (``sdk/tracing.py``): one CLIENT span per request attempt, named by
route template, a child of the caller's span, its context sent as ``traceparent``; errors
marked. Against a real aiohttp server that answers with the header it received."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from uqo.control.sdk.client import UnifiedOrchestrator

from ..traced import run_traced

ECHO = """
from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry import trace
from uqo.control.errors import ControlError
from uqo.control.sdk.client import UnifiedOrchestrator

attempts = []

async def get_task(request):
    attempts.append(request.headers.get("traceparent"))
    if request.match_info["task_id"] == "flaky" and len(attempts) == 1:
        return web.json_response({"error": {"code": "unavailable", "message": "x"}}, status=503)
    if request.match_info["task_id"] == "nope":
        return web.json_response({"error": {"code": "not_found", "message": "x"}}, status=404)
    return web.json_response({"task_id": request.match_info["task_id"]})

async def main():
    app = web.Application()
    app.router.add_get("/v1/tasks/{task_id}", get_task)
    async with TestServer(app, host="127.0.0.1") as server:
        url = str(server.make_url("")).rstrip("/")
        async with UnifiedOrchestrator(url, retries=3) as uo:
            with trace.get_tracer("test").start_as_current_span("outer"):
                await uo.get_task("flaky")
                try:
                    await uo.get_task("nope")
                except ControlError:
                    pass
        async with UnifiedOrchestrator("http://127.0.0.1:9", retries=1) as down:
            try:
                await down.get_task("t1")
            except Exception:
                pass
    return attempts
"""


def test_each_attempt_is_a_client_span_whose_context_the_server_receives():
    spans = run_traced(ECHO)
    [outer] = spans.named("outer")
    calls = [s for s in spans.named("GET /v1/tasks/{task_id}")]
    assert [s["kind"] for s in calls] == ["CLIENT"] * 4
    flaky_1, flaky_2, nope, down = calls
    assert all(s["parent_id"] == outer["span_id"] for s in (flaky_1, flaky_2, nope))
    received = spans.result                    # the traceparent of each attempt, as received
    assert [h.split("-")[2] for h in received] == [flaky_1["span_id"], flaky_2["span_id"],
                                                   nope["span_id"]]
    assert flaky_1["status"] == "ERROR" and flaky_1["attributes"]["error.type"] == "503"
    assert flaky_2["status"] == "UNSET"
    assert flaky_2["attributes"]["http.response.status_code"] == 200
    assert flaky_2["attributes"]["url.full"].endswith("/v1/tasks/flaky")
    assert nope["status"] == "ERROR" and nope["attributes"]["http.response.status_code"] == 404
    assert down["status"] == "ERROR" and "exception" in down["events"]
    assert down["parent_id"] == ""


async def test_with_tracing_off_a_context_the_caller_carries_is_passed_on():
    seen = []

    async def handler(request):
        seen.append(request.headers.get("traceparent"))
        return web.json_response({"task_id": "t1"})

    app = web.Application()
    app.router.add_get("/v1/tasks/{task_id}", handler)
    ctx = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=True,
                      trace_flags=TraceFlags(TraceFlags.SAMPLED))
    async with TestServer(app, host="127.0.0.1") as server, \
            UnifiedOrchestrator(str(server.make_url("")).rstrip("/")) as uo:
        await uo.get_task("t1")                         # no context: no header
        with trace.use_span(NonRecordingSpan(ctx)):    # a worker running a traced task
            await uo.get_task("t1")
    assert seen == [None, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]
