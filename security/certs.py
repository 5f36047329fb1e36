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


def _load_ca(ca_dir: str):
    with open(os.path.join(ca_dir, "ca.key"), "rb") as fh:
        key = serialization.load_pem_private_key(fh.read(), None)
    with open(os.path.join(ca_dir, "ca.pem"), "rb") as fh:
        cert = x509.load_pem_x509_certificate(fh.read())
    return key, cert


def _covers(cert_path: str, hosts, now: dt.datetime) -> bool:
    """Whether the certificate names every host and is valid for 30 more days."""
    with open(cert_path, "rb") as fh:
        cert = x509.load_pem_x509_certificate(fh.read())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    have = {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    have |= set(san.get_values_for_type(x509.DNSName))
    wanted = set()
    for host in hosts:
        try:
            wanted.add(str(ipaddress.ip_address(host)))
        except ValueError:
            wanted.add(host)
    return wanted <= have and cert.not_valid_after_utc - now > dt.timedelta(days=30)


def ensure_server_pki(out_dir, hosts, days: int = 365, ca_days: int = 3650) -> dict:
    """A local CA and a server certificate for ``hosts`` in ``out_dir`` (0700; keys 0600).

    The CA is made once; the server certificate is (re)issued when missing, when it does not
    name every host, or within 30 days of expiry. Returns the paths (``ca``, ``cert``,
    ``key``). This is what ``uqo serve`` uses when no certificate is given, so TLS needs no
    setup; clients trust ``ca.pem`` (``uqo agent --ca``)."""
    out_dir = ensure_private_dir(out_dir)
    paths = {"ca": os.path.join(out_dir, "ca.pem"), "ca_key": os.path.join(out_dir, "ca.key"),
             "cert": os.path.join(out_dir, "server.pem"),
             "key": os.path.join(out_dir, "server.key")}
    if not (os.path.exists(paths["ca"]) and os.path.exists(paths["ca_key"])):
        ca_key, ca_cert = _ca(ca_days)
        key_pem, cert_pem = _pem(ca_key, ca_cert)
        atomic_write(paths["ca_key"], key_pem)
        atomic_write(paths["ca"], cert_pem)
    now = dt.datetime.now(dt.UTC)
    if not (os.path.exists(paths["cert"]) and _covers(paths["cert"], hosts, now)):
        issue_leaf(out_dir, "server", "server", hosts, days, out_dir)
    return paths


def issue_leaf(ca_dir, kind: str, name: str, hosts=(), days: int = 90,
               out_dir=None) -> tuple[str, str]:
    """Issue a ``kind`` (server, replica, agent) certificate for ``name`` from the CA in
    ``ca_dir``; written as ``<name>.pem``/``<name>.key`` (0600) in ``out_dir`` (default the
    CA's directory). Returns ``(cert path, key path)``."""
    if kind not in ("server", "replica", "agent"):
        raise InvalidArgument("kind", f"must be server, replica or agent, got {kind!r}")
    check_user_id(name, "name")
    ca_key, ca_cert = _load_ca(os.fspath(ca_dir))
    key, cert = _leaf(ca_key, ca_cert, kind, name, list(hosts), days)
    out = ensure_private_dir(out_dir or ca_dir)
    key_pem, cert_pem = _pem(key, cert)
    paths = (os.path.join(out, f"{name}.pem"), os.path.join(out, f"{name}.key"))
    atomic_write(paths[1], key_pem)
    atomic_write(paths[0], cert_pem)
    return paths
