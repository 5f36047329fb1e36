"""Message authentication: the project's signers (software keystore Ed25519 / ECDSA, PKCS#11 on
SoftHSM2) and ML-DSA-65 sign PBFT messages; the key ring accepts exactly the right author."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from uqo.control.pbft.auth import KeyRing
from uqo.control.pbft.messages import (
    MalformedMessage,
    Prepare,
    Request,
    decode_body,
    decode_signed,
    encode_signed,
    sign,
    signing_input,
)
from uqo.control.pbft.mldsa import ML_DSA_65, MlDsa65Signer
from uqo.security.signing import ECDSA_P256, ED25519
from uqo.security.softkeys import SoftwareSigner


def _soft(tmp_path, name, algorithm=ED25519):
    return SoftwareSigner.open(tmp_path / name / "keystore.json", b"test-passphrase", algorithm)


@pytest.fixture
def signers(tmp_path):
    return [_soft(tmp_path, "r0"), _soft(tmp_path, "r1", ECDSA_P256),
            MlDsa65Signer.from_seed(b"\x07" * 32), _soft(tmp_path, "r3")]


def test_each_algorithm_signs_and_only_its_author_verifies(signers, tmp_path):
    client = _soft(tmp_path, "c1")
    ring = KeyRing([s.public_keys() for s in signers], {"c1": client.public_keys()})
    assert [s.algorithm for s in signers] == [ED25519, ECDSA_P256, ML_DSA_65, ED25519]
    for i, signer in enumerate(signers):
        signed = sign(signer, Prepare(0, 1, b"d" * 32, i))
        data = signing_input(signed.body)
        assert ring.replica(i, data, signed.sig)
        assert not ring.replica((i + 1) % 4, data, signed.sig)      # another replica's key
        assert not ring.replica(i, data + b"x", signed.sig)         # another body
        assert not ring.replica(9, data, signed.sig)                # no such replica
    req = sign(client, Request("c1", 1, b"op"))
    assert ring.client("c1", signing_input(req.body), req.sig)
    assert not ring.client("c2", signing_input(req.body), req.sig)
    assert not ring.client("c1", req.body, req.sig)                 # the domain prefix counts


def test_retired_keys_still_verify_after_rotation(tmp_path):
    signer = _soft(tmp_path, "r0")
    old = sign(signer, Prepare(0, 1, b"d" * 32, 0))
    signer.rotate()
    new = sign(signer, Prepare(0, 2, b"d" * 32, 0))
    ring = KeyRing([signer.public_keys()])
    assert ring.replica(0, signing_input(old.body), old.sig)
    assert ring.replica(0, signing_input(new.body), new.sig)


def test_mldsa_key_file_round_trip(tmp_path):
    path = tmp_path / "k.pem"
    a = MlDsa65Signer.open(path, b"passphrase-1")
    b = MlDsa65Signer.open(path, b"passphrase-1")
    assert a.key_id == b.key_id and a.describe()["encrypted_at_rest"]
    sig = a.sign(b"x")
    assert len(sig) == 3309
    assert KeyRing([b.public_keys()]).replica(0, b"x", sig)


def test_algorithm_must_match_the_key(signers):
    info = signers[0].current()
    from uqo.security.signing import PublicKeyInfo

    with pytest.raises(ValueError, match="does not match"):
        KeyRing([PublicKeyInfo(info.key_id, ECDSA_P256, info.public_key_pem)])


@pytest.mark.parametrize("data", [b"", b"\x90", b"\x92\xc4\x01", b"\xff" * 30,
                                  encode_signed(sign(MlDsa65Signer.from_seed(b"\x01" * 32),
                                                     Prepare(0, 1, b"", 0)))[:-5]])
def test_malformed_wire_bytes_raise_one_error_type(data):
    with pytest.raises(MalformedMessage):
        decode_body(decode_signed(data).body)


def test_a_pkcs11_key_signs_for_a_replica(tmp_path):
    """HSM-backed replica key: Ed25519 on a SoftHSM2 token (a subprocess: SoftHSM reads its
    configuration once per process). A 4-replica cluster with replica 0 on the token commits."""
    script = textwrap.dedent("""
        import sys
        from uqo.security.softhsm import init_token, use_token
        from uqo.security.pkcs11keys import Pkcs11Signer
        from uqo.security.signing import ED25519
        token = init_token(sys.argv[1], label="pbft", user_pin="87654321", so_pin="12345678")
        use_token(token)
        hsm = Pkcs11Signer(token.module, token.label, token.user_pin, "replica-0", ED25519)
        from tests.pbft.test_auth import run_normal_case
        from tests.pbft.simkeys import Ed25519Key
        print(run_normal_case([hsm] + [Ed25519Key(b"r%d" % i) for i in (1, 2, 3)]))
        hsm.close()
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "hsm")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-1] == "4"


def test_mldsa_replicas_commit():
    assert run_normal_case([MlDsa65Signer.from_seed(bytes([i]) * 32) for i in range(4)]) == 4


def run_normal_case(keys) -> int:
    """Four replicas signing with ``keys``; one request goes through. Returns how many
    replicas executed it."""
    from uqo.control.pbft import Config, PbftCore

    from .simkeys import Ed25519Key

    infos = [k.public_keys() if hasattr(k, "public_keys") else k.info() for k in keys]
    client = Ed25519Key(b"client")
    ring = KeyRing(infos, {"c1": client.info()})
    cores = [PbftCore(Config(n=4, replica=i), keys[i], ring) for i in range(4)]
    cores[0].propose(sign(client, Request("c1", 1, b"op")))
    executed, queue = set(), []
    for _ in range(10):
        for i, core in enumerate(cores):
            rd = core.ready()
            queue += [(j, s.data) for s in rd.sends for j in range(4)
                      if j != i and (s.to is None or s.to == j)]
            executed |= {i for e in rd.execute if e.requests}
            core.advance(rd)
        while queue:
            j, data = queue.pop(0)
            cores[j].step(data)
    return len(executed)
