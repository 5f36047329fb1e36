"""The replicated part of security in the state machine: epochs, revoked tokens, users'
access, and task counts by label; all deterministic, and kept by snapshots."""

from uqo.control.state import commands as cmds
from uqo.control.state.commands import RevokeSessions, RevokeToken, SubmitTasks, TaskInfo
from uqo.control.state.machine import StateMachine


def _apply(sm, *commands):
    for command in commands:
        sm.apply(sm.applied_index + 1, 1, command)


def test_revoking_sessions_bumps_the_epoch_and_records_the_access():
    sm = StateMachine()
    assert sm.security.epoch("ana") == 0
    _apply(sm, RevokeSessions(at=1.0, user_id="ana", disabled=True),
           RevokeSessions(at=2.0, user_id="ana", count=3, clearance=1, compartments=("INTEL",)))
    record = sm.security.users["ana"]
    assert (record.epoch, record.disabled, record.clearance, record.compartments) == (
        4, True, 1, ("INTEL",))                       # unchanged fields stay as they were
    _apply(sm, RevokeSessions(at=3.0, user_id="ana", disabled=False))
    assert sm.security.users["ana"].disabled is False and sm.security.epoch("ana") == 5


def test_revoked_tokens_are_kept_until_they_expire_by_the_commands_clock():
    sm = StateMachine()
    _apply(sm, RevokeToken(at=10.0, token_id="a", expires_at=100.0),
           RevokeToken(at=20.0, token_id="b", expires_at=15.0))       # already expired
    assert sm.security.is_revoked("a") and not sm.security.is_revoked("b")
    _apply(sm, RevokeToken(at=200.0, token_id="c", expires_at=300.0))
    assert not sm.security.is_revoked("a") and sm.security.is_revoked("c")


def test_snapshots_keep_security_and_label_counts():
    sm = StateMachine()
    _apply(sm, RevokeSessions(at=1.0, user_id="ana", disabled=True),
           RevokeToken(at=1.0, token_id="jti", expires_at=99.0),
           SubmitTasks(at=1.0, tasks=(TaskInfo("t1", classification=3, compartments=("X",)),
                                      TaskInfo("t2"))),
           cmds.Cancel(at=2.0, task_id="t1"))
    again = StateMachine.restore(sm.snapshot())
    assert again.security.epoch("ana") == 1 and again.security.is_revoked("jti")
    assert again.security.users["ana"].disabled
    assert again.labels.visible(lambda cls, comps: True) == sm.labels.visible(lambda c, m: True)
    assert +again.labels.visible(lambda cls, comps: cls == 0) == {"pending": 1}
    assert +again.labels.visible(lambda cls, comps: "X" in comps) == {"cancelled": 1}
    assert +sm.labels.visible(lambda cls, comps: "X" in comps) == {"cancelled": 1}
    _apply(again, RevokeSessions(at=3.0, user_id="ana"))     # the restored handlers work
    assert again.security.epoch("ana") == 2


def test_commands_round_trip_through_the_wire_form():
    for command in (RevokeSessions(at=1.0, user_id="u", count=2, disabled=True, clearance=3,
                                   compartments=("A",)),
                    RevokeToken(at=1.0, token_id="t", expires_at=2.0)):
        assert cmds.decode(cmds.encode(command)) == command
