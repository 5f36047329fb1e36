"""kill -9 of a real server process under load loses no acknowledged command.

A real ``uqo serve`` child process (fsync on) takes concurrent single and batch submits and
registrations over HTTP on 127.0.0.1; it is SIGKILLed mid-load, restarted on the same data
directory, and every command that had been answered 2xx must be there. Two rounds, so the
second recovery also reads a log written after a recovery.
"""

import asyncio
import uuid

import aiohttp
from uqo.control.client.procs import ServerProcess

SETTINGS = {"capacity": 4096, "backend": "numpy", "snapshot_every": 300,
            "tick_interval_s": 0.2, "log_level": "warning"}


async def _load(url: str, headers: dict, acked_tasks: set, acked_agents: set,
                stop: asyncio.Event):
    async with aiohttp.ClientSession(headers=headers) as session:
        async def singles():
            while not stop.is_set():
                tid = uuid.uuid4().hex
                try:
                    async with session.post(f"{url}/v1/tasks", json={"task_id": tid}) as r:
                        if r.status == 201:
                            acked_tasks.add(tid)
                except aiohttp.ClientError:
                    return

        async def batches():
            while not stop.is_set():
                ids = [uuid.uuid4().hex for _ in range(50)]
                try:
                    async with session.post(f"{url}/v1/tasks/batch",
                                            json={"tasks": [{"task_id": t} for t in ids]}) as r:
                        if r.status == 201:
                            acked_tasks.update(ids)
                except aiohttp.ClientError:
                    return

        async def agents():
            while not stop.is_set():
                aid = f"ag-{uuid.uuid4().hex[:12]}"
                try:
                    async with session.post(f"{url}/v1/agents", json={"agent_id": aid}) as r:
                        if r.status == 201:
                            acked_agents.add(aid)
                except aiohttp.ClientError:
                    return
        await asyncio.gather(*[singles() for _ in range(6)], batches(), batches(), agents())


async def _all(url: str, headers: dict, kind: str, key: str) -> set:
    out, cursor = set(), 0
    async with aiohttp.ClientSession(headers=headers) as session:
        while cursor is not None:
            async with session.get(f"{url}/v1/{kind}?limit=1000&cursor={cursor}") as r:
                page = await r.json()
            out.update(item[key] for item in page["items"])
            cursor = page["next_cursor"]
    return out


async def _round(srv: ServerProcess, headers: dict, acked_tasks: set, acked_agents: set,
                 seconds: float):
    stop = asyncio.Event()
    load = asyncio.create_task(_load(srv.url, headers, acked_tasks, acked_agents, stop))
    await asyncio.sleep(seconds)
    srv.kill()                                   # kill -9 while requests are in flight
    stop.set()
    await asyncio.wait_for(load, 30)


async def test_kill_minus_9_under_load_loses_nothing_acknowledged(tmp_path):
    data = str(tmp_path / "data")
    acked_tasks: set[str] = set()
    acked_agents: set[str] = set()
    headers = None
    for seconds in (1.5, 1.0):
        srv = ServerProcess(data, SETTINGS).start()
        headers = headers or srv.auth_headers()     # one login: a TOTP code is used once
        try:
            await _round(srv, headers, acked_tasks, acked_agents, seconds)
        finally:
            srv.kill()
        assert srv.proc.returncode == -9
    with ServerProcess(data, SETTINGS) as srv:
        tasks = await _all(srv.url, headers, "tasks", "task_id")
        agents = await _all(srv.url, headers, "agents", "agent_id")
    print(f"acknowledged: {len(acked_tasks)} tasks, {len(acked_agents)} agents")
    assert len(acked_tasks) > 500, "the load was too light to mean anything"
    assert acked_tasks <= tasks, f"lost {len(acked_tasks - tasks)} acknowledged tasks"
    assert acked_agents <= agents, f"lost {len(acked_agents - agents)} acknowledged agents"
