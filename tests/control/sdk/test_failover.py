"""The SDK fails a write over to another endpoint when its answer is lost, and the write is
applied once: each write carries one idempotency key on every attempt.

Two endpoints of one real server stand for two replicas of one replicated state (the state
machine holds the keys, so a replica that applied the write, or any other, answers alike; the
replicated run is tests/control/replication/test_idempotency_failover.py): the first is a
lossy relay (``tests/control/lossy.py``) that delivers the request and cuts the connection
instead of relaying the answer, the second the server itself."""

import asyncio

from uqo.control.api.appkeys import ORCH
from uqo.control.sdk.client import UnifiedOrchestrator

from ..lossy import LossyRelay


async def _sdk_through_lossy_relay(client, call):
    async with LossyRelay("127.0.0.1", client.port) as relay:
        direct = f"http://127.0.0.1:{client.port}"
        async with UnifiedOrchestrator([relay.url, direct], retries=4) as uo:
            out = await call(uo)
            assert relay.lost == 1 and uo.failovers == 1 and uo.base_url == direct
    return out


async def test_a_cancel_whose_answer_is_lost_fails_over_and_applies_once(client):
    await client.post("/v1/agents", json={"agent_id": "w1", "capabilities": ["general"],
                                          "capacity": 4})
    await client.post("/v1/tasks", json={"task_id": "t1"})
    view = await _sdk_through_lossy_relay(client, lambda uo: uo.cancel_task("t1", "stop"))
    assert view["task_id"] == "t1" and view["state"] == "cancelled"
    assert view["reason"] == "stop"
    assert client.server.app[ORCH].sm.counts["cancelled"] == 1
    assert len(client.server.app[ORCH].sm.keys) == 1


async def test_an_outcome_whose_answer_is_lost_fails_over_and_applies_once(client):
    await client.post("/v1/agents", json={"agent_id": "w1", "capabilities": ["general"]})
    await client.post("/v1/tasks", json={"task_id": "t2"})
    orch = client.server.app[ORCH]
    for _ in range(500):                                   # the scheduler places it
        if orch.sm.tasks["t2"].state == "assigned":
            break
        await asyncio.sleep(0.01)
    view = await _sdk_through_lossy_relay(
        client, lambda uo: uo.report_outcome("w1", "t2", True, 0.1, "42"))
    assert view["state"] == "completed" and view["result"] == "42"
    assert orch.sm.counts["completed"] == 1
