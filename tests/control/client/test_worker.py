"""AgentWorker against a real server process: runs work, reports failures, and reconnects
with backoff after the server is killed and comes back on the same port."""

import asyncio
import socket

from uqo.control.client.procs import ServerProcess
from uqo.control.client.worker import AgentWorker
from uqo.control.sdk.client import UnifiedOrchestrator

from ..conftest import FAST

SETTINGS = {**FAST, "log_level": "warning"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _finished(client, task_id, timeout=10.0):
    task = await client.wait_for_task(task_id, timeout_s=timeout, poll_s=0.02)
    assert task["state"] in ("completed", "failed"), task
    return task


async def _registered(client, agent_id):
    for _ in range(200):
        if (await client.list_agents())["items"]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{agent_id} never registered")


async def test_worker_runs_reports_and_survives_a_server_restart(tmp_path):
    data, port = str(tmp_path / "data"), _free_port()

    async def handler(assignment):
        if assignment["description"] == "boom":
            raise RuntimeError("handler exploded")
        return assignment["description"].upper()

    servers = [ServerProcess(data, SETTINGS, port=port).start()]
    token = servers[0].token()
    stop = asyncio.Event()
    try:
        async with UnifiedOrchestrator(servers[0].url, token, timeout_s=5.0) as client, \
                UnifiedOrchestrator(servers[0].url, token, timeout_s=5.0) as own:
            worker = AgentWorker(own, "w1", {"general"}, handler, heartbeat_interval_s=0.2,
                                 poll_wait_s=1.0, max_backoff_s=0.5)
            running = asyncio.create_task(worker.run(stop))
            await _registered(client, "w1")         # tasks with no eligible agent are rejected
            ok = await client.submit_task(task_description="hello",
                                          required_capabilities={"general"})
            assert (await _finished(client, ok))["result"] == "HELLO"
            bad = await client.submit_task(task_description="boom")
            failed = await _finished(client, bad)
            assert failed["state"] == "failed" and "handler exploded" in failed["reason"]

            servers[0].kill()                       # the server vanishes
            await asyncio.sleep(1.0)
            servers.append(ServerProcess(data, SETTINGS, port=port).start())
            again = await client.submit_task(task_description="back")
            assert (await _finished(client, again, timeout=20))["result"] == "BACK"
            stop.set()
            await asyncio.wait_for(running, 10)
    finally:
        stop.set()
        for srv in servers:
            srv.kill()
    assert worker.completed == 2 and worker.failed == 1 and worker.reconnects >= 1


def test_the_run_span_continues_the_submission_and_a_failure_marks_it(tmp_path):
    """Embedded (no HTTP): the task carries the caller's span; the worker's ``agent.run_task``
    is its child, and a handler that raises marks the span an error."""
    from ..traced import run_traced

    spans = run_traced(f"""
from opentelemetry import trace
from uqo.control.client.worker import AgentWorker
from uqo.control.sdk.embedded import EmbeddedOrchestrator

async def fail(assignment):
    raise RuntimeError("no luck")

async def main():
    async with EmbeddedOrchestrator({str(tmp_path)!r}, capacity=64, backend="numpy",
                                    tick_interval_s=0.1, auth=False) as uo:
        await uo.register_agent("a1", capabilities={{"general"}})
        stop = asyncio.Event()
        worker = asyncio.create_task(AgentWorker(uo, "a1", {{"general"}}, fail,
                                                 poll_wait_s=0.2).run(stop))
        with trace.get_tracer("test").start_as_current_span("submit"):
            task_id = await uo.submit_task("doomed", task_id="t1")
        task = await uo.wait_for_task(task_id, timeout_s=20)
        stop.set()
        await worker
        return task["state"]
""")
    assert spans.result == "failed"
    [submit], [run] = spans.named("submit"), spans.named("agent.run_task")
    assert (run["trace_id"], run["parent_id"]) == (submit["trace_id"], submit["span_id"])
    assert run["kind"] == "CONSUMER" and run["status"] == "ERROR" and "exception" in run["events"]
    assert run["attributes"] == {"uqo.task.id": "t1", "uqo.agent.id": "a1"}
    # the outcome's log commit is made inside the run span
    assert any(s["parent_id"] == run["span_id"] for s in spans.named("log.commit"))
