"""Idempotency keys in the state machine: a keyed command applies once per (caller, key), a
repeat returns a copy of the first result, another request under the key is refused, keys
expire by the entries' own time and are bounded, and snapshots carry them."""

import pytest
from uqo.control.errors import ControlError
from uqo.control.state.commands import (
    AgentInfo,
    Cancel,
    Keyed,
    RegisterAgent,
    SubmitTasks,
    TaskInfo,
    TimeOut,
    decode,
    encode,
)
from uqo.control.state.idempotency import Replayed
from uqo.control.state.machine import StateMachine
from uqo.control.state.records import CANCELLED


def _machine():
    sm, n = StateMachine(), iter(range(1, 10_000))

    def apply(cmd):
        return sm.apply(next(n), 1, cmd)
    return sm, apply


def _keyed(cmd, key="k1", digest="d1", principal="alice", ttl=60.0, keep=100):
    return Keyed(at=cmd.at, principal=principal, key=key, digest=digest,
                 expires_at=cmd.at + ttl, keep=keep, command=encode(cmd))


def _with_task(apply, task_id="t1"):
    apply(SubmitTasks(at=1.0, tasks=(TaskInfo(task_id),)))


def test_keyed_round_trips_through_the_wire_form():
    cmd = _keyed(Cancel(at=5.0, task_id="t1", reason="r"))
    assert decode(encode(cmd)) == cmd


def test_a_repeat_returns_the_first_result_and_changes_nothing():
    sm, apply = _machine()
    _with_task(apply)
    first = apply(_keyed(Cancel(at=2.0, task_id="t1", reason="first")))
    assert first.state == CANCELLED and first.finished_at == 2.0
    again = apply(_keyed(Cancel(at=3.0, task_id="t1", reason="first")))
    assert isinstance(again, Replayed)
    assert again.result.state == CANCELLED and again.result.finished_at == 2.0
    assert again.result is not sm.tasks["t1"]          # a copy: later changes do not leak in
    assert sm.counts[CANCELLED] == 1
    with pytest.raises(ControlError) as err:           # unkeyed, the same cancel is refused
        apply(Cancel(at=3.0, task_id="t1"))
    assert err.value.code == "invalid_transition"


def test_another_request_under_the_key_is_refused_422_and_changes_nothing():
    sm, apply = _machine()
    _with_task(apply)
    _with_task(apply, "t2")
    apply(_keyed(Cancel(at=2.0, task_id="t1")))
    with pytest.raises(ControlError) as err:
        apply(_keyed(Cancel(at=3.0, task_id="t2"), digest="d2"))
    assert (err.value.status, err.value.code, err.value.field) == (
        422, "idempotency_key_reused", "Idempotency-Key")
    assert sm.tasks["t2"].state == "pending"


def test_keys_are_scoped_to_the_caller():
    sm, apply = _machine()
    apply(_keyed(SubmitTasks(at=1.0, tasks=(TaskInfo("a"),)), principal="alice"))
    assert apply(_keyed(SubmitTasks(at=1.0, tasks=(TaskInfo("b"),)), principal="bob",
                        digest="other")) == ["b"]
    assert set(sm.tasks) == {"a", "b"}


def test_a_refused_keyed_command_records_no_key():
    sm, apply = _machine()
    with pytest.raises(ControlError):
        apply(_keyed(Cancel(at=2.0, task_id="missing")))
    assert len(sm.keys) == 0
    _with_task(apply, "missing")
    assert apply(_keyed(Cancel(at=3.0, task_id="missing"))).state == CANCELLED


def test_keys_expire_by_the_entries_time_and_the_table_is_bounded():
    sm, apply = _machine()
    apply(_keyed(SubmitTasks(at=10.0, tasks=(TaskInfo("t1"),)), ttl=5.0))
    assert len(sm.keys) == 1
    apply(TimeOut(at=15.0, task_ids=()))                 # any entry at or past expiry drops it
    assert len(sm.keys) == 0
    apply(_keyed(SubmitTasks(at=16.0, tasks=(TaskInfo("t2"),)), digest="new"))
    assert set(sm.tasks) == {"t1", "t2"}                 # the key is free for a new request
    for i in range(5):
        apply(_keyed(SubmitTasks(at=17.0, tasks=(TaskInfo(f"x{i}"),)), key=f"b{i}", keep=3))
    assert [r.key for r in sm.keys.records()] == ["b2", "b3", "b4"]


def test_snapshots_carry_the_keys_and_a_restored_machine_replays():
    sm, apply = _machine()
    agent = AgentInfo("a1", ("gpu",))
    first = apply(_keyed(RegisterAgent(at=1.0, agent=agent)))
    restored = StateMachine.restore(sm.snapshot())
    again = restored.apply(sm.applied_index + 1, 1, _keyed(RegisterAgent(at=2.0, agent=agent)))
    assert isinstance(again, Replayed) and again.result == first
    assert restored.snapshot() != b"" and len(restored.keys) == 1


def test_a_keyed_command_cannot_wrap_another_keyed_or_a_leader_command():
    sm, apply = _machine()
    with pytest.raises(ControlError):
        apply(_keyed(_keyed(Cancel(at=1.0, task_id="t1"))))
    with pytest.raises(ControlError):
        apply(_keyed(TimeOut(at=1.0, task_ids=())))
    assert len(sm.keys) == 0
