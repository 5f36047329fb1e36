"""First start: the server answers ``/health/live`` before the orchestrator has started, other
routes answer 503 ``starting`` with Retry-After until it has, and a start that fails exits 1
with the reason."""

import asyncio
import os
import subprocess
import sys

from aiohttp.test_utils import TestClient, TestServer
from uqo.control.api.app import STARTING, build_app
from uqo.control.client.procs import ServerProcess
from uqo.control.leader.service import Orchestrator

SETTINGS = {"capacity": 1024, "backend": "numpy", "log_level": "warning"}


class GatedOrchestrator(Orchestrator):
    """The real orchestrator, whose start waits for the test to open a gate (standing in for
    a long recovery or a cold kernel compile, without making the test slow)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gate = asyncio.Event()

    async def start(self) -> None:
        await self.gate.wait()
        await super().start()


async def test_live_at_once_and_503_starting_until_started(cfg):
    orch = GatedOrchestrator(cfg)
    app = build_app(orch, background_start=True)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/health/live")).status == 200
        assert (await client.get("/health/ready")).status == 503
        resp = await client.get("/v1/status")
        assert resp.status == 503 and resp.headers["Retry-After"] == "1"
        assert (await resp.json())["error"]["code"] == "starting"
        write = await client.post("/v1/agents", json={"agent_id": "a1"})
        assert write.status == 503                                   # nothing was applied
        orch.gate.set()
        await asyncio.wait_for(app[STARTING], 60)
        assert (await client.get("/health/ready")).status == 200
        status = await (await client.get("/v1/status")).json()
        assert status["ready"] and status["scheduler"]["agents"] == 0
        assert (await client.post("/v1/agents", json={"agent_id": "a1"})).status == 201


def test_listening_is_announced_before_ready(tmp_path):
    with ServerProcess(str(tmp_path / "data"), SETTINGS) as srv:
        lines = [line for line in srv.lines if line.startswith("uqo serve:")]
        listening = next(i for i, line in enumerate(lines) if "listening on" in line)
        ready = next(i for i, line in enumerate(lines) if "ready on" in line)
        assert listening < ready


def test_a_start_that_fails_exits_1_with_the_reason(tmp_path):
    data = tmp_path / "data"
    with ServerProcess(str(data), SETTINGS):
        pass
    snap = data / "snap"
    (snap / f"{1:020d}-{1:020d}.snap").write_bytes(b"UQOSNAP1" + b"\0" * 4 + b"not a state")
    env = {**os.environ, **{f"UQO_{k.upper()}": str(v) for k, v in SETTINGS.items()}}
    out = subprocess.run([sys.executable, "-m", "uqo", "serve", "--port", "0", "--data-dir",
                          str(data)], capture_output=True, text=True, timeout=120, env=env,
                         check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "could not start" in out.stderr and "checksum" in out.stderr
