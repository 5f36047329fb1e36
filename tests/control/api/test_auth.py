"""Authentication and role checks on the real app with a real ``SecurityFramework``: every
route but the public ones refuses a missing token; roles limit what a caller may do; agents act
only as themselves; a login with a wrong password is refused and audited."""

import asyncio
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer
from uqo.control.api.app import build_app
from uqo.control.api.routes import PUBLIC_PATHS, ROUTES, Route, needs
from uqo.control.leader.service import Orchestrator
from uqo.control.sdk.credentials import totp_now
from uqo.security import SecurityFramework


@pytest.fixture
async def secured(cfg, tmp_path):
    fw = SecurityFramework.for_tests(str(tmp_path / "security"))
    users = {
        "boss": fw.add_user("boss", role="admin", clearance="TOP_SECRET", password="pw-boss-123456"),
        "ana": fw.add_user("ana", role="analyst", clearance="SECRET", password="pw-ana-1234567"),
        "agent-7": fw.add_user("agent-7", role="agent", clearance="SECRET",
                               password="pw-agent-123456"),
    }
    async with TestClient(TestServer(build_app(Orchestrator(cfg), fw), host="127.0.0.1")) as c:
        yield c, users
    fw.close()


async def _token(client, users, user_id, password):
    body = {"user_id": user_id, "password": password}
    if users[user_id].totp_secret:
        body["mfa_token"] = totp_now(users[user_id].totp_secret)
    resp = await client.post("/v1/auth/login", json=body)
    assert resp.status == 200, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def test_every_private_route_needs_a_token(secured):
    client, _ = secured
    for route in ROUTES:
        method, path = route.method, route.path
        url = re.sub(r"\{[a-z_]+\}", "x", path)
        resp = await client.request(method, url, json={})
        if path in PUBLIC_PATHS:
            assert resp.status != 401, (method, path)
        else:
            body = await resp.json()
            assert resp.status == 401 and body["error"]["code"] == "unauthenticated", path


async def test_wrong_password_is_refused(secured):
    client, _ = secured
    resp = await client.post("/v1/auth/login", json={"user_id": "ana", "password": "nope-nope"})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "invalid_credentials"
    bad = await client.get("/v1/status", headers={"Authorization": "Bearer forged.token"})
    assert bad.status == 401


async def test_roles_and_agents_acting_as_themselves(secured):
    client, users = secured
    boss = await _token(client, users, "boss", "pw-boss-123456")
    ana = await _token(client, users, "ana", "pw-ana-1234567")
    agent = await _token(client, users, "agent-7", "pw-agent-123456")
    for agent_id in ("agent-7", "agent-8"):
        resp = await client.post("/v1/agents", json={"agent_id": agent_id}, headers=boss)
        assert resp.status == 201
    refused = await client.post("/v1/agents", json={"agent_id": "a9"}, headers=ana)
    assert refused.status == 403 and (await refused.json())["error"]["code"] == "forbidden"
    submitted = await client.post("/v1/tasks", json={"task_id": "t-ana", "classification": 2},
                                  headers=ana)    # at her session level: no write down
    assert submitted.status == 201
    task = await (await client.get("/v1/tasks/t-ana", headers=ana)).json()
    assert task["submitted_by"] == "ana"
    own = await client.post("/v1/agents/agent-7/heartbeat", headers=agent)
    other = await client.post("/v1/agents/agent-8/heartbeat", headers=agent)
    assert own.status == 200 and other.status == 403
    assert (await client.post("/v1/tasks", json={}, headers=agent)).status == 403
    status = await (await client.get("/v1/status", headers=boss)).json()
    assert status["security"]["authentication"] == "enabled"
    assert status["security"]["security_events_24h"] >= 1      # the forbidden attempts


def test_a_route_cannot_be_declared_without_an_access_rule():
    with pytest.raises(TypeError, match="no access rule"):
        Route("GET", "/v1/new", lambda request: None, "newThing", None)
    with pytest.raises(ValueError, match="resource and an action"):
        needs("tasks", "")


async def test_every_served_route_has_a_declared_rule(secured):
    """The app serves exactly the table's routes, so none escapes its access rule."""
    client, _ = secured
    served = {(r.method, r.resource.canonical) for r in client.app.router.routes()
              if r.method != "HEAD"}
    assert served == {(r.method, r.path) for r in ROUTES}


async def test_security_metrics_and_a_tampered_audit_log(secured, tmp_path):
    """Garbage tokens count in ``uqo_auth_failures_total``, audited refusals in
    ``uqo_security_events_total{kind}``; the audit log is verified at start (1), and after a
    record is edited on disk the next verification turns ``uqo_audit_verify_ok`` to 0."""
    from uqo.control.api.appkeys import SECURITY

    client, _ = secured
    assert (await client.get("/v1/status", headers={"Authorization": "Bearer x.y"})).status == 401
    assert (await client.post("/v1/auth/login", json={"user_id": "ana",
                                                       "password": "wrong-wrong"})).status == 401
    trail = client.app[SECURITY].trail
    for _ in range(200):                       # the start-up verification runs in a thread
        if trail.last_verify is not None:
            break
        await asyncio.sleep(0.02)
    text = await (await client.get("/metrics")).text()
    assert re.search(r'uqo_auth_failures_total\{code="[a-z_]+"\} 1\.0', text), text
    assert re.search(r'uqo_security_events_total\{kind="[a-z_.]+"\} [1-9]', text)
    assert "uqo_audit_verify_ok 1.0" in text
    log = tmp_path / "security" / "audit" / "log.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    edited = next(i for i, line in enumerate(lines) if b'"boss"' in line)
    lines[edited] = lines[edited].replace(b'"boss"', b'"evil"', 1)
    log.write_bytes(b"".join(lines))
    assert not await asyncio.get_running_loop().run_in_executor(None, trail.verify)
    text = await (await client.get("/metrics")).text()
    assert "uqo_audit_verify_ok 0.0" in text
