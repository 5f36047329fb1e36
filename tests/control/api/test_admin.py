"""Administration over HTTP on the real app: accounts, session revocation (immediate, through
the replicated state), logout, keys and compliance evidence."""

import base64

import pytest
from aiohttp.test_utils import TestClient, TestServer
from uqo.control.api.app import build_app
from uqo.control.config import load_config
from uqo.control.leader.service import Orchestrator
from uqo.security import AuthPolicy, SecurityFramework
from uqo.security.totp import code_at

from ..conftest import FAST

PW = "correct horse battery staple"


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
async def admin(tmp_path):
    clock = Clock()
    cfg = load_config(overrides={**FAST, "fsync": False, "data_dir": str(tmp_path / "data")})
    fw = SecurityFramework.for_tests(str(tmp_path / "security"), clock=clock,
                                     auth=AuthPolicy(failure_floor_s=0.0, max_failures=3))
    orch = Orchestrator(cfg)
    boss = fw.add_user("boss", role="admin", clearance="SECRET", password=PW)
    async with TestClient(TestServer(build_app(orch, fw), host="127.0.0.1")) as client:
        session = Session(client, clock)
        session.headers = await session.login("boss", PW, boss.totp_secret)
        yield session, fw, orch
    fw.close()


class Session:
    def __init__(self, client, clock):
        self.client, self.clock, self.headers = client, clock, {}

    async def login(self, user_id, password, secret=None, status=200):
        body = {"user_id": user_id, "password": password}
        if secret:
            self.clock.now += 30                       # a fresh TOTP step for each login
            body["mfa_token"] = code_at(base64.b32decode(secret), self.clock.now)
        resp = await self.client.post("/v1/auth/login", json=body)
        assert resp.status == status, await resp.text()
        if status == 200:
            return {"Authorization": f"Bearer {(await resp.json())['token']}"}
        return (await resp.json())["error"]

    async def call(self, method, path, status=200, headers=None, **kw):
        resp = await self.client.request(method, path, headers=headers or self.headers, **kw)
        body = await resp.json()
        assert resp.status == status, body
        return body


async def _new_user(s, user_id="ana", **extra):
    body = {"user_id": user_id, "role": "analyst", "clearance": 2, "password": PW, **extra}
    made = await s.call("POST", "/v1/users", 201, json=body)
    assert "password_hash" not in made and made["provisioning_uri"].startswith("otpauth://")
    return made, await s.login(user_id, PW, made["totp_secret"])


async def test_enrol_list_and_describe_without_secrets(admin):
    s, _, _ = admin
    made, token = await _new_user(s, compartments=["intel"])
    assert (made["clearance"], made["compartments"], made["mfa"]) == (2, ["INTEL"], True)
    users = await s.call("GET", "/v1/users")
    assert {u["user_id"] for u in users["items"]} == {"boss", "ana"}
    assert all("totp_secret" not in u for u in users["items"])
    await s.call("POST", "/v1/users", 409, json={"user_id": "ana", "role": "analyst",
                                                 "clearance": 0, "password": PW})
    err = await s.call("POST", "/v1/users", 400, json={"user_id": "bob", "role": "analyst",
                                                       "clearance": 0, "password": "short"})
    assert err["error"]["field"] == "password"
    agent = await s.call("POST", "/v1/users", 201, json={"user_id": "agent-1", "role": "agent",
                                                         "clearance": 1})
    assert agent["password"] and agent["totp_secret"] is None      # generated, shown once
    assert (await s.call("GET", "/v1/status", headers=token))["security"]


@pytest.mark.parametrize("change, path, method", [
    ("disable", "/v1/users/ana/disable", "POST"), ("revoke", "/v1/users/ana/revoke", "POST"),
    ("clearance", "/v1/users/ana/clearance", "PUT"), ("remove", "/v1/users/ana", "DELETE")])
async def test_a_change_refuses_the_users_tokens_at_once(admin, change, path, method):
    s, _, orch = admin
    made, token = await _new_user(s)
    await s.call("GET", "/openapi.json", headers=token)
    body = {"clearance": 1} if change == "clearance" else None
    await s.call(method, path, json=body)
    err = await s.call("GET", "/openapi.json", 401, headers=token)
    assert err["error"]["code"] == "token_revoked"
    assert orch.sm.security.epoch("ana") >= 2                   # in the replicated state
    if change == "disable":
        refused = await s.login("ana", PW, made["totp_secret"], status=401)
        assert refused["code"] == "invalid_credentials"
        await s.call("POST", "/v1/users/ana/enable")
        await s.call("GET", "/openapi.json", 401, headers=token)  # old tokens stay refused
    if change != "remove":
        again = await s.login("ana", PW, made["totp_secret"])
        level = 1 if change == "clearance" else 2
        assert (await s.call("GET", "/v1/users/ana"))["clearance"] == level
        await s.call("GET", "/openapi.json", headers=again)


async def test_a_removed_name_enrolled_again_does_not_inherit_old_tokens(admin):
    s, _, _ = admin
    _, token = await _new_user(s)
    await s.call("DELETE", "/v1/users/ana")
    await s.call("GET", "/v1/users/ana", 404)
    await _new_user(s)
    await s.call("GET", "/openapi.json", 401, headers=token)


async def test_admins_cannot_lock_themselves_out_nor_grant_above_their_clearance(admin):
    s, fw, _ = admin
    for method, path in (("POST", "/v1/users/boss/disable"), ("DELETE", "/v1/users/boss"),
                         ("POST", "/v1/users/boss/revoke")):
        assert (await s.call(method, path, 409))["error"]["code"] == "self_change"
    await _new_user(s)
    err = await s.call("PUT", "/v1/users/ana/clearance", 403, json={"clearance": 3})
    assert (err["error"]["code"], err["error"]["reason"]) == ("forbidden", "grant")
    await s.call("POST", "/v1/users", 403, json={"user_id": "x1", "role": "analyst",
                                                 "clearance": 3, "password": PW})
    denied = [r for r in fw.audit.records_since(0) if r["outcome"] == "denied"]
    assert [r["detail"]["rule"] for r in denied] == ["grant", "grant"]


async def test_logout_and_token_revocation(admin):
    s, fw, _ = admin
    made, token = await _new_user(s)
    out = await s.call("POST", "/v1/auth/logout", headers=token)
    assert out["user_id"] == "ana"
    assert (await s.call("GET", "/openapi.json", 401, headers=token))["error"]["code"] == \
        "token_revoked"
    other = await s.login("ana", PW, made["totp_secret"])
    token_id = fw.verify_token(other["Authorization"][7:]).token_id
    await s.call("POST", "/v1/auth/revoke", json={"token_id": token_id})
    await s.call("GET", "/openapi.json", 401, headers=other)
    kinds = [r["kind"] for r in fw.audit.records_since(0)]
    assert "auth.logout" in kinds and "auth.revoke" in kinds


async def test_unlock_clears_a_lockout(admin):
    s, _, _ = admin
    made, _ = await _new_user(s)
    for _ in range(3):
        await s.login("ana", "wrong password!!", made["totp_secret"], status=401)
    assert (await s.login("ana", PW, made["totp_secret"], status=401))["code"] == \
        "account_locked"
    assert (await s.call("GET", "/v1/users/ana"))["locked_from"] == ["127.0.0.0/24"]
    assert (await s.call("POST", "/v1/users/ana/unlock"))["locks_cleared"] == 1
    await s.login("ana", PW, made["totp_secret"])


async def test_keys_rotation_and_compliance(admin):
    s, _, _ = admin
    keys = await s.call("GET", "/v1/keys")
    assert keys["countersigner"]["algorithm"] == "ml-dsa-65" and len(keys["keys"]) == 1
    rotated = await s.call("POST", "/v1/keys/rotate")
    assert rotated["key_id"] != keys["keys"][0]["key_id"]
    await s.call("GET", "/openapi.json")                        # the old token still verifies
    report = await s.call("GET", "/v1/compliance")
    assert {c["id"] for c in report["controls"]} >= {"AC-3", "AU-9", "SC-12"}
    assert next(c for c in report["controls"] if c["id"] == "AU-9")["status"] == "pass"
