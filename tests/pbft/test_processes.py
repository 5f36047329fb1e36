"""Real clusters: one replica process each on loopback (mutual TLS, fsync'd disks), kill -9 of
the primary, and Byzantine processes. Every correct replica's applied log (a hash chain over
all entries) must end up identical."""

from __future__ import annotations

import asyncio

import pytest
from uqo.control.pbft.launch import ProcessCluster, free_port_block

from .test_pbftlog import register

pytestmark = pytest.mark.slow

CORE = {"checkpoint_interval": 8, "log_size": 32, "view_change_ticks": 100}
LIMIT = 240        # seconds; generous: these machines are shared and timing is no claim here


async def _load(cluster: ProcessCluster, names: list[str], prefix: str, count: int) -> None:
    results = await asyncio.gather(*[
        cluster.propose(names[i % len(names)], [register(f"{prefix}{i}")]) for i in range(count)])
    assert all(r == [[True, ""]] for r in results), results


async def test_four_processes_survive_kill_9_of_the_primary(tmp_path):
    cluster = ProcessCluster(tmp_path / "c4", 4, free_port_block(4), core=CORE)
    names = cluster.names
    try:
        cluster.start_all()
        await _load(cluster, names, "a", 20)
        assert (await cluster.status(names[1]))["primary"] == names[0]
        cluster.kill(names[0])                                   # the primary of view 0
        await asyncio.wait_for(_load(cluster, names[1:], "b", 20), LIMIT)
        st = await cluster.status(names[1])
        assert st["view"] >= 1 and st["primary"] != names[0]
        cluster.start(names[0])                                  # back from its own disk
        await cluster.converged(names)                           # it caught up
        await _load(cluster, names, "c", 8)
        entries, _ = await cluster.converged(names)
        assert entries == 48
    finally:
        await cluster.close()


@pytest.mark.parametrize("mode", ["equivocate", "garbage"])
async def test_seven_processes_with_a_byzantine_primary_and_a_crash(tmp_path, mode):
    """n = 7, f = 2: replica-1 (primary of view 0) is Byzantine and replica-5 is killed with
    -9; the five correct replicas keep committing and agree."""
    cluster = ProcessCluster(tmp_path / "c7", 7, free_port_block(7), core=CORE,
                             byzantine={"replica-1": mode})
    names = cluster.names
    correct = [n for n in names if n not in ("replica-1", "replica-5")]
    try:
        cluster.start_all()
        await asyncio.wait_for(_load(cluster, names[1:], "a", 14), LIMIT)
        cluster.kill("replica-5")
        await asyncio.wait_for(_load(cluster, correct, "b", 14), LIMIT)
        entries, _ = await cluster.converged(correct)
        assert entries == 28
        dropped = {}
        for n in correct:
            for reason, count in (await cluster.status(n))["dropped"].items():
                dropped[reason] = dropped.get(reason, 0) + count
        if mode == "garbage":
            assert dropped.get("malformed", 0) > 0
        else:
            assert (await cluster.status(correct[0]))["view"] >= 1
    finally:
        await cluster.close()
