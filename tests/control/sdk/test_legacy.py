"""The legacy synchronous shim: ``register_agent("agent-1", capabilities={"general"})`` and
``run_goal("analyze data")`` work, embedded (with a worker on the shim's loop) and over HTTP
(with a ``uqo agent`` worker process)."""

import asyncio
import os
import subprocess
import sys

import pytest
from uqo.control.client.procs import ServerProcess
from uqo.control.client.worker import AgentWorker
from uqo.control.errors import ControlError
from uqo.control.sdk.legacy import LegacyOrchestrator

from ..conftest import FAST


def test_legacy_calls_embedded(tmp_path):
    old_orchestrator = LegacyOrchestrator(data_dir=str(tmp_path), **FAST)
    try:
        old_orchestrator.register_agent("agent-1", capabilities={"general"})
        stop = asyncio.Event()
        worker = AgentWorker(old_orchestrator.client, "agent-1", {"general"},
                             heartbeat_interval_s=0.5, poll_wait_s=0.5)
        running = asyncio.run_coroutine_threadsafe(worker.run(stop), old_orchestrator._loop)
        result = old_orchestrator.run_goal("analyze data", timeout_s=10)
        assert result["state"] == "completed" and result["result"] == "analyze data"
        old_orchestrator._loop.call_soon_threadsafe(stop.set)
        running.result(10)
    finally:
        old_orchestrator.close()


def test_legacy_calls_over_http_with_an_agent_process(tmp_path):
    with ServerProcess(str(tmp_path), {**FAST, "log_level": "warning"}) as srv:
        token = srv.token()
        agent = subprocess.Popen([sys.executable, "-m", "uqo", "agent", "--url", srv.url,
                                  "--agent-id", "agent-1", "--capabilities", "general",
                                  "--heartbeat-interval", "0.5"],
                                 env={**os.environ, "UQO_TOKEN": token},
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            with LegacyOrchestrator(srv.url, credential=token) as old_orchestrator:
                old_orchestrator.register_agent("agent-1", capabilities={"general"})
                result = old_orchestrator.run_goal("analyze data", timeout_s=20)
                assert result["state"] == "completed"
                assert result["agents"] == ["agent-1"]
        finally:
            agent.terminate()
            out, _ = agent.communicate(timeout=10)
    assert agent.returncode == 0 and "1 done" in out


def test_legacy_needs_exactly_one_target():
    with pytest.raises(ControlError, match="exactly one"):
        LegacyOrchestrator()
