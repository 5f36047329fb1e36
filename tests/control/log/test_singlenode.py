"""SingleNodeLog: group commit, ordered application, recovery from snapshot + tail, failures."""

import asyncio
import os

import pytest
from uqo.control.errors import ControlError
from uqo.control.log.singlenode import SingleNodeLog
from uqo.control.log.wal import WalStorage
from uqo.control.state import commands as c
from uqo.control.state.applier import CommandApplier
from uqo.control.state.machine import StateMachine


def _submit(i):
    return c.encode(c.SubmitTasks(at=float(i), tasks=(c.TaskInfo(f"t{i}"),)))


async def _open(path, **kw):
    applier = CommandApplier(StateMachine())
    log = SingleNodeLog(WalStorage(str(path)), **kw)
    await log.open(applier)
    return log, applier


async def test_concurrent_proposals_share_fsyncs_and_apply_in_order(tmp_path):
    log, applier = await _open(tmp_path)
    results = await asyncio.gather(*(log.propose([_submit(i)]) for i in range(200)))
    assert [r[0] for r in results] == [[f"t{i}"] for i in range(200)]
    st = log.status()
    assert st["commit_index"] == st["applied_index"] == 200
    assert st["batches"] < 200 and st["mean_batch"] > 1      # group commit happened
    assert list(applier.sm.tasks) == [f"t{i}" for i in range(200)]
    await log.close()


async def test_refusals_come_back_as_errors_and_the_rest_applies(tmp_path):
    log, _ = await _open(tmp_path)
    out = await log.propose([_submit(1), _submit(1), _submit(2)])
    assert out[0] == ["t1"] and isinstance(out[1], ControlError) and out[2] == ["t2"]
    assert out[1].code == "task_exists"
    await log.close()


async def test_recovery_replays_snapshot_plus_tail(tmp_path):
    log, _ = await _open(tmp_path, snapshot_every=50)
    for i in range(120):
        await log.propose([_submit(i)])
    await log.close()
    snaps = os.listdir(tmp_path / "snap")
    assert any(n.endswith(".snap") for n in snaps)
    log2, applier2 = await _open(tmp_path, snapshot_every=50)
    st = log2.status()
    assert st["snapshot_index"] >= 50 and st["replayed_on_start"] <= 120 - 50
    assert list(applier2.sm.tasks) == [f"t{i}" for i in range(120)]
    assert st["term"] == 2                       # a new term on every start
    assert (await log2.propose([_submit(999)]))[0] == ["t999"]
    assert log2.status()["commit_index"] == 121
    await log2.close()


async def test_big_entries_trigger_snapshots_by_bytes(tmp_path):
    log, _ = await _open(tmp_path, snapshot_every=10**9, snapshot_bytes=1000)
    batch = c.encode(c.SubmitTasks(at=1.0, tasks=tuple(c.TaskInfo(f"b{i}")
                                                       for i in range(100))))
    assert len(batch) > 1000
    await log.propose([batch])
    await log._snap_task                         # started by the commit, bytes over the limit
    assert log.status()["snapshot_index"] == 1
    await log.close()


async def test_snapshot_now_compacts_the_log(tmp_path):
    log, _ = await _open(tmp_path)
    for i in range(30):
        await log.propose([_submit(i)])
    await log.snapshot_now()
    assert log.status()["snapshot_index"] == 30
    await log.close()
    log2, applier2 = await _open(tmp_path)
    assert log2.status()["replayed_on_start"] == 0 and len(applier2.sm.tasks) == 30
    await log2.close()


async def test_a_failed_write_stops_the_log(tmp_path):
    log, applier = await _open(tmp_path)
    await log.propose([_submit(0)])
    os.close(log.storage._fd)                    # the OS now refuses every write (EBADF)
    with pytest.raises(ControlError, match="log write failed"):
        await log.propose([_submit(1)])
    with pytest.raises(ControlError) as err:
        await log.propose([_submit(2)])
    assert err.value.status == 503 and not log.status()["healthy"]
    assert "t1" not in applier.sm.tasks
    log.storage._fd = None
    await log.close()


async def test_proposals_after_close_are_refused(tmp_path):
    log, _ = await _open(tmp_path)
    await log.close()
    with pytest.raises(ControlError) as err:
        await log.propose([_submit(0)])
    assert err.value.code == "unavailable"


def test_bad_settings_name_themselves(tmp_path):
    with pytest.raises(ValueError, match="snapshot_every"):
        SingleNodeLog(WalStorage(str(tmp_path)), snapshot_every=0)


async def test_a_graceful_close_saves_a_snapshot_and_a_crash_replays(tmp_path):
    log, _ = await _open(tmp_path / "graceful")
    for i in range(10):
        await log.propose([_submit(i)])
    await log.close()
    again, applier = await _open(tmp_path / "graceful")
    assert again.status()["replayed_on_start"] == 0 and len(applier.sm.tasks) == 10
    await again.close()
    crashed, _ = await _open(tmp_path / "crashed")
    for i in range(10):
        await crashed.propose([_submit(i)])
    await crashed.close(snapshot=False)              # what a kill -9 leaves: the log alone
    after, applier = await _open(tmp_path / "crashed")
    assert after.status()["replayed_on_start"] == 10 and len(applier.sm.tasks) == 10
    await after.close()


def test_each_propose_is_a_commit_span_and_each_batch_an_append_span_linking_them(tmp_path):
    from ..traced import run_traced

    spans = run_traced(f"""
from uqo.control.log.singlenode import SingleNodeLog
from uqo.control.log.wal import WalStorage
from uqo.control.state import commands as c
from uqo.control.state.applier import CommandApplier
from uqo.control.state.machine import StateMachine

async def main():
    log = SingleNodeLog(WalStorage({str(tmp_path)!r}))
    await log.open(CommandApplier(StateMachine()))
    one = lambda i: c.encode(c.SubmitTasks(at=1.0, tasks=(c.TaskInfo(f"t{{i}}"),)))
    await asyncio.gather(*(log.propose([one(i)]) for i in range(20)))
    await log.propose([one(20), one(21)])
    await log.close()
""")
    commits, appends = spans.named("log.commit"), spans.named("log.append")
    assert len(commits) == 21
    assert sorted(s["attributes"]["uqo.log.entries"] for s in commits) == [1] * 20 + [2]
    assert sum(a["attributes"]["uqo.log.entries"] for a in appends) == 22
    assert len(appends) < 21                                 # group commit: shared fsyncs
    linked = [link[1] for a in appends for link in a["links"]]
    assert sorted(linked) == sorted(s["span_id"] for s in commits)   # each once
    for a in appends:
        assert a["attributes"]["uqo.log.proposals"] == len(a["links"])
        assert a["attributes"]["uqo.log.fsync_s"] >= 0
