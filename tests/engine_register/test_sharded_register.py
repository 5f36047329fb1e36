"""The register sharded over 4 host devices equals the one-device register, cells sit on the
device of their ring partition, and a device failure moves it to the CPU (the GPU failover).
The checks (``_sharded_checks.py``) run in subprocesses so that ``XLA_FLAGS`` creates the
devices before JAX starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest
from uqo.engine.register import AgentRegister

CHECKS = Path(__file__).with_name("_sharded_checks.py")


def run_check(*args: str) -> None:
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, str(CHECKS), *args], env=env, capture_output=True,
                         text=True, timeout=240, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert f"{args[0]} OK" in out.stdout


@pytest.mark.timeout(300)
def test_random_operations_match_one_device():
    run_check("random_operations", "0")


@pytest.mark.timeout(300)
def test_cells_sit_on_their_ring_partition_and_full_blocks_spill():
    run_check("placement")


@pytest.mark.timeout(300)
def test_device_failure_mid_run_moves_the_sharded_register_to_the_cpu():
    # seed 1: the fault hits a tick (run_pairs); seed 2: a put (adding singles)
    run_check("failover", "1", "2")


@pytest.mark.timeout(300)
def test_a_dead_device_resets_only_its_own_block():
    run_check("lost_device", "0")


def test_bad_shards_and_keys_are_refused():
    too_many = len(jax.local_devices()) + 1
    with pytest.raises(ValueError, match=f"shards={too_many} but only"):
        AgentRegister(8, backend="jax", shards=too_many)
    with pytest.raises(ValueError, match="shards must be"):
        AgentRegister(8, backend="jax", shards=0)
    with pytest.raises(ValueError, match="shards needs the jax backend"):
        AgentRegister(8, backend="numpy", shards=2)
    with pytest.raises(ValueError, match="shards needs the jax backend"):
        AgentRegister(8, backend="numpy", shards="global")
    assert AgentRegister(8, backend="jax", shards="global").shards == len(jax.devices())
    assert AgentRegister(8, backend="numpy").mesh is None     # "auto": nothing to shard
    assert AgentRegister(8, backend="jax", shards=None).mesh is None
    reg = AgentRegister(8, backend="numpy")
    with pytest.raises(ValueError, match="keys must be 4 str"):
        reg.add_pairs(2, keys=["a", "b", "c"])
    with pytest.raises(ValueError, match="keys must be 1 str"):
        reg.add_singles(1, keys=[7])
    assert reg.n_active == 0
