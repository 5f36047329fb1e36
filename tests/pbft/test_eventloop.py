"""The replica's event loop choice (control/pbft/eventloop.py): UQO_EVENT_LOOP picks uvloop or
the standard loop, a bad value is refused by name, and the runner refuses it before starting.
The replica processes of test_processes.py run on the default (uvloop where installed)."""
import asyncio
import os
import subprocess
import sys

import pytest
import uvloop
from uqo.control.pbft.eventloop import ENV, loop_factory, run


async def _loop_type():
    return type(asyncio.get_running_loop())


def test_default_is_uvloop_when_installed(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    name, factory = loop_factory()
    assert name == "uvloop" and factory is uvloop.new_event_loop
    assert run(_loop_type()) is uvloop.Loop


def test_asyncio_turns_uvloop_off(monkeypatch):
    monkeypatch.setenv(ENV, "asyncio")
    assert loop_factory() == ("asyncio", None)
    assert not issubclass(run(_loop_type()), uvloop.Loop)


def test_explicit_choice_overrides_environment(monkeypatch):
    monkeypatch.setenv(ENV, "asyncio")
    assert run(_loop_type(), "uvloop") is uvloop.Loop


def test_missing_uvloop_falls_back_unless_asked_for(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)       # import uvloop -> ImportError
    assert loop_factory("auto") == ("asyncio", None)
    with pytest.raises(RuntimeError, match="not installed"):
        loop_factory("uvloop")


def test_unknown_value_is_refused_by_name(monkeypatch):
    monkeypatch.setenv(ENV, "tokio")
    with pytest.raises(ValueError, match="UQO_EVENT_LOOP='tokio'"):
        loop_factory()


def test_runner_refuses_unknown_loop_before_starting(tmp_path):
    from uqo.control.pbft.launch import ProcessCluster, free_port_block
    cluster = ProcessCluster(str(tmp_path / "c"), 4, free_port_block(4))
    env = {**os.environ, ENV: "tokio"}
    cmd = [sys.executable, "-m", "uqo.control.pbft.runner",
           os.path.join(cluster.spec.root, "cluster.json"), cluster.names[0]]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 2
    assert "UQO_EVENT_LOOP='tokio'" in p.stderr
