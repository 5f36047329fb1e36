"""``uqo serve`` as a process: configuration printed, SIGTERM finishes in-flight work."""

import asyncio
import subprocess
import sys

import aiohttp
from uqo.control.client.procs import ServerProcess

SETTINGS = {"capacity": 1024, "backend": "numpy", "log_level": "warning"}


async def test_sigterm_is_graceful_and_loses_nothing(tmp_path):
    data = str(tmp_path / "data")
    srv = ServerProcess(data, SETTINGS).start()
    headers = srv.auth_headers()
    try:
        await _drive_and_terminate(srv, headers)
    finally:
        srv.kill()
    assert srv.proc.returncode == 0
    assert any("log synced" in line for line in srv.lines)
    with ServerProcess(data, SETTINGS) as again:
        async with aiohttp.ClientSession(headers=headers) as session, \
                session.get(f"{again.url}/v1/tasks?limit=1000") as r:
            ids = {t["task_id"] for t in (await r.json())["items"]}
    assert {f"g{i}" for i in range(100)} <= ids


async def _drive_and_terminate(srv, headers):
    assert any("uqo serve: configuration" in line for line in srv.lines)
    assert any("capacity" in line and "env UQO_CAPACITY" in line for line in srv.lines)
    assert any("credential written to" in line for line in srv.lines)
    async with aiohttp.ClientSession(headers=headers) as session:
        await session.post(f"{srv.url}/v1/agents", json={"agent_id": "w1"})
        poll = asyncio.create_task(session.get(f"{srv.url}/v1/agents/w1/assignments?wait=30"))
        await asyncio.sleep(0.2)
        async with session.post(f"{srv.url}/v1/tasks/batch",
                                json={"tasks": [{"task_id": f"g{i}", "required_agents": 2}
                                                for i in range(100)]}) as r:
            assert r.status == 201
        await asyncio.get_running_loop().run_in_executor(None, srv.terminate)
        resp = await asyncio.wait_for(poll, 10)     # the long-poll was answered, not cut
        assert resp.status == 200


def _uqo(*args):
    return subprocess.run([sys.executable, "-m", "uqo", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_bad_command_line_input_is_named_and_exits_2(tmp_path):
    out = _uqo("serve", "--config", str(tmp_path / "nope.toml"))
    assert out.returncode == 2 and "nope.toml" in out.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("port = 'eighty'\n")
    out = _uqo("serve", "--config", str(bad))
    assert out.returncode == 2 and "'port'" in out.stderr
    out = _uqo("agent", "--agent-id", "a", "--handler", "juggle")
    assert out.returncode == 2 and "juggle" in out.stderr
