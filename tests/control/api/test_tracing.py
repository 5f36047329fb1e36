"""Server spans (``api/tracing.py``) and the trace a submission gives its task.

With tracing on (a traced process): one SERVER span per request named by method and route
template, continuing the caller's ``traceparent``, with the HTTP attributes; 4xx is the
caller's error, 5xx and escaping exceptions are ours; probes are quiet unless traced. With
tracing off (this process): the caller's context still reaches the task and its assignment.
"""

from __future__ import annotations

from ..traced import run_traced

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_requests_are_server_spans_named_by_route_template(tmp_path):
    spans = run_traced(f"""
from aiohttp.test_utils import TestClient, TestServer
from uqo.control.api.app import build_app
from uqo.control.config import load_config
from uqo.control.leader.service import Orchestrator

async def main():
    cfg = load_config(overrides={{"capacity": 64, "backend": "numpy", "data_dir": {str(tmp_path)!r},
                                 "tick_interval_s": 60.0}})
    async with TestClient(TestServer(build_app(Orchestrator(cfg)), host="127.0.0.1")) as c:
        made = await c.post("/v1/tasks", json={{"task_id": "t1"}},
                            headers={{"traceparent": {PARENT!r}, "User-Agent": "probe/1"}})
        missing = await c.get("/v1/tasks/nope")
        await c.get("/health/live")
        await c.get("/health/ready", headers={{"traceparent": {PARENT!r}}})
        task = await (await c.get("/v1/tasks/t1")).json()
        return [made.status, missing.status, task["trace"]]
""")
    assert spans.result[:2] == [201, 404]
    [submit] = [s for s in spans.named("POST /v1/tasks")]
    assert submit["kind"] == "SERVER"
    assert (submit["trace_id"], submit["parent_id"]) == (PARENT[3:35], PARENT[36:52])
    attrs = submit["attributes"]
    assert attrs["http.request.method"] == "POST" and attrs["http.route"] == "/v1/tasks"
    assert attrs["url.path"] == "/v1/tasks" and attrs["http.response.status_code"] == 201
    assert attrs["user_agent.original"] == "probe/1" and attrs["client.address"] == "127.0.0.1"
    assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] > 0
    # the task carries the server span (its child, the log commit, is in the same trace)
    assert spans.result[2].split("-")[1:3] == [submit["trace_id"], submit["span_id"]]
    assert len([s for s in spans.named("log.commit") if s["parent_id"] == submit["span_id"]]) == 1
    [missing] = spans.named("GET /v1/tasks/{task_id}")[:1]
    assert missing["attributes"]["http.response.status_code"] == 404
    assert missing["status"] == "UNSET" and missing["parent_id"] == ""
    assert spans.named("GET /health/live") == []                  # probes are quiet ...
    assert len(spans.named("GET /health/ready")) == 1             # ... unless traced


def test_a_5xx_or_an_escaping_exception_marks_the_span_an_error():
    spans = run_traced("""
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from uqo.control.api.tracing import server_spans

async def unavailable(request):
    return web.json_response({}, status=503)

async def broken(request):
    raise RuntimeError("boom")

async def moved(request):
    raise web.HTTPFound("/elsewhere")

async def main():
    app = web.Application(middlewares=[server_spans])
    app.router.add_get("/a/{x}", unavailable)
    app.router.add_get("/b", broken)
    app.router.add_get("/c", moved)
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        return [(await c.get("/a/1")).status, (await c.get("/b")).status,
                (await c.get("/c", allow_redirects=False)).status, (await c.get("/zzz")).status]
""")
    assert spans.result == [503, 500, 302, 404]
    a, b, c, unmatched = (spans.named(n)[0] for n in ("GET /a/{x}", "GET /b", "GET /c", "GET"))
    assert a["status"] == "ERROR" and a["attributes"]["error.type"] == "503"
    assert b["status"] == "ERROR" and b["attributes"]["error.type"] == "RuntimeError"
    assert "exception" in b["events"]
    assert c["status"] == "UNSET" and c["attributes"]["http.response.status_code"] == 302
    assert "http.route" not in unmatched["attributes"]       # no route: the method names it


async def test_with_tracing_off_the_callers_context_still_reaches_task_and_assignment(client):
    headers = {"traceparent": PARENT}
    assert (await client.post("/v1/agents", json={"agent_id": "a1"})).status == 201
    assert (await client.post("/v1/tasks", json={"task_id": "t1"}, headers=headers)).status == 201
    [assigned] = await (await client.get("/v1/agents/a1/assignments", params={"wait": "5"})).json()
    assert (assigned["task_id"], assigned["trace"]) == ("t1", PARENT)
    assert (await client.post("/v1/tasks", json={"task_id": "t2"},
                              headers={"traceparent": "00-bad"})).status == 201
    assert (await client.post("/v1/tasks/batch", json={"tasks": [{"task_id": "t3"}]},
                              headers=headers)).status == 201
    assert (await client.post("/v1/tasks", json={"task_id": "t4"})).status == 201
    traces = {t: (await (await client.get(f"/v1/tasks/{t}")).json())["trace"]
              for t in ("t1", "t2", "t3", "t4")}
    assert traces == {"t1": PARENT, "t2": None, "t3": PARENT, "t4": None}
