"""TLS 1.3-only contexts for mutual TLS, and the peer identity a client certificate carries.

Use cases::

    ctx = server_context("pki/server.pem", "pki/server.key", ca="pki/ca.pem")   # mTLS required
    web.run_app(app, ssl_context=ctx)
    client = client_context("pki/ca.pem", cert="pki/agent-1.pem", key="pki/agent-1.key")
    identity = peer_identity(request)      # PeerIdentity("agent", "agent-1") or None

Identities are SAN URIs ``uqo://<kind>/<name>`` (kind: server, replica, agent) issued by
``uqo certs init``; the certificate chain has already been verified by the handshake, against
the CA given here only. ``ssl.create_default_context(CLIENT_AUTH)`` leaves ``verify_mode`` at
CERT_NONE: it is set to CERT_REQUIRED explicitly. A refused handshake closes the connection
without an HTTP answer (nothing reaches aiohttp).
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass

from cryptography import x509

from .errors import InvalidArgument

KINDS = ("server", "replica", "agent")
_URI = re.compile(r"^uqo://(server|replica|agent)/([A-Za-z0-9][A-Za-z0-9._@-]{0,127})$")


@dataclass(frozen=True)
class PeerIdentity:
    kind: str
    name: str


def _tls13(ctx: ssl.SSLContext) -> ssl.SSLContext:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    return ctx


def _load_chain(ctx: ssl.SSLContext, cert, key) -> None:
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgument("cert", f"cannot load {cert} / {key}: {exc}") from None


def _load_ca(ctx: ssl.SSLContext, ca) -> None:
    try:
        ctx.load_verify_locations(cafile=str(ca))
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgument("ca", f"cannot load CA {ca}: {exc}") from None


def server_context(cert, key, ca=None, require_client_cert: bool = True) -> ssl.SSLContext:
    """TLS 1.3 server context. With ``ca``: client certificates are verified against it —
    required by default (mutual TLS), or optional (bearer tokens for people, certificates
    for agents) with ``require_client_cert=False``."""
    ctx = _tls13(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    _load_chain(ctx, cert, key)
    if ca is not None:
        _load_ca(ctx, ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    elif require_client_cert:
        raise InvalidArgument("ca", "mutual TLS needs the CA that issues client certificates")
    return ctx


def client_context(ca, cert=None, key=None) -> ssl.SSLContext:
    """TLS 1.3 client context trusting ``ca`` only, presenting ``cert`` if given."""
    ctx = _tls13(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    ctx.verify_mode, ctx.check_hostname = ssl.CERT_REQUIRED, True
    _load_ca(ctx, ca)
    if cert is not None:
        _load_chain(ctx, cert, key)
    return ctx


def identity_of(der: bytes) -> PeerIdentity | None:
    """The ``uqo://kind/name`` identity in a DER certificate's SAN, or None."""
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    found = [m for m in map(_URI.match, san.get_values_for_type(x509.UniformResourceIdentifier))
             if m]
    return PeerIdentity(found[0].group(1), found[0].group(2)) if len(found) == 1 else None


def peer_identity(request) -> PeerIdentity | None:
    """The verified client-certificate identity of an aiohttp request (None without one)."""
    ssl_object = request.get_extra_info("ssl_object") if request.transport else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return identity_of(der) if der else None
