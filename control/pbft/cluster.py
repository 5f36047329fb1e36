"""A PBFT group's description on disk, and building one replica's ``PbftLog`` from it.

Use cases::

    spec = make_cluster("pbft-dev", n=4, base_port=7401)   # PKI, keys, cluster.json
    spec = load_cluster("pbft-dev/cluster.json")
    log = build_log(spec, "replica-2", signer=open_replica_signer(spec, "replica-2"))

``make_cluster`` is for development, tests and benchmarks: a development CA issues one
certificate per replica (``uqo://replica/<name>``, server and client use) and one for a
client (``uqo://agent/bench``); each replica gets a software keystore in its own directory
(``<root>/<name>/keys``; an HSM is used instead by passing a ``Pkcs11Signer``) whose public
keys go into ``cluster.json``. Every replica verifies its peers' messages with those keys
and accepts TLS connections only from certificates of the same CA.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from uqo.security.certs import init_pki
from uqo.security.signerconfig import open_signer
from uqo.security.signing import PublicKeyInfo
from uqo.security.tls import client_context, server_context

from .auth import KeyRing
from .pbftlog import PbftLog, PbftOptions


@dataclass
class ClusterSpec:
    root: str
    replicas: dict[str, str]                       # name -> https://host:port
    keys: dict[str, list[PublicKeyInfo]]
    pki: str
    core: dict = field(default_factory=dict)
    tick_s: float = 0.01
    api: dict[str, str] = field(default_factory=dict)    # name -> its uqo serve URL

    @property
    def names(self) -> list[str]:
        return sorted(self.replicas)

    def data_dir(self, name: str) -> str:
        return os.path.join(self.root, name)

    def listen(self, name: str) -> tuple[str, int]:
        host_port = self.replicas[name].split("://", 1)[1]
        host, port = host_port.rsplit(":", 1)
        return host, int(port)

    def to_json(self) -> dict:
        return {"replicas": self.replicas, "pki": self.pki, "core": self.core,
                "tick_s": self.tick_s, "api": self.api,
                "keys": {n: [k.to_json() for k in ks] for n, ks in self.keys.items()}}


def make_cluster(root, n: int, base_port: int, host: str = "127.0.0.1", core: dict | None = None,
                 tick_s: float = 0.01, api_port: int | None = None) -> ClusterSpec:
    """``api_port``: replica i's ``uqo serve`` listens at ``api_port + i`` (what followers
    forward writes to under ``uqo serve --consensus pbft``)."""
    root = os.path.abspath(os.fspath(root))
    pki = os.path.join(root, "pki")
    init_pki(pki, hosts=[host, "localhost"], replicas=n, agents=["bench"])
    names = [f"replica-{i}" for i in range(1, n + 1)]
    replicas = {name: f"https://{host}:{base_port + i}" for i, name in enumerate(names)}
    keys = {}
    for name in names:
        signer = open_signer(os.path.join(root, name, "keys"))
        keys[name] = signer.public_keys()
        signer.close()
    api = ({name: f"http://{host}:{api_port + i}" for i, name in enumerate(names)}
           if api_port else {})
    spec = ClusterSpec(root, replicas, keys, pki, dict(core or {}), tick_s, api)
    with open(os.path.join(root, "cluster.json"), "w", encoding="utf-8") as fh:
        json.dump(spec.to_json(), fh, indent=1)
    return spec


def load_cluster(path) -> ClusterSpec:
    with open(path, encoding="utf-8") as fh:
        body = json.load(fh)
    keys = {n: [PublicKeyInfo(**k) for k in ks] for n, ks in body["keys"].items()}
    return ClusterSpec(os.path.dirname(os.path.abspath(path)), body["replicas"], keys,
                       body["pki"], body.get("core", {}), body.get("tick_s", 0.01),
                       body.get("api", {}))


def open_replica_signer(spec: ClusterSpec, name: str):
    return open_signer(os.path.join(spec.data_dir(name), "keys"))


def key_ring(spec: ClusterSpec) -> KeyRing:
    """Replica ``i`` is the i-th name in sorted order; each replica is also a client under
    its own name, with the same keys (a client request is a different message kind)."""
    return KeyRing([spec.keys[n] for n in spec.names], {n: spec.keys[n] for n in spec.names})


def tls_contexts(spec: ClusterSpec, name: str):
    cert, key = os.path.join(spec.pki, f"{name}.pem"), os.path.join(spec.pki, f"{name}.key")
    ca = os.path.join(spec.pki, "ca.pem")
    return server_context(cert, key, ca), client_context(ca, cert, key)


def build_log(spec: ClusterSpec, name: str, signer, **kwargs) -> PbftLog:
    server_ssl, client_ssl = tls_contexts(spec, name)
    opts = PbftOptions(me=name, replicas=dict(spec.replicas), data_dir=spec.data_dir(name)
                       + "/pbft", listen=spec.listen(name), tick_s=spec.tick_s,
                       core=dict(spec.core))
    return PbftLog(opts, signer, key_ring(spec), server_ssl=server_ssl, client_ssl=client_ssl,
                   **kwargs)
