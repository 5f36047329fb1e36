import base64

import pytest
from uqo.security.checkpoint import Checkpoint, sign_checkpoint
from uqo.security.errors import AuditError, InvalidArgument, SignatureInvalid
from uqo.security.merkle import EMPTY_ROOT

ROOT = bytes(range(32))


def test_body_is_the_c2sp_layout(soft_signer):
    cp = sign_checkpoint(soft_signer, "uqo-audit", 42, ROOT, 1700000000)
    assert cp.body() == (b"uqo-audit\n42\n" + base64.b64encode(ROOT) +
                         b"\ntimestamp 1700000000\n")
    assert cp.key_id == soft_signer.key_id


def test_signature_binds_every_field(soft_signer):
    keys = {k.key_id: k for k in soft_signer.public_keys()}
    cp = sign_checkpoint(soft_signer, "uqo-audit", 42, ROOT, 1700000000)
    cp.verify(keys)
    again = Checkpoint.from_json(cp.to_json())
    assert again == cp
    for change in ({"size": 43}, {"root": EMPTY_ROOT}, {"timestamp": 1}, {"origin": "uqo-audit2"}):
        forged = Checkpoint(**{**cp.__dict__, **change})
        with pytest.raises(SignatureInvalid):
            forged.verify(keys)
    with pytest.raises(SignatureInvalid, match="unknown key"):
        cp.verify({})


@pytest.mark.parametrize("line", ["{", "{}", ('{"origin":"uqo-audit","size":1,"root":"AA==",'
                                  '"timestamp":1,"key_id":"k","algorithm":"ed25519",'
                                  '"signature":"AA=="}')])
def test_malformed_checkpoints(line):
    with pytest.raises(AuditError, match="malformed checkpoint"):
        Checkpoint.from_json(line)


@pytest.mark.parametrize("origin", ["uqo-session-v1", "audit", "uqo-audit with space"])
def test_origin_must_be_an_audit_origin(soft_signer, origin):
    with pytest.raises(InvalidArgument, match="^origin:"):
        sign_checkpoint(soft_signer, origin, 1, ROOT, 0)
