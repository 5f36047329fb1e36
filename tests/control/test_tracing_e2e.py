"""One traced task across three processes, exported to a real OTLP gRPC receiver.

A submitter process (the SDK), a ``uqo serve`` process and a ``uqo agent`` process each export
to the receiver started here. The submitter submits one task inside its own span; once the
task is done, the processes stop (SIGTERM: the server and agent flush their spans on the way
out) and the span tree is checked: submitter span -> SDK client span -> server span -> log
commit; the worker's run span in the same trace, under the submission; the outcome report's
server span under the worker's span; a scheduling round linked to the submission; engine
ticks; the login's signature span.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict

import pytest
from uqo.control.client.procs import ServerProcess

from .conftest import FAST
from .otlp_receiver import CLIENT, CONSUMER, SERVER, GrpcReceiver

pytestmark = pytest.mark.slow

SUBMITTER = r"""
import asyncio, os, sys
from opentelemetry import trace
from uqo.control.sdk.client import UnifiedOrchestrator
from uqo.control.tracing import start_tracing, stop_tracing

url, token, endpoint = sys.argv[1:4]
provider = start_tracing(endpoint, "submitter", "submitter-1", os.environ)

async def main():
    async with UnifiedOrchestrator(url, token) as uo:
        for _ in range(400):                  # the agent registers first: no agent, no place
            if (await uo.list_agents())["items"]:
                break
            await asyncio.sleep(0.05)
        with trace.get_tracer("test").start_as_current_span("test.submit"):
            task_id = await uo.submit_task("traced work", task_id="traced-1")
        task = await uo.wait_for_task(task_id, timeout_s=40)
    print(task["state"], task["trace"])

asyncio.run(main())
stop_tracing(provider)
"""


def _run_traced_task(tmp_path, rx: GrpcReceiver) -> tuple[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with ServerProcess(str(tmp_path / "data"), {**FAST, "log_level": "warning",
                                                "otlp_endpoint": rx.endpoint}) as srv:
        token = srv.token()
        agent = subprocess.Popen(
            [sys.executable, "-m", "uqo", "agent", "--url", srv.url, "--agent-id", "agent-t",
             "--heartbeat-interval", "0.5", "--otlp-endpoint", rx.endpoint],
            env={**env, "UQO_TOKEN": token}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        try:
            out = subprocess.run([sys.executable, "-c", SUBMITTER, srv.url, token, rx.endpoint],
                                 env=env, capture_output=True, text=True, timeout=90,
                                 check=False)
        finally:
            agent.terminate()
            agent_out, _ = agent.communicate(timeout=30)
        assert out.returncode == 0, out.stdout + out.stderr
        assert agent.returncode == 0, agent_out
        assert srv.terminate() == 0
    state, trace = out.stdout.split()
    return state, trace


def test_one_task_traced_from_submitter_through_server_to_worker(tmp_path):
    with GrpcReceiver() as rx:
        state, traceparent = _run_traced_task(tmp_path, rx)
    assert state == "completed"
    spans = rx.spans
    by_id = {s.span_id: s for s in spans}
    children = defaultdict(list)
    for s in spans:
        children[s.parent_id].append(s)

    def child(parent, name, kind=None, service=None):
        found = [c for c in children[parent.span_id] if c.name == name
                 and (kind is None or c.kind == kind) and (service is None or c.service == service)]
        assert len(found) == 1, (parent.name, name, [c.name for c in children[parent.span_id]])
        return found[0]

    # submitter -> SDK client span -> server span -> log commit
    [root] = [s for s in spans if s.name == "test.submit"]
    assert root.parent_id == "" and root.service == "submitter"
    sdk = child(root, "POST /v1/tasks", CLIENT, "submitter")
    assert sdk.attributes["http.response.status_code"] == 201
    submit = child(sdk, "POST /v1/tasks", SERVER, "uqo")
    assert submit.trace_id == root.trace_id
    assert submit.attributes["http.route"] == "/v1/tasks"
    assert submit.attributes["http.response.status_code"] == 201
    commit = child(submit, "log.commit", service="uqo")
    assert commit.attributes["uqo.log.mode"] == "single-node"
    appends = [s for s in spans if s.name == "log.append" and (root.trace_id, commit.span_id)
               in s.links]
    assert len(appends) == 1 and appends[0].attributes["uqo.log.entries"] >= 1

    # the task carried the submission's server span; the worker ran it under that span
    version, trace_id, span_id, flags = traceparent.split("-")
    assert (version, trace_id, span_id) == ("00", submit.trace_id, submit.span_id)
    assert int(flags, 16) & 1                              # sampled
    run = child(submit, "agent.run_task", CONSUMER, "uqo-agent")
    assert run.instance == "agent-t"
    assert run.attributes["uqo.task.id"] == "traced-1"
    report = child(run, "POST /v1/agents/{agent_id}/outcomes", CLIENT, "uqo-agent")
    served = child(report, "POST /v1/agents/{agent_id}/outcomes", SERVER, "uqo")
    assert served.trace_id == root.trace_id
    child(served, "log.commit", service="uqo")

    # the round that placed it links to the submission and commits its Assign inside
    rounds = [s for s in spans if s.name == "scheduler.round"
              and (submit.trace_id, submit.span_id) in s.links]
    assert len(rounds) == 1 and rounds[0].attributes["uqo.scheduler.placed"] >= 1
    assert rounds[0].trace_id != root.trace_id          # a link, not a parent
    child(rounds[0], "log.commit", service="uqo")

    # engine ticks, and the login's signature (the key backend named, the data not)
    ticks = [s for s in spans if s.name == "engine.tick" and s.service == "uqo"]
    assert len(ticks) >= 2 and "uqo.engine.agents" in ticks[0].attributes
    signs = [s for s in spans if s.name == "keys.sign" and s.parent_id in by_id
             and by_id[s.parent_id].name == "POST /v1/auth/login"]      # the token's
    assert len(signs) == 1 and signs[0].service == "uqo"
    assert signs[0].attributes["uqo.keys.backend"] in ("software", "pkcs11")
    assert set(signs[0].attributes) == {"uqo.keys.backend", "uqo.keys.algorithm",
                                        "uqo.keys.key_id"}
    assert {s.service for s in spans} == {"submitter", "uqo", "uqo-agent"}
    assert all(s.resource["service.version"] for s in spans if s.service != "submitter")
