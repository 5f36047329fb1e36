"""Health checks under a probe budget: the leader's book of open probes, and probes going out
in heartbeat replies to a real worker over HTTP, answered or timing out; the forecast in
``/v1/status`` and ``/metrics``."""

import asyncio

from aiohttp.test_utils import TestServer
from uqo.control.api.app import build_app
from uqo.control.client.worker import AgentWorker
from uqo.control.config import load_config
from uqo.control.leader.probes import ProbeBook
from uqo.control.leader.service import Orchestrator
from uqo.control.sdk.client import UnifiedOrchestrator

from ..conftest import FAST


def test_the_book_delivers_once_closes_on_answer_and_expires_the_rest():
    book = ProbeBook(timeout_s=10.0)
    book.plan(["a", "b"], mono=0.0)
    book.plan(["a"], mono=5.0)                      # still open: kept, not re-issued
    first = book.deliver("a", mono=1.0)
    assert first == {"probe_id": "p1", "deadline_s": 9.0}
    assert book.deliver("a", mono=2.0) is None      # delivered once
    assert not book.answered("a", "p2") and book.answered("a", "p1")
    assert not book.answered("a", "p1")             # closed
    assert book.expired(mono=9.9) == [] and book.expired(mono=10.0) == ["b"]
    book.plan(["c"], mono=0.0)
    book.forget("c")
    assert len(book) == 0 and book.expired(mono=1e9) == []


async def test_probes_reach_a_worker_and_unanswered_ones_time_out(tmp_path):
    cfg = load_config(overrides={**FAST, "data_dir": str(tmp_path / "d"), "auth": False,
                                 "probe_rate": 40.0, "probe_timeout_s": 0.6,
                                 "forecast_horizon_s": 12.0})
    orch = Orchestrator(cfg)
    server = TestServer(build_app(orch), host="127.0.0.1")
    await server.start_server()
    stop = asyncio.Event()
    try:
        url = str(server.make_url("")).rstrip("/")
        async with UnifiedOrchestrator(url, timeout_s=5.0) as own, \
                UnifiedOrchestrator(url, timeout_s=5.0) as mute:
            worker = AgentWorker(own, "good", {"general"}, heartbeat_interval_s=0.1,
                                 poll_wait_s=0.5)
            running = asyncio.create_task(worker.run(stop))
            await mute.register_agent(agent_id="mute", capabilities={"general"})
            for _ in range(60):                     # "mute" heartbeats, never answers
                ack = await mute.heartbeat("mute")
                if worker.probes_answered and orch.driver.stats()["counts"].get(
                        "outcomes_timed_out"):
                    break
                assert set(ack) <= {"agent_id", "received_at", "probe"}
                await asyncio.sleep(0.1)
            counts = orch.driver.stats()["counts"]
            assert worker.probes_answered >= 1 and counts["probes"] >= 2
            assert counts["outcomes_timed_out"] >= 1 and counts["outcomes_ok"] >= 1
            status = orch.status()
            fc = status["forecast"]
            assert fc["horizon_s"] == 12.0 and 0.0 <= fc["failure"]["mean"] <= 1.0
            assert {r["agent_id"] for r in fc["failure"]["riskiest"]} <= {"good", "mute"}
            stop.set()
            await asyncio.wait_for(running, 5.0)
    finally:
        await server.close()
    from prometheus_client import generate_latest

    text = generate_latest(orch.metrics.registry).decode()
    assert "uqo_forecast_load_agents" in text and "uqo_forecast_failure_probability_mean" in text
