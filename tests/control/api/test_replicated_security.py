"""Security across replicas, one process: two real security frameworks (each its own software
keystore and data directory) share one state machine, as two replicas applying the same log.
Token keys published there (``PublishKeys``) make one replica's tokens verify at the other;
accounts put there (``PutAccount``, TOTP sealed under the cluster secret) log in at both."""

import base64
import types

import pytest
from uqo.control.api.accounts import AccountMirror, put_account
from uqo.control.api.keys import changes, own_keys
from uqo.control.api.sessions import StateSessions
from uqo.control.state.commands import PublishKeys, RevokeSessions
from uqo.control.state.machine import StateMachine
from uqo.security.clusterkey import ClusterKey, write_cluster_secret
from uqo.security.errors import InvalidCredentials, SecurityError, TokenInvalid, TokenRevoked
from uqo.security.framework import SecurityFramework
from uqo.security.levels import Role, SecurityLevel
from uqo.security.signing import ED25519
from uqo.security.softkeys import SoftwareSigner
from uqo.security.totp import code_at
from uqo.security.users import User

NOW = 1_700_000_000.0
ANA = User("ana", Role.ANALYST, SecurityLevel.SECRET, frozenset({"INTEL"}))


class _Replicas:
    def __init__(self, tmp_path):
        self.sm = StateMachine()
        self.orch = types.SimpleNamespace(sm=self.sm)
        self.fw = {}
        for name in ("a", "b"):
            signer = SoftwareSigner.open(tmp_path / name / "keystore.json", b"test-passphrase", ED25519)
            fw = SecurityFramework.for_tests(tmp_path / name / "data", signer,
                                             clock=lambda: NOW)
            fw.use_sessions(StateSessions(self.orch, fw.local_sessions))
            self.fw[name] = fw

    def apply(self, command):
        self.sm.apply(self.sm.applied_index + 1, 1, command)

    def publish(self, name, keys=None):
        keys = own_keys(self.fw[name]) if keys is None else keys
        self.apply(PublishKeys(at=NOW, replica_id=name, keys=keys))

    def close(self):
        for fw in self.fw.values():
            fw.close()


@pytest.fixture
def replicas(tmp_path):
    r = _Replicas(tmp_path)
    yield r
    r.close()


def _token(fw):
    return fw.tokens.issue(ANA, SecurityLevel.SECRET, "password+totp", "127.0.0.1").token


def test_a_token_verifies_elsewhere_only_while_its_key_is_published(replicas):
    a, b = replicas.fw["a"], replicas.fw["b"]
    token = _token(a)
    with pytest.raises(TokenInvalid, match="unknown key"):
        b.verify_token(token)
    replicas.publish("a")
    assert b.verify_token(token).user_id == "ana"          # now cached as verified
    replicas.publish("a", keys=())                          # withdrawn: the cache does not keep it
    with pytest.raises(TokenInvalid, match="unknown key"):
        b.verify_token(token)
    replicas.publish("a")
    replicas.apply(RevokeSessions(at=NOW, user_id="ana"))   # the shared epoch moves: refused
    for fw in (a, b):
        with pytest.raises(TokenRevoked):
            fw.verify_token(token)
    assert b.verify_token(_token(a)).user_id == "ana"


def test_local_epochs_count_only_where_they_are(replicas):
    a, b = replicas.fw["a"], replicas.fw["b"]
    replicas.publish("a")
    replicas.publish("b")
    a.local_sessions.bump("ana")              # an offline change at a, not logged yet
    from_a = _token(a)                        # carries a's local part apart (lep)
    assert a.verify_token(from_a) and b.verify_token(from_a)
    b.local_sessions.bump("ana")              # b has its own pending change for ana:
    with pytest.raises(TokenRevoked):         # only its own tokens count there
        b.verify_token(_token(a))
    assert b.verify_token(_token(b)).user_id == "ana"


def test_published_keys_are_checked_against_their_ids(replicas):
    a = replicas.fw["a"]
    [key] = own_keys(a)
    good = {"replica_id": "b", "token_keys": [{"key_id": key.key_id, "algorithm": ED25519,
                                               "public_key_pem": key.public_key_pem}]}
    assert changes("a", (key,), {"b": good}, {"a": (key,)}) == [("b", (key,))]
    assert changes("a", (key,), {"b": good}, {"a": (key,), "b": (key,)}) == []
    lying = {"replica_id": "b", "token_keys": [{**good["token_keys"][0], "key_id": "other"}]}
    garbage = {"replica_id": "c", "token_keys": [{"key_id": "x", "public_key_pem": "no"}]}
    assert changes("a", (key,), {"b": lying, "c": garbage}, {"a": (key,)}) == []
    assert changes("a", (key,), {}, {}) == [("a", (key,))]


def test_the_cluster_key_seals_totp_secrets_per_user(tmp_path):
    path = write_cluster_secret(tmp_path / "cluster-secret.key")
    key, other = ClusterKey.load(path), ClusterKey(b"\x01" * 32)
    blob = key.seal(b"totp-secret-bytes", "ana")
    assert b"totp-secret-bytes" not in blob and key.open(blob, "ana") == b"totp-secret-bytes"
    with pytest.raises(SecurityError, match="does not open"):
        key.open(blob, "bob")                                   # bound to the account
    with pytest.raises(SecurityError, match="does not open"):
        other.open(blob, "ana")
    with pytest.raises(FileExistsError):
        write_cluster_secret(path)
    (tmp_path / "bad.key").write_text("not base64!")
    with pytest.raises(SecurityError, match="bad.key"):
        ClusterKey.load(tmp_path / "bad.key")


async def test_an_account_put_through_the_state_logs_in_at_every_replica(replicas, tmp_path):
    a, b = replicas.fw["a"], replicas.fw["b"]
    key = ClusterKey.load(write_cluster_secret(tmp_path / "cluster-secret.key"))
    mirror = AccountMirror(b, key)
    enrolment = a.add_user("bob", role="analyst", clearance="SECRET",
                           password="correct horse battery staple", bump=False)
    command = put_account(a, "bob", key)
    secret = base64.b32decode(enrolment.totp_secret)
    assert secret not in command.account.totp_sealed
    replicas.apply(command)
    assert mirror.sync(replicas.sm.security.accounts) == 1
    assert mirror.sync(replicas.sm.security.accounts) == 0        # each record once
    creds = {"password": "correct horse battery staple", "mfa_token": code_at(secret, NOW)}
    assert (await b.login("bob", creds, "127.0.0.1")).user_id == "bob"
    a.set_disabled("bob", True, bump=False)
    replicas.apply(put_account(a, "bob", key))
    mirror.sync(replicas.sm.security.accounts)
    assert b.users.get("bob").disabled and b.users.get("bob").last_totp_step >= 0
    with pytest.raises(InvalidCredentials):
        await b.login("bob", creds, "127.0.0.1")
    a.remove_user("bob", bump=False)
    replicas.apply(put_account(a, "bob", key))
    mirror.sync(replicas.sm.security.accounts)
    assert b.users.get("bob") is None
