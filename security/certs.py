"""A development PKI: a CA and server, replica and agent certificates (cryptography's x509).

Use cases::

    issued = init_pki("pki", hosts=["localhost", "127.0.0.1"], replicas=3, agents=["agent-1"])
    # pki/ca.pem ca.key server.pem server.key replica-1.pem ... agent-1.pem agent-1.key

Keys are EC P-256, written 0600. Each leaf carries its identity as a SAN URI
``uqo://<kind>/<name>`` (``uqo.security.tls.peer_identity`` reads it). Servers get serverAuth,
agents clientAuth, replicas both (they dial each other). Validity: CA ``ca_days``, leaves
``days``. Existing files are never overwritten unless ``force``: nothing is written then.
For development and tests; production certificates come from the site's own CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from uqo.fsutil import atomic_write, ensure_private_dir

from .errors import InvalidArgument
from .users import check_user_id


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "uqo development"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _builder(subject: str, issuer: x509.Name, key, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days)))


def _ca(days: int):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder("uqo development CA", _name("uqo development CA"), key, days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _san(kind: str, name: str, hosts) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(f"uqo://{kind}/{name}")]
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _leaf(ca_key, ca_cert, kind: str, name: str, hosts, days: int):
    key = ec.generate_private_key(ec.SECP256R1())
    usages = {"server": [ExtendedKeyUsageOID.SERVER_AUTH],
              "agent": [ExtendedKeyUsageOID.CLIENT_AUTH],
              "replica": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]}
    cert = (_builder(name, ca_cert.subject, key, days)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages[kind]), critical=False)
            .add_extension(_san(kind, name, hosts), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _pem(key, cert) -> tuple[bytes, bytes]:
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()),
            cert.public_bytes(serialization.Encoding.PEM))


def _plan(hosts, replicas: int, agents) -> list[tuple[str, str, list]]:
    if isinstance(replicas, bool) or not isinstance(replicas, int) or not 0 <= replicas <= 99:
        raise InvalidArgument("replicas", f"must be an int in [0, 99], got {replicas!r}")
    hosts = list(hosts)
    if not hosts:
        raise InvalidArgument("hosts", "at least one host name or address is needed")
    plan = [("server", "server", hosts)]
    plan += [("replica", f"replica-{i}", hosts) for i in range(1, replicas + 1)]
    plan += [("agent", check_user_id(a, "agents"), []) for a in agents]
    return plan


def init_pki(out_dir, hosts=("localhost", "127.0.0.1"), replicas: int = 3,
             agents=("agent-1",), days: int = 90, ca_days: int = 365,
             force: bool = False) -> list[str]:
    """Issue the CA and every certificate into ``out_dir``; returns the files written."""
    plan = _plan(hosts, replicas, agents)
    for name, value in (("days", days), ("ca_days", ca_days)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
            raise InvalidArgument(name, f"must be an int in [1, 3650], got {value!r}")
    names = ["ca"] + [name for _, name, _ in plan]
    files = [os.path.join(os.fspath(out_dir), f"{n}.{ext}") for n in names
             for ext in ("pem", "key")]
    existing = [f for f in files if os.path.exists(f)]
    if existing and not force:
        raise InvalidArgument("out", f"{existing[0]} exists (use --force to replace)")
    ensure_private_dir(out_dir)
    ca_key, ca_cert = _ca(ca_days)
    issued = {"ca": (ca_key, ca_cert)}
    for kind, name, leaf_hosts in plan:
        issued[name] = _leaf(ca_key, ca_cert, kind, name, leaf_hosts, days)
    for name, (key, cert) in issued.items():
        key_pem, cert_pem = _pem(key, cert)
        atomic_write(os.path.join(os.fspath(out_dir), f"{name}.key"), key_pem)
        atomic_write(os.path.join(os.fspath(out_dir), f"{name}.pem"), cert_pem)
    return files
