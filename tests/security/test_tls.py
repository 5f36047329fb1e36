"""TLS 1.3 only, mutual TLS, identities from certificates: real sockets on 127.0.0.1."""

import asyncio
import socket
import ssl

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from uqo.security.errors import InvalidArgument
from uqo.security.tls import (
    PeerIdentity,
    client_context,
    identity_of,
    peer_identity,
    server_context,
)


async def _server(pki, require=True):
    async def who(request):
        ident = peer_identity(request)
        return web.json_response({"peer": [ident.kind, ident.name] if ident else None})

    app = web.Application()
    app.router.add_get("/", who)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=server_context(pki / "server.pem", pki / "server.key",
                                                 pki / "ca.pem", require_client_cert=require))
    return server


async def _fetch(server, ctx):
    async with aiohttp.ClientSession() as s, s.get(server.make_url("/"), ssl=ctx) as r:
        return r.status, await r.json()


async def test_mutual_tls_carries_the_peer_identity(pki):
    server = await _server(pki)
    try:
        ctx = client_context(pki / "ca.pem", pki / "agent-1.pem", pki / "agent-1.key")
        assert await _fetch(server, ctx) == (200, {"peer": ["agent", "agent-1"]})
        ctx = client_context(pki / "ca.pem", pki / "replica-1.pem", pki / "replica-1.key")
        assert await _fetch(server, ctx) == (200, {"peer": ["replica", "replica-1"]})
    finally:
        await server.close()


async def test_a_client_without_a_certificate_is_refused(pki):
    server = await _server(pki)
    try:
        with pytest.raises(aiohttp.ClientError):
            await _fetch(server, client_context(pki / "ca.pem"))
    finally:
        await server.close()


def _handshake_tls12(port: int, ca) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(ca))
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost"):
        pass


async def test_a_tls12_only_client_is_refused(pki):
    server = await _server(pki, require=False)
    try:
        with pytest.raises(ssl.SSLError):  # asyncio closes without an alert: EOF here
            await asyncio.to_thread(_handshake_tls12, server.port, pki / "ca.pem")
        tls13 = client_context(pki / "ca.pem")
        assert await _fetch(server, tls13) == (200, {"peer": None})  # optional mode, 1.3 fine
    finally:
        await server.close()


def test_contexts_are_tls13_only_and_verify(pki):
    server = server_context(pki / "server.pem", pki / "server.key", pki / "ca.pem")
    client = client_context(pki / "ca.pem")
    for ctx in (server, client):
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
    assert server.verify_mode == ssl.CERT_REQUIRED
    assert client.verify_mode == ssl.CERT_REQUIRED and client.check_hostname


def test_bad_configuration_is_named(pki, tmp_path):
    with pytest.raises(InvalidArgument, match="^ca: mutual TLS needs"):
        server_context(pki / "server.pem", pki / "server.key")
    with pytest.raises(InvalidArgument, match="^cert:"):
        server_context(tmp_path / "missing.pem", pki / "server.key", pki / "ca.pem")
    with pytest.raises(InvalidArgument, match="^ca:"):
        client_context(tmp_path / "missing-ca.pem")


def test_identity_needs_exactly_one_uqo_uri(pki):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    der = x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes()).public_bytes(
        serialization.Encoding.DER)
    assert identity_of(der) is None  # the CA has no SAN
    agent = x509.load_pem_x509_certificate((pki / "agent-2.pem").read_bytes())
    assert identity_of(agent.public_bytes(serialization.Encoding.DER)) == PeerIdentity(
        "agent", "agent-2")
