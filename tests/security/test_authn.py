"""The login procedure through the framework's public calls (real files, real Argon2id)."""

import asyncio
import base64

import pytest
from uqo.security.errors import (
    AccountLocked,
    InsufficientClearance,
    InvalidArgument,
    InvalidCredentials,
    MfaInvalid,
    MfaReplayed,
    RateLimited,
    SourceNotAllowed,
)
from uqo.security.framework import SecurityFramework
from uqo.security.levels import SecurityLevel
from uqo.security.settings import AuthPolicy
from uqo.security.totp import code_at

from .conftest import PASSWORD


def _enrol(fw, user="analyst-001", **kw):
    e = fw.add_user(user, role=kw.pop("role", "analyst"), clearance=kw.pop("clearance", "SECRET"),
                    compartments=["INTEL"], password=PASSWORD, **kw)
    return base64.b32decode(e.totp_secret) if e.totp_secret else None


def _creds(secret, clock, dt=0, password=PASSWORD):
    return {"password": password, "mfa_token": code_at(secret, clock.now + dt)}


def _framework(tmp_path, soft_signer, clock, **auth):
    return SecurityFramework.for_tests(tmp_path / "d", soft_signer, clock=clock,
                                       auth=AuthPolicy(**auth))


async def test_password_and_totp_give_a_session(fw, clock):
    secret = _enrol(fw)
    cred = await fw.login("analyst-001", _creds(secret, clock), "10.0.1.100")
    assert (cred.user_id, cred.level, cred.method) == ("analyst-001", SecurityLevel.SECRET,
                                                      "password+totp")


async def test_a_replayed_code_is_refused(fw, clock):
    secret = _enrol(fw)
    creds = _creds(secret, clock)
    await fw.login("analyst-001", creds, "10.0.1.100")
    with pytest.raises(MfaReplayed):
        await fw.login("analyst-001", creds, "10.0.1.100")
    with pytest.raises(MfaReplayed):  # the previous step's code is older still
        await fw.login("analyst-001", _creds(secret, clock, -30), "10.0.1.100")
    clock.advance(30)
    await fw.login("analyst-001", _creds(secret, clock), "10.0.1.100")


async def test_concurrent_logins_with_one_code_succeed_once(fw, clock):
    secret = _enrol(fw)
    creds = _creds(secret, clock)
    results = await asyncio.gather(*(fw.login("analyst-001", creds, "10.0.1.100")
                                     for _ in range(5)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, (MfaReplayed, AccountLocked)) for r in results
               if isinstance(r, Exception))


@pytest.mark.parametrize("code, error", [("000000", MfaInvalid), ("12ab56", MfaInvalid),
                                         (None, MfaInvalid)])
async def test_wrong_or_missing_codes(fw, clock, code, error):
    _enrol(fw)
    with pytest.raises(error):
        await fw.login("analyst-001", {"password": PASSWORD, "mfa_token": code}, "10.0.1.1")


async def test_wrong_password_and_unknown_user_look_the_same(fw, clock):
    secret = _enrol(fw)
    with pytest.raises(InvalidCredentials, match="invalid user or password") as a:
        await fw.login("analyst-001", _creds(secret, clock, password="wrong password!"), "::1")
    with pytest.raises(InvalidCredentials, match="invalid user or password") as b:
        await fw.login("nobody", _creds(secret, clock), "::1")
    assert str(a.value) == str(b.value)
    with pytest.raises(InvalidCredentials, match="credentials must be a dict"):
        await fw.login("analyst-001", {"pw": PASSWORD}, "::1")


async def test_brute_force_locks_within_the_configured_attempts(tmp_path, soft_signer, clock):
    fw = _framework(tmp_path, soft_signer, clock, max_failures=3, lockout_s=600)
    secret = _enrol(fw)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await fw.login("analyst-001", _creds(secret, clock, password="guess-guess-1"), "::1")
    with pytest.raises(AccountLocked):  # even the right password now
        await fw.login("analyst-001", _creds(secret, clock), "::1")
    clock.advance(601)
    await fw.login("analyst-001", _creds(secret, clock), "::1")
    fw.close()


async def test_concurrent_guesses_cannot_exceed_the_limit(tmp_path, soft_signer, clock):
    fw = _framework(tmp_path, soft_signer, clock, max_failures=3)
    secret = _enrol(fw)
    bad = _creds(secret, clock, password="guess-guess-2")
    results = await asyncio.gather(*(fw.login("analyst-001", bad, "::1") for _ in range(10)),
                                   return_exceptions=True)
    assert sum(isinstance(r, InvalidCredentials) for r in results) == 3
    assert sum(isinstance(r, AccountLocked) for r in results) == 7
    fw.close()


async def test_lockout_survives_a_restart(tmp_path, soft_signer, clock):
    fw = _framework(tmp_path, soft_signer, clock, max_failures=2)
    secret = _enrol(fw)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await fw.login("analyst-001", _creds(secret, clock, password="guess-guess-3"), "::1")
    fw.close()
    fw = _framework(tmp_path, soft_signer, clock, max_failures=2)
    with pytest.raises(AccountLocked):
        await fw.login("analyst-001", _creds(secret, clock), "::1")
    fw.unlock_user("analyst-001", actor="admin")
    await fw.login("analyst-001", _creds(secret, clock), "::1")
    fw.close()


async def test_sources_are_rate_limited(tmp_path, soft_signer, clock):
    fw = _framework(tmp_path, soft_signer, clock, source_burst=2, source_refill_per_s=0.1)
    secret = _enrol(fw)
    _enrol(fw, "analyst-002")
    for user in ("analyst-001", "analyst-002"):
        with pytest.raises(InvalidCredentials):
            await fw.login(user, _creds(secret, clock, password="guess-guess-4"), "10.9.9.9")
    with pytest.raises(RateLimited):  # a third attempt from that source, whichever account
        await fw.login("analyst-001", _creds(secret, clock), "10.9.9.9")
    await fw.login("analyst-001", _creds(secret, clock), "10.9.9.8")
    clock.advance(30)
    with pytest.raises(MfaReplayed):  # the bucket refilled; the code was used above
        await fw.login("analyst-001", _creds(secret, clock, -30), "10.9.9.9")
    fw.close()


async def test_allow_lists(tmp_path, soft_signer, clock):
    fw = _framework(tmp_path, soft_signer, clock, allowed_sources=["10.0.0.0/8"])
    secret = _enrol(fw, allowed_sources=["10.0.1.0/24"])
    with pytest.raises(SourceNotAllowed, match="site allow-list"):
        await fw.login("analyst-001", _creds(secret, clock), "192.168.1.1")
    with pytest.raises(SourceNotAllowed, match="account allow-list"):
        await fw.login("analyst-001", _creds(secret, clock), "10.0.2.1")
    with pytest.raises(InvalidArgument, match="^source_ip:"):
        await fw.login("analyst-001", _creds(secret, clock), "not-an-ip")
    await fw.login("analyst-001", _creds(secret, clock), "10.0.1.100")
    assert fw.users.get("analyst-001").failures == 0  # refused sources do not lock the account
    fw.close()


async def test_session_level_from_clearance_required(fw, clock):
    secret = _enrol(fw)
    cred = await fw.login("analyst-001", _creds(secret, clock), "::1",
                          {"clearance_required": "CONFIDENTIAL"})
    assert cred.level == SecurityLevel.CONFIDENTIAL and cred.clearance == SecurityLevel.SECRET
    clock.advance(30)
    with pytest.raises(InsufficientClearance, match="TOP_SECRET"):
        await fw.login("analyst-001", _creds(secret, clock), "::1",
                       {"clearance_required": "TOP_SECRET"})
    with pytest.raises(InvalidArgument, match="^context:"):
        await fw.login("analyst-001", _creds(secret, clock), "::1", ["SECRET"])


async def test_disabled_accounts_cannot_log_in(fw, clock):
    secret = _enrol(fw)
    fw.set_disabled("analyst-001", True, actor="admin")
    with pytest.raises(InvalidCredentials):
        await fw.login("analyst-001", _creds(secret, clock), "::1")
    fw.set_disabled("analyst-001", False, actor="admin")
    await fw.login("analyst-001", _creds(secret, clock), "::1")


async def test_agents_log_in_with_a_password_alone(fw):
    enrolment = fw.add_user("agent-9", role="agent", clearance="SECRET")
    cred = await fw.login("agent-9", {"password": enrolment.password}, "127.0.0.1")
    assert cred.method == "password" and cred.role.value == "agent"
