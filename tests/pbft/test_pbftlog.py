"""``PbftLog``: the Log interface over four real replicas in one event loop, on real sockets with
mutual TLS, each with its own data directory (fsync'd records, snapshots)."""

from __future__ import annotations

import asyncio

import aiohttp
import msgspec
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from uqo.control.errors import ControlError
from uqo.control.pbft.cluster import build_log, make_cluster, open_replica_signer, tls_contexts
from uqo.control.pbft.faults import byzantine_filter
from uqo.control.pbft.launch import free_port_block
from uqo.control.pbft.metrics import PbftMetrics
from uqo.control.pbft.runner import ChainApplier
from uqo.control.state import commands
from uqo.control.state.applier import CommandApplier
from uqo.control.state.machine import StateMachine


def register(agent_id: str) -> bytes:
    return commands.encode(commands.RegisterAgent(at=1.0, agent=commands.AgentInfo(agent_id)))


class Group:
    """Four PbftLogs of one cluster, started and stopped individually."""

    def __init__(self, tmp_path, core=None, n=4):
        self.spec = make_cluster(tmp_path / "cluster", n, free_port_block(n), core=core)
        self.logs, self.apps = {}, {}

    async def start(self, name, **kwargs):
        app = ChainApplier(CommandApplier(StateMachine()))
        log = build_log(self.spec, name, open_replica_signer(self.spec, name), **kwargs)
        await log.open(app)
        self.logs[name], self.apps[name] = log, app
        return log

    async def start_all(self, **kwargs):
        for name in self.spec.names:
            await self.start(name, **kwargs.get(name, {}))

    async def stop(self, name):
        await self.logs.pop(name).close()
        self.apps.pop(name)

    async def close(self):
        for name in list(self.logs):
            await self.stop(name)

    async def converged(self, names=None, timeout=20.0):
        names = names or list(self.apps)
        for _ in range(int(timeout / 0.05)):
            heads = {(self.apps[n].entries, self.apps[n].chain) for n in names}
            if len(heads) == 1:
                return heads.pop()
            await asyncio.sleep(0.05)
        raise AssertionError({n: (self.apps[n].entries, self.logs[n].status()) for n in names})


@pytest.fixture
async def group(tmp_path):
    g = Group(tmp_path, core={"checkpoint_interval": 4, "log_size": 16})
    yield g
    await g.close()


async def test_every_replica_commits_and_applies_the_same_log(group):
    await group.start_all()
    names = group.spec.names

    async def one(i):
        return await group.logs[names[i % 4]].propose([register(f"a{i}"), b"\x00junk"])
    results = await asyncio.gather(*[one(i) for i in range(40)])
    for i, (ok, bad) in enumerate(results):
        assert ok.info.agent_id == f"a{i}"
        assert isinstance(bad, ControlError) and bad.code == "invalid_command"
    dup = await group.logs[names[2]].propose([register("a0")])
    assert isinstance(dup[0], ControlError)              # the state machine's own refusal
    entries, _ = await group.converged()
    assert entries == 81
    sms = [a.inner.sm.snapshot() for a in group.apps.values()]
    assert len(set(sms)) == 1
    st = group.logs[names[0]].status()
    assert st["mode"] == "pbft" and st["healthy"] and st["stable_seq"] >= 0
    assert all(log.is_leader for log in group.logs.values())


async def test_a_restarted_replica_recovers_and_a_lagging_one_fetches_state(group):
    await group.start_all()
    names = group.spec.names
    for i in range(5):
        await group.logs[names[0]].propose([register(f"before{i}")])
    await group.stop(names[3])                            # down while the log moves on
    for i in range(30):                                   # > log_size sequence numbers
        await group.logs[names[i % 3]].propose([register(f"during{i}")])
    await group.stop(names[1])                            # a clean restart from its disk
    await group.start(names[1])
    await group.start(names[3])                           # behind the stable checkpoint
    await group.converged()
    got = await group.logs[names[3]].propose([register("after")])
    assert got[0].info.agent_id == "after"
    entries, _ = await group.converged()
    assert entries == 36
    assert group.logs[names[3]].status()["state_installs"] >= 1      # it fetched the state
    assert group.logs[names[3]].status()["stable_seq"] >= 4
    assert not any(log.status()["diverged"] for log in group.logs.values())


async def test_an_equivocating_primary_is_tolerated_and_counted(tmp_path):
    g = Group(tmp_path, core={"checkpoint_interval": 4, "log_size": 16,
                              "view_change_ticks": 30})
    names = g.spec.names
    registry = CollectorRegistry()
    try:
        signer = open_replica_signer(g.spec, names[0])
        await g.start(names[0], send_filter=byzantine_filter("equivocate", signer, 0, 4, seed=1))
        for name in names[1:]:
            await g.start(name, metrics=PbftMetrics(registry) if name == names[1] else None)
        results = await asyncio.wait_for(asyncio.gather(
            *[g.logs[names[1 + i % 3]].propose([register(f"b{i}")]) for i in range(12)]), 60)
        assert [r[0].info.agent_id for r in results] == [f"b{i}" for i in range(12)]
        await g.converged(names[1:])
        text = generate_latest(registry).decode()
        assert "uqo_pbft_view 1.0" in text or "uqo_pbft_view 2.0" in text
        for name in names[1:]:                       # the lying primary was voted out
            st = g.logs[name].status()
            assert st["view"] >= 1 and st["primary"] != names[0] and not st["diverged"]
    finally:
        await g.close()


@pytest.mark.parametrize("mode,reason", [("garbage", "malformed"), ("forge", "signature")])
async def test_a_lying_backup_is_counted_and_harmless(tmp_path, mode, reason):
    g = Group(tmp_path, core={"checkpoint_interval": 4, "log_size": 16})
    names = g.spec.names
    registry = CollectorRegistry()
    try:
        for name in names[:3]:
            await g.start(name, metrics=PbftMetrics(registry) if name == names[0] else None)
        signer = open_replica_signer(g.spec, names[3])
        await g.start(names[3], send_filter=byzantine_filter(mode, signer, 3, 4, seed=2))
        for i in range(6):
            await g.logs[names[i % 4]].propose([register(f"c{i}")])
        await g.converged(names[:3])
        text = generate_latest(registry).decode()
        assert f'uqo_pbft_dropped_messages_total{{reason="{reason}"}}' in text
    finally:
        await g.close()


async def test_the_transport_refuses_strangers_and_junk(group, tmp_path):
    await group.start_all()
    spec, name = group.spec, group.spec.names[0]
    url = spec.replicas[name] + "/pbft/v1/msgs"
    _, agent_ssl = tls_contexts(spec, "bench")            # a valid certificate, not a replica
    async with aiohttp.ClientSession() as s, s.post(url, data=b"x", ssl=agent_ssl) as resp:
        assert resp.status == 403
    _, peer_ssl = tls_contexts(spec, spec.names[1])
    async with aiohttp.ClientSession() as s:
        async with s.post(url, data=b"\xc1not msgpack", ssl=peer_ssl) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["field"] == "body"
        junk = msgspec.msgpack.encode([b"", b"\x00" * 50, b"\x92\xc4\x01x\xc4\x00"])
        async with s.post(url, data=junk, ssl=peer_ssl) as resp:
            assert resp.status == 204
    for _ in range(100):
        if group.logs[name].status()["dropped"].get("malformed", 0) >= 3:
            break
        await asyncio.sleep(0.02)
    assert group.logs[name].status()["dropped"]["malformed"] >= 3
    assert (await group.logs[name].propose([register("still-fine")]))[0].info.agent_id == \
        "still-fine"


async def test_propose_needs_an_open_log(tmp_path):
    g = Group(tmp_path)
    log = build_log(g.spec, g.spec.names[0], open_replica_signer(g.spec, g.spec.names[0]))
    with pytest.raises(ControlError, match="not open"):
        await log.propose([b"x"])


def test_state_machine_snapshots_are_deterministic_across_restore():
    """Checkpoint digests hash the applier's snapshot: replicas that restored from a snapshot
    must produce the same bytes as replicas that applied everything."""
    from uqo.control.log import Entry

    cmds = [register(f"a{i}") for i in range(30)] + [commands.encode(commands.SubmitTasks(
        at=2.0, tasks=(commands.TaskInfo(f"t{i}"),))) for i in range(30)]
    a = CommandApplier(StateMachine())
    b = CommandApplier(StateMachine())
    for i, data in enumerate(cmds, 1):
        a.apply(Entry(i, i, data))
        b.apply(Entry(i, i, data))
        if i == 25:
            b.restore(b.snapshot())
    assert a.snapshot() == b.snapshot()
