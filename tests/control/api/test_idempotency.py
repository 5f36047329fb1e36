"""``Idempotency-Key`` end to end on real sockets: a write whose answer was lost is retried
and applied once (the retry gets the first answer, marked ``Idempotent-Replayed``); the key
reused for another request is refused 422, a malformed one 400, a concurrent duplicate 409;
keys expire after the TTL (the server's clock is injected) and survive a restart (the log
replays them)."""

import asyncio

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from uqo.control.api.app import build_app
from uqo.control.api.appkeys import ORCH
from uqo.control.api.idempotency import IN_FLIGHT
from uqo.control.config import load_config
from uqo.control.leader.service import Orchestrator
from uqo.control.state.idempotency import WRITE_KEY, WriteKey

from ..conftest import FAST
from ..lossy import LossyRelay

KEY = {"Idempotency-Key": "8d0f4c1e-retry-me"}


class Clock:
    """The server's wall clock, moved by the test."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _cfg(data_dir, **extra):
    return load_config(overrides={**FAST, "data_dir": str(data_dir), **extra})


async def _server(cfg, clock=None):
    orch = Orchestrator(cfg, clock=clock) if clock else Orchestrator(cfg)
    client = TestClient(TestServer(build_app(orch), host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def served(tmp_path):
    clock = Clock()
    client = await _server(_cfg(tmp_path / "data", idempotency_ttl_s=60.0), clock)
    yield client, clock
    await client.close()


async def _json(resp, status):
    body = await resp.json()
    assert resp.status == status, body
    return body


async def _tasks(client, *task_ids):
    """Tasks that can be cancelled: an agent with room takes them (pending or assigned, never
    rejected for want of an agent)."""
    await client.post("/v1/agents", json={"agent_id": "w1", "capabilities": ["general"],
                                          "capacity": 8})
    for t in task_ids:
        await _json(await client.post("/v1/tasks", json={"task_id": t}), 201)


async def _lost_cancel(client, task_id, headers):
    """Send a cancel whose answer the network loses; returns once the server answered it."""
    async with LossyRelay("127.0.0.1", client.port) as relay, aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectionError):
            await s.post(f"{relay.url}/v1/tasks/{task_id}/cancel", json={"reason": "stop"},
                         headers=headers)
        assert relay.lost == 1


async def test_a_retry_after_a_lost_answer_applies_once(served):
    client, _ = served
    await _tasks(client, "t1")
    await _lost_cancel(client, "t1", KEY)
    first = await _json(await client.get("/v1/tasks/t1"), 200)
    assert first["state"] == "cancelled"
    retry = await client.post("/v1/tasks/t1/cancel", json={"reason": "stop"}, headers=KEY)
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert await _json(retry, 200) == first
    # without the key the same retry is refused: the task is cancelled already
    plain = await client.post("/v1/tasks/t1/cancel", json={"reason": "stop"})
    assert (await _json(plain, 409))["error"]["code"] == "invalid_transition"
    assert client.server.app[ORCH].sm.counts["cancelled"] == 1
    assert "uqo_idempotent_replays_total 1.0" in await (await client.get("/metrics")).text()


async def test_submit_and_register_answer_a_retry_with_the_first_answer(served):
    client, _ = served
    answers = [await client.post("/v1/tasks", json={"task_id": "s1"}, headers=KEY)
               for _ in range(2)]
    assert [a.status for a in answers] == [201, 201]
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true"]
    assert await answers[0].json() == await answers[1].json() == {"task_id": "s1",
                                                                   "state": "pending"}
    agent = {"agent_id": "a1", "capabilities": ["general"]}
    other = {"Idempotency-Key": "register-a1"}
    first = await _json(await client.post("/v1/agents", json=agent, headers=other), 201)
    again = await client.post("/v1/agents", json=agent, headers=other)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await _json(again, 201) == first                # 201 as the first, not 200
    gone = await _json(await client.delete("/v1/agents/a1",
                                           headers={"Idempotency-Key": "drop-a1"}), 200)
    again = await client.delete("/v1/agents/a1", headers={"Idempotency-Key": "drop-a1"})
    assert await _json(again, 200) == gone                 # not 404: the first answer


async def test_the_key_reused_for_another_request_is_refused_422_and_changes_nothing(served):
    client, _ = served
    await _tasks(client, "t1", "t2")
    await _json(await client.post("/v1/tasks/t1/cancel", json={}, headers=KEY), 200)
    for path, body in (("/v1/tasks/t2/cancel", {}), ("/v1/tasks/t1/cancel", {"reason": "x"})):
        refused = await _json(await client.post(path, json=body, headers=KEY), 422)
        assert refused["error"]["code"] == "idempotency_key_reused"
        assert refused["error"]["field"] == "Idempotency-Key"
    assert (await _json(await client.get("/v1/tasks/t2"), 200))["state"] != "cancelled"


@pytest.mark.parametrize("headers", [
    {"Idempotency-Key": "k" * 256},
    {"Idempotency-Key": ""},
    {"Idempotency-Key": "tab\there"},
], ids=["too-long", "empty", "control-character"])
async def test_a_malformed_key_is_refused_400_naming_the_field(served, headers):
    client, _ = served
    refused = await _json(await client.post("/v1/tasks", json={"task_id": "m1"},
                                            headers=headers), 400)
    assert refused["error"]["field"] == "Idempotency-Key"
    assert (await client.get("/v1/tasks/m1")).status == 404


async def test_a_key_sent_twice_is_refused_400(served):
    client, _ = served
    headers = [("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    refused = await _json(await client.post("/v1/tasks", json={"task_id": "m2"},
                                            headers=headers), 400)
    assert refused["error"]["field"] == "Idempotency-Key"


async def test_a_duplicate_while_the_first_runs_is_refused_409(served):
    client, _ = served
    # the first attempt of (anonymous caller, KEY) is still running on this server
    client.server.app[IN_FLIGHT].add(("", KEY["Idempotency-Key"]))
    resp = await client.post("/v1/tasks", json={"task_id": "d1"}, headers=KEY)
    body = await _json(resp, 409)
    assert body["error"]["code"] == "idempotency_key_in_flight"
    assert resp.headers["Retry-After"] == "1"
    assert (await client.get("/v1/tasks/d1")).status == 404
    client.server.app[IN_FLIGHT].clear()
    await _json(await client.post("/v1/tasks", json={"task_id": "d1"}, headers=KEY), 201)


async def test_keys_expire_after_the_ttl(served):
    client, clock = served
    await _json(await client.post("/v1/tasks", json={"task_id": "e1"}, headers=KEY), 201)
    clock.now += 59.0
    again = await client.post("/v1/tasks", json={"task_id": "e1"}, headers=KEY)
    assert again.headers.get("Idempotent-Replayed") == "true"
    clock.now += 2.0                                       # 61 s: the key is forgotten
    late = await client.post("/v1/tasks", json={"task_id": "e1"}, headers=KEY)
    assert (await _json(late, 409))["error"]["code"] == "task_exists"    # it ran again
    await _json(await client.post("/v1/tasks", json={"task_id": "e2"}, headers=KEY), 201)
    assert len(client.server.app[ORCH].sm.keys) == 1      # e1's expired key was dropped


async def test_a_key_survives_a_restart(tmp_path):
    cfg = _cfg(tmp_path / "data")
    client = await _server(cfg)
    try:
        await _tasks(client, "r1")
        first = await _json(await client.post("/v1/tasks/r1/cancel", json={}, headers=KEY),
                            200)
    finally:
        await client.close()
    client = await _server(cfg)                            # recovers by replaying the log
    try:
        retry = await client.post("/v1/tasks/r1/cancel", json={}, headers=KEY)
        assert retry.headers.get("Idempotent-Replayed") == "true"
        assert await _json(retry, 200) == first
    finally:
        await client.close()


async def test_a_repeat_that_reaches_the_log_is_answered_by_the_state_machine(served):
    """Two replicas may each log the same keyed write (each looked before the other's entry
    applied): the later entry applies as a repeat. Here the second call skips the API's look
    and goes to the log; the state machine answers it with the first result."""
    client, _ = served
    orch = client.server.app[ORCH]
    await _tasks(client, "o1")
    for _ in range(500):                                   # the scheduler places it
        if orch.sm.tasks["o1"].state == "assigned":
            break
        await asyncio.sleep(0.01)
    key = WriteKey("", "dup-outcome", "fingerprint-1", 60.0, 100)
    token = WRITE_KEY.set(key)
    try:
        first = await orch.report_outcome("w1", "o1", True, 0.1, "42")
        assert not key.replayed
        second = await orch.report_outcome("w1", "o1", True, 0.1, "42")
        assert key.replayed and second == first
    finally:
        WRITE_KEY.reset(token)
    assert orch.sm.counts["completed"] == 1 and first["state"] == "completed"
