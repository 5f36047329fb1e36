"""The middleware on a tiny real aiohttp app on 127.0.0.1 (plain HTTP and mutual TLS)."""

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from uqo.security.http import CREDENTIAL, auth_middleware
from uqo.security.tls import client_context, server_context


def _app(fw, authorize=None):
    async def whoami(request):
        cred = request[CREDENTIAL]
        return web.json_response({"user": cred.user_id, "method": cred.method})

    async def live(request):
        return web.json_response({"live": True})

    app = web.Application(middlewares=[auth_middleware(fw, authorize=authorize)])
    app.router.add_get("/health/live", live)
    app.router.add_get("/whoami", whoami)
    app.router.add_post("/v1/tasks", whoami)
    return app


async def _serve(app, ssl=None):
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=ssl)
    return server


async def _token(fw, user="agent-7"):
    e = fw.add_user(user, role="agent", clearance="SECRET")
    return (await fw.login(user, {"password": e.password}, "127.0.0.1")).token


async def _get(server, path, token=None, method="GET", ssl=None):
    headers = {"Authorization": token} if token else {}
    async with aiohttp.ClientSession() as s, \
            s.request(method, server.make_url(path), headers=headers, ssl=ssl) as r:
        return r.status, await r.json(), r.headers


async def test_public_paths_and_401s(fw):
    server = await _serve(_app(fw))
    try:
        assert (await _get(server, "/health/live"))[:2] == (200, {"live": True})
        status, body, headers = await _get(server, "/whoami")
        assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="uqo"'
        assert body["error"]["code"] == "unauthenticated"
        assert "bearer token or an agent client certificate" in body["error"]["message"]
        status, body, _ = await _get(server, "/whoami", "Basic dXNlcjpwdw==")
        assert (status, body["error"]["field"]) == (401, "Authorization")
        status, body, _ = await _get(server, "/whoami", "Bearer uqo1.forged.token")
        assert (status, body["error"]["code"]) == (401, "token_invalid")
    finally:
        await server.close()


async def test_a_valid_token_reaches_the_handler_until_it_expires(fw, clock):
    token = await _token(fw)
    server = await _serve(_app(fw))
    try:
        status, body, _ = await _get(server, "/whoami", f"Bearer {token}")
        assert (status, body) == (200, {"user": "agent-7", "method": "password"})
        clock.advance(fw.settings.auth.token_ttl_s + 1)
        status, body, _ = await _get(server, "/whoami", f"Bearer {token}")
        assert (status, body["error"]["code"]) == (401, "token_expired")
    finally:
        await server.close()


async def test_authorize_hook_answers_403(fw):
    token = await _token(fw)

    def rules(request, cred):
        if request.method == "POST":
            return "tasks", "submit", {}
        return None

    server = await _serve(_app(fw, rules))
    try:
        assert (await _get(server, "/whoami", f"Bearer {token}"))[0] == 200
        status, body, _ = await _get(server, "/v1/tasks", f"Bearer {token}", "POST")
        assert status == 403 and body["error"]["code"] == "forbidden"
        assert "role agent may not submit" in body["error"]["message"]
    finally:
        await server.close()


@pytest.fixture
async def mtls_server(fw, pki):
    ctx = server_context(pki / "server.pem", pki / "server.key", pki / "ca.pem",
                         require_client_cert=False)
    server = await _serve(_app(fw), ssl=ctx)
    yield server
    await server.close()


def _client(pki, name=None):
    if name is None:
        return client_context(pki / "ca.pem")
    return client_context(pki / "ca.pem", pki / f"{name}.pem", pki / f"{name}.key")


async def test_agent_client_certificates_authenticate_enrolled_agents(fw, pki, mtls_server):
    fw.add_user("agent-1", role="agent", clearance="SECRET")
    status, body, _ = await _get(mtls_server, "/whoami", ssl=_client(pki, "agent-1"))
    assert (status, body) == (200, {"user": "agent-1", "method": "client-certificate"})
    status, body, _ = await _get(mtls_server, "/whoami", ssl=_client(pki, "agent-2"))
    assert status == 401 and "not an enrolled agent" in body["error"]["message"]
    status, _, _ = await _get(mtls_server, "/whoami", ssl=_client(pki))
    assert status == 401  # TLS without a certificate and no token


async def test_agents_act_only_as_themselves_over_mtls(fw, pki, mtls_server):
    fw.add_user("agent-1", role="agent", clearance="SECRET")
    other = await _token(fw, "agent-7")
    status, body, _ = await _get(mtls_server, "/whoami", f"Bearer {other}",
                                 ssl=_client(pki, "agent-1"))
    assert status == 403 and "does not match the token of 'agent-7'" in body["error"]["message"]



async def test_a_replica_certificate_carries_a_forwarded_callers_token(fw, pki, mtls_server):
    """A follower forwards writes to the leader over mutual TLS: its certificate is the
    transport, the caller is the token it forwards; alone, it authenticates nobody."""
    token = await _token(fw, "agent-7")
    status, body, _ = await _get(mtls_server, "/whoami", f"Bearer {token}",
                                 ssl=_client(pki, "replica-1"))
    assert (status, body["user"]) == (200, "agent-7")
    status, body, _ = await _get(mtls_server, "/whoami", ssl=_client(pki, "replica-1"))
    assert status == 401 and "forwards a caller's bearer token" in body["error"]["message"]
