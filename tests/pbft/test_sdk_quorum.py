"""The SDK's reply quorum (issue 16: a client accepts a result only on f+1 matching replies
from distinct replicas), over real sockets.

The four replicas' HTTP APIs are stood in by loopback aiohttp servers answering
``GET /v1/tasks/{id}`` (the behaviour under test is the SDK's vote, not the servers): three
answer what the replicated log holds, the Byzantine one lies. Inside the protocol the same
rule is ``ClientCore``'s (tests/pbft/test_core.py).
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from uqo.control.errors import ControlError
from uqo.control.sdk.client import UnifiedOrchestrator

from .loopback import serve

TRUE = {"task_id": "t1", "state": "queued", "priority": 2}
LIE = {"task_id": "t1", "state": "completed", "priority": 2}


async def _replica(answer, delay: float = 0.0) -> tuple[web.AppRunner, str]:
    async def task(request: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        if answer is None:
            return web.json_response({"error": {"code": "not_found", "message": "no such task",
                                                "field": None}}, status=404)
        return web.json_response(answer)
    app = web.Application()
    app.router.add_get("/v1/tasks/{task_id}", task)
    return await serve(app)


@pytest.fixture
async def group():
    """Replica 0 lies and answers first; 1-3 tell the truth, a little later."""
    made = [await _replica(LIE)] + [await _replica(TRUE, delay=0.05) for _ in range(3)]
    yield [url for _, url in made], [runner for runner, _ in made]
    for runner, _ in made:
        await runner.cleanup()


async def test_a_lying_replica_is_outvoted(group):
    urls, _ = group
    async with UnifiedOrchestrator(urls, reply_quorum=2, retries=1) as client:
        assert await client.get_task("t1") == TRUE
    async with UnifiedOrchestrator(urls, retries=1) as trusting:      # quorum 1: the liar
        assert await trusting.get_task("t1") == LIE


async def test_one_reply_is_never_enough(group):
    """Only the liar and one correct replica are up, and they disagree: no answer."""
    urls, runners = group
    for runner in runners[2:]:
        await runner.cleanup()
    async with UnifiedOrchestrator(urls, reply_quorum=2, retries=1, timeout_s=2) as client:
        with pytest.raises(ControlError) as err:
            await client.get_task("t1")
    assert err.value.status == 503 and err.value.code == "no_quorum"


async def test_errors_need_a_quorum_too():
    made = [await _replica(TRUE)] + [await _replica(None, delay=0.05) for _ in range(3)]
    try:
        async with UnifiedOrchestrator([u for _, u in made], reply_quorum=2) as client:
            with pytest.raises(ControlError) as err:
                await client.get_task("t1")
        assert err.value.status == 404
    finally:
        for runner, _ in made:
            await runner.cleanup()


@pytest.mark.parametrize("bad", [0, 5, True, "2"])
def test_reply_quorum_is_checked(bad):
    with pytest.raises(ControlError, match="reply_quorum") as err:
        UnifiedOrchestrator([f"http://127.0.0.1:{9000 + i}" for i in range(4)], reply_quorum=bad)
    assert err.value.status == 400 and err.value.field == "reply_quorum"
