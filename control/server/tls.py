"""TLS for ``uqo serve``: on by default beyond loopback, with certificates of its own.

Use cases::

    plan = plan_tls(cfg)            # ConfigError for a plain-HTTP bind beyond loopback
    plan.scheme, plan.context       # "https", an ssl.SSLContext (TLS 1.3 only)
    plan.warning                    # printed at start when plain HTTP leaves loopback
    client_tls(data_dir)            # an SSLContext trusting the server's local CA

Rules (``tls``: ``auto`` by default):

* ``tls = "on"``, or a certificate given (``--tls-cert/--tls-key``), or ``auto`` with a bind
  address beyond loopback: TLS 1.3 (``uqo.security.tls.server_context``);
* ``auto`` on loopback, or ``off``: plain HTTP; beyond loopback that needs ``--insecure``
  (``insecure = true``) and prints a warning, else the start stops (exit 2).

Replicas forward writes to the leader over mutual TLS: give each one a replica certificate
from one CA (``uqo certs init --replicas N``) as ``--tls-cert/--tls-key`` and that CA as
``--client-ca``; a follower then trusts the leader through that CA and presents its own
certificate, and the leader takes the forwarded caller's token (``uqo.security.http``).

Without a certificate the server uses its own: on every start ``<data>/tls/`` holds a local
CA and a server certificate naming localhost, the loopback addresses, the host name and the
bind address (made on the first start, reissued when a name is missing or expiry nears; keys
0600), so ``make run`` stays one command. Client certificates (agents: ``uqo certs agent``;
replicas) are verified against ``--client-ca``, by default that local CA; they are optional
(people use tokens) unless ``require_client_cert`` makes mutual TLS mandatory.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass

from uqo.control.config import ConfigError, ServerConfig

TLS_DIR = "tls"
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class TlsPlan:
    scheme: str                            # "http" or "https"
    context: ssl.SSLContext | None
    ca: str | None                         # the CA clients should trust (local PKI)
    warning: str | None = None
    forward: ssl.SSLContext | None = None  # to other replicas (a follower forwarding writes)


def local_pki(data_dir: str, host: str) -> dict:
    from uqo.security.certs import ensure_server_pki

    hosts = ["localhost", "127.0.0.1", "::1"]
    name = socket.gethostname()
    if name and name not in hosts:
        hosts.append(name)
    if host not in ("0.0.0.0", "::", "") and host not in hosts:
        hosts.append(host)
    return ensure_server_pki(os.path.join(data_dir, TLS_DIR), hosts)


def plan_tls(cfg: ServerConfig) -> TlsPlan:
    from uqo.security import SecurityError
    from uqo.security.tls import server_context

    if (cfg.tls_cert is None) != (cfg.tls_key is None):
        raise ConfigError("tls_cert and tls_key go together (--tls-cert/--tls-key)")
    pki = local_pki(cfg.data_dir, cfg.host)
    loopback = is_loopback(cfg.host)
    wants = cfg.tls == "on" or cfg.tls_cert is not None or (
        cfg.tls == "auto" and not loopback and not cfg.insecure)
    if not wants:
        if loopback:
            return TlsPlan("http", None, None)
        if not cfg.insecure:
            raise ConfigError(f"binding {cfg.host} (beyond loopback) with tls = off serves "
                              f"passwords and tokens in clear text; pass --insecure to do "
                              f"it anyway")
        return TlsPlan("http", None, None, f"WARNING: plain HTTP on {cfg.host} (--insecure): "
                                           f"passwords, TOTP codes and tokens cross the "
                                           f"network in clear text")
    cert, key = (cfg.tls_cert, cfg.tls_key) if cfg.tls_cert else (pki["cert"], pki["key"])
    client_ca = cfg.client_ca or (pki["ca"] if cfg.tls_cert is None else None)
    try:
        ctx = server_context(cert, key, ca=client_ca,
                             require_client_cert=cfg.require_client_cert)
        forward = _forwarding(cfg, pki)
    except SecurityError as exc:
        raise ConfigError(f"TLS: {exc}") from None
    return TlsPlan("https", ctx, pki["ca"] if cfg.tls_cert is None else None, None, forward)


def _forwarding(cfg: ServerConfig, pki: dict) -> ssl.SSLContext:
    """How a follower reaches the leader: trusting ``client_ca`` (the replicas' shared CA)
    and presenting this replica's own certificate (``uqo certs init --replicas N`` issues
    replica certificates for both ends), i.e. mutual TLS; with the local PKI (one node),
    trusting the local CA."""
    from uqo.security.tls import client_context

    if cfg.tls_cert is not None and cfg.client_ca is not None:
        return client_context(cfg.client_ca, cert=cfg.tls_cert, key=cfg.tls_key)
    return client_context(cfg.client_ca or pki["ca"])


def client_tls(data_dir: str | None = None, ca: str | None = None, cert: str | None = None,
               key: str | None = None) -> ssl.SSLContext:
    """A TLS 1.3 client context trusting ``ca`` (default: ``<data_dir>/tls/ca.pem``),
    presenting ``cert``/``key`` when given (agents, replicas: mutual TLS)."""
    from uqo.security.tls import client_context

    if ca is None:
        if data_dir is None:
            raise ValueError("client_tls needs ca= or data_dir=")
        ca = os.path.join(data_dir, TLS_DIR, "ca.pem")
    return client_context(ca, cert=cert, key=key)
