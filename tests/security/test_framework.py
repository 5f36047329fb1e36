"""The seed's calls as written, and that every decision lands in the audit log."""

import base64

import pytest
from uqo.security import SecurityLevel
from uqo.security.errors import (
    AccessDenied,
    AuthenticationError,
    InvalidArgument,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
)
from uqo.security.framework import SecurityFramework
from uqo.security.settings import AuthPolicy
from uqo.security.totp import code_at

from uqo import SecurityFramework as FromTopLevel

from .conftest import PASSWORD


def _enrol(fw, user="analyst-001", clearance="TOP_SECRET"):
    e = fw.add_user(user, role="analyst", clearance=clearance, compartments=["INTEL"],
                    password=PASSWORD, actor="admin")
    return base64.b32decode(e.totp_secret)


def _records(fw, kind):
    return [r for r in fw.audit.records_since(0) if r["kind"] == kind]


async def _seed_login(fw, clock, secret, **context):
    return await fw.authenticate_user(
        user_id="analyst-001",
        credentials={"password": PASSWORD, "mfa_token": code_at(secret, clock.now)},
        source_ip="10.0.1.100", context=context or {"clearance_required": "SECRET"})


async def test_the_seed_calls_work_as_written(fw, clock):
    assert FromTopLevel is SecurityFramework
    secret = _enrol(fw)
    authenticated, credential = await _seed_login(fw, clock, secret)
    assert authenticated and credential.level == SecurityLevel.SECRET
    authorized, reason = await fw.authorize_access(
        credential=credential, resource="classified-intelligence", action="analyze",
        context={"classification": SecurityLevel.SECRET, "compartment": "INTEL"})
    assert authorized and reason.startswith("granted")
    authorized, reason = await fw.authorize_access(
        credential=credential, resource="classified-intelligence", action="analyze",
        context={"classification": SecurityLevel.TOP_SECRET, "compartment": "INTEL"})
    assert not authorized and "no read up" in reason


async def test_every_login_and_decision_is_audited(fw, clock):
    secret = _enrol(fw)
    _ok, cred = await _seed_login(fw, clock, secret)
    bad, none = await fw.authenticate_user("analyst-001", {"password": "nope-nope-nope"},
                                           "10.0.1.100")
    assert (bad, none) == (False, None)
    await fw.authorize_access(cred, "tasks", "submit", {"classification": 0})
    logins = _records(fw, "auth.login")
    assert [r["outcome"] for r in logins] == ["success", "failure"]
    assert logins[0]["detail"]["token_id"] == cred.token_id
    assert logins[0]["detail"]["key_id"] == fw.signer.key_id
    assert logins[1]["detail"]["code"] == "invalid_credentials"
    [decision] = _records(fw, "authz.decision")
    assert decision["outcome"] == "denied" and decision["detail"]["rule"] == "mls-write"
    assert decision["actor"] == "analyst-001"
    assert _records(fw, "config.user_add")[0]["actor"] == "admin"
    assert fw.audit.verify().ok


async def test_security_events_count_refusals_and_survive_restart(tmp_path, soft_signer, clock):
    fw = SecurityFramework.for_tests(tmp_path, soft_signer, clock=clock)
    _enrol(fw)
    assert fw.security_events_24h() == 0
    for _ in range(2):
        await fw.authenticate_user("analyst-001", {"password": "wrong-wrong-wrong"}, "::1")
    with pytest.raises(TokenInvalid):
        fw.verify_token("uqo1.bad.token")
    fw.close()  # waits for the queued token-refusal record
    fw = SecurityFramework.for_tests(tmp_path, soft_signer, clock=clock)
    assert fw.security_events_24h() == 3
    clock.advance(86401)
    assert fw.security_events_24h() == 0
    fw.close()


async def test_tokens_expire_and_revocation_is_audited(fw, clock):
    secret = _enrol(fw)
    _, cred = await _seed_login(fw, clock, secret)
    assert fw.verify_token(cred.token) == cred
    await fw.revoke(cred, actor="admin")
    with pytest.raises(TokenRevoked):
        fw.verify_token(cred.token)
    ok, reason = await fw.authorize_access(cred, "r", "read", {})
    assert not ok and reason.startswith("denied (credential): token was revoked")
    clock.advance(30)
    _, cred2 = await _seed_login(fw, clock, secret)
    clock.advance(fw.settings.auth.token_ttl_s)
    with pytest.raises(TokenExpired):
        fw.verify_token(cred2.token)
    assert _records(fw, "auth.revoke")[0]["detail"]["token_id"] == cred.token_id


async def test_require_access_raises(fw, clock):
    secret = _enrol(fw)
    _, cred = await _seed_login(fw, clock, secret)
    assert (await fw.require_access(cred.token, "r", "read", {})).user_id == "analyst-001"
    with pytest.raises(AccessDenied, match="role analyst may not manage_users"):
        await fw.require_access(cred, "users", "manage_users", {})
    with pytest.raises(InvalidArgument, match="^context.classification"):
        await fw.authorize_access(cred, "r", "read", {"classification": "COSMIC"})


async def test_key_rotation_keeps_old_sessions_and_the_log_valid(fw, clock):
    secret = _enrol(fw)
    _, before = await _seed_login(fw, clock, secret)
    old = fw.signer.key_id
    info = fw.rotate_key(actor="admin")
    assert info.key_id != old and fw.verify_token(before.token) == before
    clock.advance(30)
    _, after = await _seed_login(fw, clock, secret)
    assert fw.verify_token(after.token).token_id == after.token_id
    assert _records(fw, "key.rotate")[0]["detail"]["old_key_id"] == old
    assert {cp.key_id for cp in fw.audit.checkpoints()} == {old, info.key_id}
    assert fw.audit.verify().ok


def test_agent_certificates_map_to_enrolled_agents(fw):
    fw.add_user("agent-1", role="agent", clearance="SECRET")
    cred = fw.credential_for_agent_certificate("agent-1")
    assert (cred.user_id, cred.method) == ("agent-1", "client-certificate")
    assert fw.credential_for_agent_certificate("agent-1") is cred  # cached
    _enrol(fw)
    for name in ("analyst-001", "agent-404"):
        with pytest.raises(AuthenticationError, match="not an enrolled agent"):
            fw.credential_for_agent_certificate(name)
    fw.set_disabled("agent-1", True)
    with pytest.raises(AuthenticationError):
        fw.credential_for_agent_certificate("agent-1")


def test_user_management_is_audited(fw):
    _enrol(fw)
    fw.remove_user("analyst-001", actor="admin")
    with pytest.raises(InvalidArgument, match="unknown user"):
        fw.unlock_user("analyst-001")
    kinds = [r["kind"] for r in fw.audit.records_since(0)]
    assert kinds[-2:] == ["config.user_add", "config.user_remove"]


def test_a_settings_change_is_audited(tmp_path, soft_signer, clock):
    SecurityFramework.for_tests(tmp_path, soft_signer, clock=clock).close()
    fw = SecurityFramework.for_tests(tmp_path, soft_signer, clock=clock,
                                     auth=AuthPolicy(max_failures=3))
    settings = _records(fw, "config.settings")
    assert [r["detail"]["first"] for r in settings] == [True, False]
    assert settings[1]["detail"]["settings"]["auth"]["max_failures"] == 3
    fw.close()
    SecurityFramework.for_tests(tmp_path, soft_signer, clock=clock,
                                auth=AuthPolicy(max_failures=3)).close()
    fw = SecurityFramework.for_tests(tmp_path, soft_signer, clock=clock,
                                     auth=AuthPolicy(max_failures=3))
    assert len(_records(fw, "config.settings")) == 2  # unchanged: not recorded again
    fw.close()


async def test_with_the_hsm_signer(tmp_path, hsm_signer, clock):
    fw = SecurityFramework.for_tests(tmp_path, hsm_signer, clock=clock)
    secret = _enrol(fw)
    ok, cred = await _seed_login(fw, clock, secret)
    assert ok and fw.verify_token(cred.token) == cred
    fw.audit.checkpoint()
    report = fw.audit.verify({k.key_id: k for k in hsm_signer.public_keys()})
    assert report.ok and report.verified_checkpoints >= 1
    fw.close()  # the framework does not own (or close) a signer it was given
    assert hsm_signer.sign(b"still open")


def test_default_signer_is_the_software_keystore(tmp_path):
    fw = SecurityFramework.for_tests(tmp_path)
    assert fw.signer.describe()["backend"] == "software keystore"
    assert (tmp_path / "keystore.json").exists() and (tmp_path / "settings.json").exists()
    fw.close()


def test_a_flood_of_bad_tokens_is_counted_and_sampled(tmp_path, soft_signer, clock):
    """3,000 garbage tokens: every one counted (the metric), ten written (the burst), the
    rest summed into the next record written; the 24-hour event count sees the records."""
    fw = SecurityFramework.for_tests(tmp_path, soft_signer, clock=clock)
    for _ in range(3000):
        with pytest.raises(TokenInvalid):
            fw.verify_token("uqo1.bad.token")
    assert fw.trail.failures["token_invalid"] == 3000
    clock.advance(1.0)                        # one more record's worth of sampling budget
    with pytest.raises(TokenInvalid):
        fw.verify_token("uqo1.bad.token")
    fw.close()
    records = [r for r in fw.audit.records_since(0) if r["kind"] == "auth.token"]
    assert len(records) == fw.settings.auth.audit_sample_burst + 1
    assert records[-1]["detail"]["not_recorded_before"] == 3000 - len(records) + 1
    assert fw.security_events_24h() == len(records)


def test_a_full_writer_queue_drops_and_counts(tmp_path, soft_signer, clock):
    fw = SecurityFramework.for_tests(tmp_path, soft_signer, clock=clock)
    fw.trail.max_queued = 0  # every background record now overflows
    for _ in range(3):
        with pytest.raises(TokenInvalid):
            fw.verify_token("uqo1.bad.token")
    fw.trail.max_queued = 10
    with pytest.raises(TokenInvalid):
        fw.verify_token("uqo1.bad.token")
    fw.close()
    [record] = [r for r in fw.audit.records_since(0) if r["kind"] == "auth.token"]
    assert record["detail"]["not_recorded_before"] == 3
