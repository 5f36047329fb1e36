"""Shared fixtures: a small, fast configuration and a real HTTP server on 127.0.0.1."""

import pytest
from aiohttp.test_utils import TestClient, TestServer
from uqo.control.api.app import build_app
from uqo.control.config import load_config
from uqo.control.leader.service import Orchestrator

FAST = {"capacity": 512, "backend": "numpy", "tick_interval_s": 0.1,
        "schedule_interval_s": 0.005, "long_poll_max_s": 5.0}


@pytest.fixture
def cfg(tmp_path):
    return load_config(overrides={**FAST, "data_dir": str(tmp_path / "data")})


@pytest.fixture
async def client(cfg):
    """An aiohttp client against the full app (orchestrator started) on a real socket."""
    app = build_app(Orchestrator(cfg))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c
