"""Live checks behind the compliance report: a policy self-test and certificate/TLS evidence.

``policy_self_test()`` runs the real ``decide`` over cases whose Bell-LaPadula answer is known.
``certificate_evidence(dir)`` checks a ``uqo certs init`` directory: chains, validity, SAN
identities, and three in-memory TLS handshakes through our own context builders (mutual TLS 1.3
succeeds; a TLS 1.2-only client and a client without a certificate are refused).
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .levels import Role, SecurityLevel
from .policy import decide
from .tls import client_context, identity_of, server_context
from .tokens import Credential

S, C, TS = SecurityLevel.SECRET, SecurityLevel.CONFIDENTIAL, SecurityLevel.TOP_SECRET

# (role, user, clearance, session level, compartments, action, context, expected allowed)
_CASES = [
    (Role.ANALYST, "a", S, S, {"INTEL"}, "read", {"classification": S, "compartment": "INTEL"},
     True),
    (Role.ANALYST, "a", S, C, set(), "read", {"classification": S}, False),
    (Role.OPERATOR, "o", S, S, set(), "submit", {"classification": C}, False),
    (Role.OPERATOR, "o", S, S, set(), "submit", {"classification": TS}, False),
    (Role.OPERATOR, "o", S, S, set(), "cancel", {"classification": TS}, False),
    (Role.OPERATOR, "o", S, S, set(), "cancel", {"classification": C}, True),
    (Role.ANALYST, "a", S, S, set(), "cancel", {"classification": C, "owner": "b"}, False),
    (Role.OPERATOR, "o", TS, TS, set(), "register", {"classification": TS,
                                                     "compartment": "INTEL"}, False),
    (Role.ANALYST, "a", S, S, set(), "read", {"classification": S, "compartment": "INTEL"},
     False),
    (Role.ANALYST, "a", TS, TS, set(), "manage_users", {}, False),
    (Role.AGENT, "a1", S, S, set(), "heartbeat", {"agent_id": "a2"}, False),
    (Role.AGENT, "a1", S, S, set(), "heartbeat", {"agent_id": "a1"}, True),
    (Role.ADMIN, "root", TS, TS, set(), "manage_users", {"classification": TS}, True),
]


def policy_self_test() -> list[dict]:
    out = []
    for role, user, clr, lvl, comps, action, ctx, expected in _CASES:
        cred = Credential("self-test", "self-test", user, role, clr, lvl, frozenset(comps),
                          0.0, 0.0, "self-test")
        d = decide(cred, "self-test", action, ctx)
        out.append({"role": role.value, "action": action, "expected": expected,
                    "allowed": d.allowed, "reason": d.reason,
                    "as_expected": d.allowed == expected})
    return out


def _handshake(server_ctx, client_ctx, hostname: str) -> str:
    """Run a TLS handshake through memory buffers; the version, or ``ssl.SSLError``."""
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, end in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            client.write(b"x")  # TLS 1.3 reports a refused client certificate after the
            s_in.write(c_out.read())  # client's handshake: make the server read
            server.read(1)
            return client.version()
    raise ssl.SSLError("handshake did not finish")


def _refused(server_ctx, client_ctx, hostname: str) -> bool:
    try:
        _handshake(server_ctx, client_ctx, hostname)
    except ssl.SSLError:
        return True
    return False


def _chains(cert, ca) -> bool:
    now = dt.datetime.now(dt.UTC)
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, x509.InvalidSignature):
        return False
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _load(path: str):
    with open(path, "rb") as fh:
        return x509.load_pem_x509_certificate(fh.read())


def _server(d: str, ca) -> tuple[str, dict]:
    server = _load(os.path.join(d, "server.pem"))
    ctx = server_context(os.path.join(d, "server.pem"), os.path.join(d, "server.key"),
                         os.path.join(d, "ca.pem"))
    agents = sorted(glob.glob(os.path.join(d, "agent-*.pem")))
    ev = {"server_chains_to_ca": _chains(server, ca),
          "server_min_version": ctx.minimum_version.name,
          "client_cert_required": ctx.verify_mode == ssl.CERT_REQUIRED,
          "no_client_cert_refused": _refused(ctx, client_context(os.path.join(d, "ca.pem")),
                                             "localhost")}
    old = client_context(os.path.join(d, "ca.pem"))
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_2
    ev["tls12_client_refused"] = _refused(ctx, old, "localhost")
    if agents:
        mutual = client_context(os.path.join(d, "ca.pem"), agents[0], agents[0][:-4] + ".key")
        ev["mutual_tls_version"] = _handshake(ctx, mutual, "localhost")
    ok = (ev["server_chains_to_ca"] and ev["client_cert_required"] and
          ev["no_client_cert_refused"] and ev["tls12_client_refused"] and
          ev.get("mutual_tls_version") == "TLSv1.3")
    return ("pass" if ok else "fail"), ev


def _agents(d: str, ca) -> tuple[str, dict]:
    found = {}
    for path in sorted(glob.glob(os.path.join(d, "agent-*.pem"))):
        cert = _load(path)
        ident = identity_of(cert.public_bytes(serialization.Encoding.DER))
        found[os.path.basename(path)] = {"chains_to_ca": _chains(cert, ca),
                                         "identity": f"{ident.kind}/{ident.name}" if ident
                                         else None}
    ok = bool(found) and all(v["chains_to_ca"] and v["identity"] for v in found.values())
    return ("pass" if ok else "fail"), {"certificates": found}


def certificate_evidence(certs_dir) -> dict:
    if certs_dir is None:
        why = {"reason": "no certificate directory given (--certs)"}
        return {"server_status": "not_checked", "server": why,
                "agents_status": "not_checked", "agents": why}
    d = os.fspath(certs_dir)
    try:
        ca = _load(os.path.join(d, "ca.pem"))
        server_status, server = _server(d, ca)
        agents_status, agents = _agents(d, ca)
    except (OSError, ValueError, ssl.SSLError) as exc:
        err = {"error": f"{type(exc).__name__}: {exc}"}
        return {"server_status": "fail", "server": err, "agents_status": "fail", "agents": err}
    return {"server_status": server_status, "server": server, "agents_status": agents_status,
            "agents": agents}
