"""Token keys and accounts in the replicated state: ``PublishKeys`` replaces a replica's key
set (a key left out is withdrawn), ``PutAccount`` enrols, changes and removes; both are kept by
snapshots, travel in the wire form, and an older snapshot without them still restores."""

import msgspec
from uqo.control.state import commands as cmds
from uqo.control.state.commands import AccountRecord, PublishKeys, PutAccount, TokenKey
from uqo.control.state.machine import StateMachine
from uqo.control.state.security import SecuritySnapshot

K1, K2, K3 = (TokenKey(f"kid-{i}", "ed25519", f"pem-{i}") for i in (1, 2, 3))
ANA = AccountRecord("analyst", 1, ("INTEL",), "$argon2id$v=19$...", b"sealed", (), 5.0)


def _apply(sm, *commands):
    for command in commands:
        sm.apply(sm.applied_index + 1, 1, command)


def test_publishing_replaces_a_replicas_set_and_withdraws_what_it_leaves_out():
    sm = StateMachine()
    _apply(sm, PublishKeys(at=1.0, replica_id="a", keys=(K1, K2)),
           PublishKeys(at=1.0, replica_id="b", keys=(K3,)))
    assert sm.security.token_key("kid-2") == K2 and sm.security.token_key("kid-3") == K3
    _apply(sm, PublishKeys(at=2.0, replica_id="a", keys=(K2,)))       # kid-1 withdrawn
    assert sm.security.token_key("kid-1") is None and sm.security.token_key("kid-2") == K2
    _apply(sm, PublishKeys(at=3.0, replica_id="b", keys=()))
    assert sm.security.token_key("kid-3") is None and "b" not in sm.security.keys
    assert sm.security.token_key("unknown") is None


def test_accounts_are_put_changed_and_removed():
    sm = StateMachine()
    _apply(sm, PutAccount(at=1.0, user_id="ana", account=ANA))
    assert sm.security.accounts["ana"] == ANA
    disabled = msgspec.structs.replace(ANA, disabled=True)
    _apply(sm, PutAccount(at=2.0, user_id="ana", account=disabled))
    assert sm.security.accounts["ana"].disabled
    _apply(sm, PutAccount(at=3.0, user_id="ana", account=None))
    assert sm.security.accounts == {"ana": None}          # kept: replicas drop their copy


def test_snapshots_keep_keys_and_accounts_and_old_snapshots_restore():
    sm = StateMachine()
    _apply(sm, PublishKeys(at=1.0, replica_id="a", keys=(K1,)),
           PutAccount(at=1.0, user_id="ana", account=ANA))
    again = StateMachine.restore(sm.snapshot())
    assert again.security.token_key("kid-1") == K1 and again.security.accounts["ana"] == ANA
    _apply(again, PublishKeys(at=2.0, replica_id="a", keys=(K2,)))     # handlers restored
    assert again.security.token_key("kid-1") is None
    old = msgspec.msgpack.encode([{}, {"jti": 9.0}])      # a snapshot from before this change
    snap = msgspec.msgpack.decode(old, type=SecuritySnapshot)
    assert snap.keys == {} and snap.accounts == {} and snap.revoked == {"jti": 9.0}


def test_the_commands_round_trip_through_the_wire_form():
    for command in (PublishKeys(at=1.0, replica_id="a", keys=(K1, K2)),
                    PutAccount(at=1.0, user_id="ana", account=ANA),
                    PutAccount(at=1.0, user_id="ana")):
        assert cmds.decode(cmds.encode(command)) == command
